"""The invariants of DESIGN.md, each a function from an indexed history to its violations.

Each invariant reports at most one `Violation` per scan: the first witness, how many operations
witnessed it, and their indices as evidence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from harness.checker.model import READS, Context, ScanFacts, Violation
from harness.history import Operation

MAX_EVIDENCE = 20


@dataclass(frozen=True)
class Invariant:
    name: str
    description: str
    check: Callable[[Context], list[Violation]]


def describe(op: Operation) -> str:
    """One operation, as a reviewer reads it."""
    r = op.reply
    what: str = r.status
    if r.done is not None and r.total is not None:
        what += f" {r.done}/{r.total}"
    if r.reason:
        what += f" ({r.reason})"
    return f"{op.op} #{op.index} by {op.user} on worker {op.worker} at {op.end:.1f} s -> {what}"


def _ordered(witnesses: list[Operation]) -> list[Operation]:
    return sorted(witnesses, key=lambda o: (o.end, o.index))


def _violation(
    invariant: str,
    scan_id: str | None,
    witnesses: list[Operation],
    message: str,
    completion: float | None = None,
) -> Violation:
    """`witnesses` must already be `_ordered`; the first is the one the message speaks of."""
    first = witnesses[0]
    return Violation(
        invariant=invariant,
        message=message,
        at=first.end,
        scan_id=scan_id,
        evidence=tuple(o.index for o in witnesses[:MAX_EVIDENCE]),
        count=len(witnesses),
        after_completion=(first.end - completion) if completion is not None else None,
    )


def _same_result(a: Operation, b: Operation) -> bool:
    return (a.reply.status, a.reply.done) == (b.reply.status, b.reply.done)


def _name(facts: ScanFacts) -> str:
    return f"scan {facts.scan_id} ({facts.label})" if facts.label else f"scan {facts.scan_id}"


def reachable_until_expiry(ctx: Context) -> list[Violation]:
    t = ctx.timing
    found: list[Violation] = []
    for facts in ctx.scans.values():
        first = facts.first_terminal()
        done = facts.completion()
        if first is None or done is None or ctx.lost_by_fault(facts) is not None:
            continue
        horizon = done + t.result_ttl - t.slack
        witnesses = []
        for op in facts.owner_reads():
            if not (op.start > done + t.slack and op.end < horizon):
                continue
            if op.reply.terminal and _same_result(op, first):
                continue
            if op.reply.status == "lost" and ctx.in_any_fault(op):
                # No answer at all: the connection died with the worker an injected fault
                # killed. Not a read of the result (`no-server-errors` judges dropped ones).
                continue
            if op.reply.status != "not_found" and ctx.in_redis_fault(op):
                continue  # unavailable, or the last progress Redis held, while it recovers
            witnesses.append(op)
        if witnesses:
            w = _ordered(witnesses)
            message = (
                f"{_name(facts)} was {first.reply.status} at {done:.1f} s, then {describe(w[0])}, "
                f"{w[0].end - done:.1f} s after completion "
                f"(result TTL until {done + t.result_ttl:.1f} s)"
            )
            found.append(_violation("reachable-until-expiry", facts.scan_id, w, message, done))
    return found


def expires_after_ttl(ctx: Context) -> list[Violation]:
    t = ctx.timing
    found: list[Violation] = []
    for facts in ctx.scans.values():
        done = facts.completion()
        if done is None:
            continue
        gone_by = done + t.result_ttl + t.memory_ttl + t.cleanup_interval + t.slack
        witnesses = [
            op
            for op in facts.ops
            if op.op in READS
            and op.start > gone_by
            and op.reply.status not in ("not_found", "unavailable", "bad_request", "lost")
        ]
        if witnesses:
            w = _ordered(witnesses)
            message = (
                f"{_name(facts)} completed at {done:.1f} s and should be gone by "
                f"{gone_by:.1f} s, but {describe(w[0])}"
            )
            found.append(_violation("expires-after-ttl", facts.scan_id, w, message, done))
    return found


def _rank(op: Operation) -> int | None:
    r = op.reply
    if r.terminal:
        return (r.total or 0) + 1
    if r.status == "scanning" and r.done is not None:
        return r.done
    return None


def monotonic_reads(ctx: Context) -> list[Violation]:
    found: list[Violation] = []
    for facts in ctx.scans.values():
        ranked = [(op, rank) for op in facts.ops if (rank := _rank(op)) is not None]
        lost = ctx.lost_by_fault(facts)
        by_end = sorted(ranked, key=lambda item: (item[0].end, item[0].index))
        witnesses: list[Operation] = []
        shown: dict[int, Operation] = {}
        best: tuple[Operation, int] | None = None
        terminal: Operation | None = None
        i = 0
        for op, rank in sorted(ranked, key=lambda item: (item[0].start, item[0].index)):
            # Only reads that ended before this one started are ordered before it.
            while i < len(by_end) and by_end[i][0].end < op.start:
                prior, prior_rank = by_end[i]
                if best is None or prior_rank > best[1]:
                    best = (prior, prior_rank)
                if prior.reply.terminal and terminal is None:
                    terminal = prior
                i += 1
            if best is None or ctx.in_redis_fault(op):
                continue
            if lost is not None and op.start >= lost.completed:
                # The faults destroyed the result: the older progress Redis kept is what is
                # left to read. That loss is listed, not a violation.
                continue
            if rank < best[1]:
                witnesses.append(op)
                shown[op.index] = best[0]
            elif terminal is not None and op.reply.terminal and not _same_result(op, terminal):
                witnesses.append(op)
                shown[op.index] = terminal
        if witnesses:
            w = _ordered(witnesses)
            message = f"{_name(facts)}: {describe(w[0])}, after {describe(shown[w[0].index])}"
            found.append(_violation("monotonic-reads", facts.scan_id, w, message))
    return found


def terminates(ctx: Context) -> list[Violation]:
    t = ctx.timing
    found: list[Violation] = []
    for facts in ctx.scans.values():
        started = facts.began()
        if started is None:
            continue
        deadline = started + t.scan_budget + t.stall_timeout + t.heartbeat_interval
        deadline += t.cleanup_interval + t.slack
        deadline += ctx.redis_fault_seconds(started, deadline)
        witnesses = [
            op
            for op in facts.ops
            if op.op in READS and op.start > deadline and op.reply.status == "scanning"
        ]
        if witnesses:
            w = _ordered(witnesses)
            message = (
                f"{_name(facts)} started at {started:.1f} s should be terminal by "
                f"{deadline:.1f} s, but {describe(w[0])}"
            )
            found.append(_violation("terminates", facts.scan_id, w, message))
    return found


def isolated(ctx: Context) -> list[Violation]:
    hidden = ("not_found", "unavailable", "bad_request", "error", "lost")
    found: list[Violation] = []
    for facts in ctx.scans.values():
        witnesses = [
            op
            for op in facts.ops
            if op.op in READS
            and op.reply.status not in hidden
            and (
                (facts.owner is not None and op.user != facts.owner)
                or (op.reply.owner is not None and op.reply.owner != op.user)
            )
        ]
        if witnesses:
            w = _ordered(witnesses)
            owner = facts.owner or w[0].reply.owner
            message = f"user {w[0].user} read {_name(facts)} of user {owner}: {describe(w[0])}"
            found.append(_violation("isolated", facts.scan_id, w, message))
    return found


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
    for op in ctx.history.ops:
        if bad(op):
            by_scan.setdefault(op.scan_id, []).append(op)
    found: list[Violation] = []
    for scan_id, ops in by_scan.items():
        w = _ordered(ops)
        first = w[0]
        if first.reply.status == "error":
            message = f"{describe(first)} (HTTP 500)"
        else:
            code = first.reply.http or "connection dropped"
            message = f"{describe(first)} ({code}) outside any declared fault window"
        found.append(_violation("no-server-errors", scan_id, w, message))
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
            and op.end - began >= t.worker_timeout - t.slack
            and not ctx.restarted(op.worker, op.end)
        )
        late = (
            op.reply.terminal
            and op.reply.finished_at is not None
            and op.reply.finished_at - began > t.worker_timeout + t.slack
        )
        if killed or late:
            message = (
                f"{_name(facts)}: the start request on worker {op.worker} ran "
                f"{op.end - op.start:.1f} s, past the {t.worker_timeout:.0f} s worker timeout, "
                f"and ended {op.reply.status} before a partial result was saved"
            )
            found.append(_violation("saved-before-timeout", facts.scan_id, [op], message))
    return found


INVARIANTS: dict[str, Invariant] = {
    inv.name: inv
    for inv in (
        Invariant(
            "reachable-until-expiry",
            "a terminal result is served by every worker until completion + result TTL",
            reachable_until_expiry,
        ),
        Invariant(
            "expires-after-ttl",
            "well after completion + result TTL (+ memory TTL) reads answer not_found",
            expires_after_ttl,
        ),
        Invariant(
            "monotonic-reads",
            "a later read of a scan never shows less progress, whichever worker served it",
            monotonic_reads,
        ),
        Invariant(
            "terminates",
            "every scan is terminal within budget + stall timeout, also when its worker dies",
            terminates,
        ),
        Invariant("isolated", "no user ever reads another user's scan", isolated),
        Invariant(
            "no-server-errors",
            "no 5xx but 503 inside a declared fault window; no dropped connection outside one",
            no_server_errors,
        ),
        Invariant(
            "saved-before-timeout",
            "a scan that outruns its budget is saved partial before the worker timeout",
            saved_before_timeout,
        ),
    )
}
