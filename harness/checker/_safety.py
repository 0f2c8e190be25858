"""Invariants about who sees what and how the service fails: isolation, errors, timeouts."""

from __future__ import annotations

from harness.checker._common import describe, name, ordered, violation
from harness.checker.model import READS, SHOWN, Context, Violation
from harness.history import Operation


def isolated(ctx: Context) -> list[Violation]:
    found: list[Violation] = []
    for facts in ctx.scans.values():
        witnesses = [
            op
            for op in facts.ops
            if op.op in READS
            and op.reply.status in SHOWN
            and (
                (facts.owner is not None and op.user != facts.owner)
                or (op.reply.owner is not None and op.reply.owner != op.user)
            )
        ]
        if witnesses:
            w = ordered(witnesses)
            owner = facts.owner or w[0].reply.owner
            message = f"user {w[0].user} read {name(facts)} of user {owner}: {describe(w[0])}"
            found.append(violation("isolated", facts.scan_id, w, message))
    return found


#: the statuses `no_server_errors` may count against the service
_SERVER_ERRORS = frozenset({"error", "unavailable", "lost"})


def no_server_errors(ctx: Context) -> list[Violation]:
    def bad(op: Operation) -> bool:
        status = op.reply.status
        if status == "error":
            return True
        if status == "unavailable":
            return not ctx.in_redis_fault(op)
        if status == "lost":
            return not ctx.in_any_fault(op)
        return False

    by_scan: dict[str | None, list[Operation]] = {}
    for op in ctx.judged_ops:
        # Every other status is no server error: told without a call for most operations.
        if op.reply.status in _SERVER_ERRORS and bad(op):
            by_scan.setdefault(op.scan_id, []).append(op)
    found: list[Violation] = []
    for scan_id, ops in by_scan.items():
        w = ordered(ops)
        first = w[0]
        if first.reply.status == "error":
            message = f"{describe(first)} (HTTP 500)"
        else:
            code = first.reply.http or "connection dropped"
            message = f"{describe(first)} ({code}) outside any declared fault window"
        found.append(violation("no-server-errors", scan_id, w, message))
    return found


def saved_before_timeout(ctx: Context) -> list[Violation]:
    t = ctx.timing
    found: list[Violation] = []
    for facts in ctx.scans.values():
        op = facts.start_op
        if op is None:
            continue
        began = facts.began()
        if began is None:
            continue
        killed = (
            op.reply.status in ("error", "lost")
            and t.outlived_worker_timeout(began, op.end)
            and not ctx.restarted(op.worker, op.end)
        )
        late = (
            op.reply.terminal
            and op.reply.finished_at is not None
            and op.reply.finished_at - began > t.worker_timeout + t.slack
        )
        if killed or late:
            message = (
                f"{name(facts)}: the start request on worker {op.worker} ran "
                f"{op.end - op.start:.1f} s, past the {t.worker_timeout:.0f} s worker timeout, "
                f"and ended {op.reply.status} before a partial result was saved"
            )
            found.append(violation("saved-before-timeout", facts.scan_id, [op], message))
    return found
