"""Invariants about what a scan's replies say: monotonic, final once terminal, honest."""

from __future__ import annotations

import math

from harness.checker._common import describe, name, ordered, result_of, violation
from harness.checker.model import Context, Violation
from harness.history import Operation
from reference_impl import TERMINAL


def _ranked(ops: list[Operation]) -> list[tuple[Operation, int]]:
    """The operations that show progress, each with how much: a terminal result ranks above
    every strategy done, `scanning` ranks by strategies done. One call a scan (not one an
    operation: a million-operation history has a million)."""
    ranked = []
    for op in ops:
        r = op.reply
        if r.status in TERMINAL:
            ranked.append((op, (r.total or 0) + 1))
        elif r.status == "scanning" and r.done is not None:
            ranked.append((op, r.done))
    return ranked


def monotonic_reads(ctx: Context) -> list[Violation]:
    """A read that starts after another ended never shows less progress (a changed terminal
    result is `terminal-is-final`'s to judge)."""
    found: list[Violation] = []
    for facts in ctx.scans.values():
        ranked = _ranked(facts.ops)
        if _never_less(ranked):
            continue
        by_end = sorted(ranked, key=lambda item: (item[0].end, item[0].index))
        witnesses: list[Operation] = []
        shown: dict[int, Operation] = {}
        best: tuple[Operation, int] | None = None
        i = 0
        for op, rank in sorted(ranked, key=lambda item: (item[0].start, item[0].index)):
            # Only reads that ended before this one started are ordered before it.
            while i < len(by_end) and by_end[i][0].end + ctx.timing.slack < op.start:
                prior, prior_rank = by_end[i]
                if best is None or prior_rank > best[1]:
                    best = (prior, prior_rank)
                i += 1
            if best is None or rank >= best[1]:
                continue
            if ctx.stale_tolerated(facts, op) or ctx.exempt_as_lost(facts, op):
                continue
            witnesses.append(op)
            shown[op.index] = best[0]
        if witnesses:
            w = ordered(witnesses)
            message = f"{name(facts)}: {describe(w[0])}, after {describe(shown[w[0].index])}"
            found.append(violation("monotonic-reads", facts.scan_id, w, message))
    return found


def _never_less(ranked: list[tuple[Operation, int]]) -> bool:
    """Do the reads, in index order, start in order and never show less? Then none shows less
    than one that ended before it began (the common case, told without sorting)."""
    start, most = -math.inf, -1
    for op, rank in ranked:
        if op.start < start or rank < most:
            return False
        start, most = op.start, rank
    return True


def terminal_is_final(ctx: Context) -> list[Violation]:
    """Once any reply showed a terminal result, every later reply of that scan shows the same
    result (status, strategies done, reason) until it expires. No fault exempts a changed
    terminal result; `scanning` is tolerated only as the Redis-fault judgement allows."""
    found: list[Violation] = []
    for facts in ctx.scans.values():
        first = facts.first_terminal()
        horizon = facts.horizon(ctx.timing)
        if first is None or horizon is None:
            continue
        witnesses = []
        # `after(op, first.end)` and `before(op, horizon)`, for every operation of the scan.
        since, until = first.end + ctx.timing.slack, horizon - ctx.timing.slack
        lost = ctx.lost_by_fault(facts)
        for op in facts.ops:
            if op is first or not (op.start > since and op.end < until):
                continue
            if lost is not None and ctx.exempt_as_lost(facts, op):
                continue
            if op.reply.status in TERMINAL:
                if result_of(op) != result_of(first):
                    witnesses.append(op)
            elif op.reply.status == "scanning" and not ctx.stale_tolerated(facts, op):
                witnesses.append(op)
        if witnesses:
            w = ordered(witnesses)
            message = f"{name(facts)}: {describe(first)}, then {describe(w[0])}"
            found.append(violation("terminal-is-final", facts.scan_id, w, message))
    return found


def _dishonest(op: Operation) -> str | None:
    r = op.reply
    done, total = r.done, r.total
    if done is not None and total is not None:
        if not 0 <= done <= total:
            return "strategies done outside 0..total"
        if r.status == "complete" and done != total:
            return "complete with strategies left undone"
        if r.status == "partial" and done >= total:
            return "partial with every strategy done"
        if r.status == "scanning" and done >= total:
            return "scanning with every strategy done"
    if r.status == "partial" and not r.reason:
        return "partial without a reason"
    if r.status == "failed" and not r.reason:
        return "failed without a reason"
    return None


def honest_status(ctx: Context) -> list[Violation]:
    """`complete` means every strategy done; `partial` fewer, with a reason; `failed` carries a
    reason; `scanning` never claims all done."""
    by_scan: dict[str | None, list[tuple[Operation, str]]] = {}
    for op in ctx.judged_ops:
        why = _dishonest(op)
        if why is not None:
            by_scan.setdefault(op.scan_id, []).append((op, why))
    found: list[Violation] = []
    for scan_id, items in by_scan.items():
        w = ordered([op for op, _ in items])
        why = next(reason for op, reason in items if op is w[0])
        facts = ctx.scans.get(scan_id or "")
        subject = name(facts) if facts is not None else "a reply"
        found.append(violation("honest-status", scan_id, w, f"{subject}: {describe(w[0])}: {why}"))
    return found
