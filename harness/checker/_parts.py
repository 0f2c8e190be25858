"""A history judged in parts, one process each, with the verdict judging it whole would give.

Every invariant judges a scan by that scan's operations alone, except three questions that span
a user's scans (`latest` must name the user's newest; a `latest` naming no scan is attributed to
one of the user's scans) and two that group the operations naming no scan together
(`no-server-errors`, `honest-status`). So a part is a set of scan owners: each owner's scans with
every operation on them, and the owner's operations that name no scan; part 0 also holds every
operation that names no scan and alone judges those one by one. The fault windows and the
timing are every part's.

Parts are forked from the process that read the history (a forked worker shares its memory
until it writes to it), so nothing but the verdict of each part crosses a process boundary.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import dataclass

from harness.checker.model import Context, LostByFault, Violation
from harness.history import History, Operation

__all__ = ["Judged", "judge_in_parts", "plan_parts"]


@dataclass(frozen=True)
class Judged:
    """What the invariants found in one part (or in the whole history)."""

    #: each invariant's violations, in the order it found them
    found: dict[str, list[Violation]]
    #: results lost by fault, each with the index of its scan's first operation
    lost: list[tuple[int, LostByFault]]


def _owners(ops: list[Operation]) -> dict[str, str | None]:
    """Each scan's owner, as `Context` decides it: the user of its start call, else the one
    owner every reply that names one names."""
    owner: dict[str, str | None] = {}
    named: dict[str, set[str]] = {}
    for op in ops:
        scan_id = op.scan_id
        if scan_id is None:
            continue
        if op.op == "start":
            owner[scan_id] = op.user
        else:
            owner.setdefault(scan_id, None)
        if op.reply.owner is not None:
            named.setdefault(scan_id, set()).add(op.reply.owner)
    for scan_id, who in owner.items():
        if who is None and len(names := named.get(scan_id, ())) == 1:
            owner[scan_id] = next(iter(names))
    return owner


def plan_parts(history: History, parts: int) -> list[int]:
    """The part of each operation, by index: owners (a scan without one stands alone) spread
    over `parts`, the busiest first, each to the part with the fewest operations so far."""
    owners = _owners(history.ops)
    keys: list[str] = []
    load: dict[str, int] = {}
    for op in history.ops:
        scan_id = op.scan_id
        if scan_id is None:
            key = "user " + op.user
        else:
            who = owners[scan_id]
            key = "scan " + scan_id if who is None else "user " + who
        keys.append(key)
        load[key] = load.get(key, 0) + 1
    sizes = [0] * parts
    part_of: dict[str, int] = {}
    for key, count in sorted(load.items(), key=lambda item: (-item[1], item[0])):
        smallest = min(range(parts), key=lambda p: (sizes[p], p))
        part_of[key] = smallest
        sizes[smallest] += count
    return [part_of[key] for key in keys]


def part_history(history: History, plan: list[int], number: int) -> History:
    """Part `number` of `history` (see the module's docstring)."""
    ops = [
        op
        for op, part in zip(history.ops, plan, strict=True)
        if part == number or (number == 0 and op.scan_id is None)
    ]
    return History(history.info, ops, history.faults)


#: what a forked part reads: set by the parent before the pool forks, never pickled
_SHARED: tuple[History, list[int], Callable[[Context], Judged]] | None = None


def _judge_part(number: int) -> Judged:
    assert _SHARED is not None, "a part is judged only in a process forked by judge_in_parts"
    history, plan, judge = _SHARED
    part = part_history(history, plan, number)
    return judge(Context(part, judges_unscoped=number == 0))


def judge_in_parts(history: History, jobs: int, judge: Callable[[Context], Judged]) -> list[Judged]:
    """`judge` applied to each of `jobs` parts of `history`, each in a process of its own."""
    import multiprocess

    from harness.pool import interruptible_pool

    global _SHARED
    if "fork" not in multiprocess.get_all_start_methods():
        # Without fork each worker would be sent the whole history: one process judges it.
        return [judge(Context(history))]
    _SHARED = (history, plan_parts(history, jobs), judge)
    # Frozen, the objects already made are never walked by the collector, in this process or
    # a forked one: a worker's collections would otherwise touch, and so copy, every page of
    # the history it shares with this process.
    gc.freeze()
    try:
        with interruptible_pool(jobs) as pool:
            judged: list[Judged] = pool.map(_judge_part, range(jobs), chunksize=1)
    finally:
        _SHARED = None
        gc.unfreeze()
    return judged
