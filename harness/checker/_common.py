"""Shared pieces of the invariants: how an operation reads, how a violation is built."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from harness.checker.model import Context, ScanFacts, Violation
from harness.history import Operation
from harness.replies import reply_words

MAX_EVIDENCE = 20


@dataclass(frozen=True)
class Invariant:
    """A named property of every history; `check` returns its violations (at most one a scan)."""

    name: str
    description: str
    check: Callable[[Context], list[Violation]]


def describe(op: Operation) -> str:
    """One operation, as a reviewer reads it."""
    what = reply_words(op.reply)
    return f"{op.op} #{op.index} by {op.user} on worker {op.worker} at {op.end:.1f} s -> {what}"


def ordered(witnesses: list[Operation]) -> list[Operation]:
    return sorted(witnesses, key=lambda o: (o.end, o.index))


def violation(
    invariant: str,
    scan_id: str | None,
    witnesses: list[Operation],
    message: str,
    completion: float | None = None,
) -> Violation:
    """`witnesses` must already be `ordered`; the first is the one the message speaks of."""
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


def result_of(op: Operation) -> tuple[str, int | None, str | None]:
    """What a terminal reply says: status, strategies done, reason."""
    return (op.reply.status, op.reply.done, op.reply.reason)


def name(facts: ScanFacts) -> str:
    return f"scan {facts.scan_id} ({facts.label})" if facts.label else f"scan {facts.scan_id}"


def after(op: Operation, moment: float, ctx: Context) -> bool:
    """Did `op` certainly start after `moment` (beyond the clock slack)?"""
    return op.start > moment + ctx.timing.slack


def before(op: Operation, moment: float, ctx: Context) -> bool:
    """Did `op` certainly end before `moment` (beyond the clock slack)?"""
    return op.end < moment - ctx.timing.slack
