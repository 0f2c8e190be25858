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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from harness.checker.model import Context, LostByFault, Violation
from harness.history import History, Operation

__all__ = ["Judged", "Plan", "judge_in_parts", "part_history", "plan_parts", "settled"]


@dataclass(frozen=True)
class Judged:
    """What the invariants found in one part (or in the whole history)."""

    #: each invariant's violations, in the order it found them
    found: dict[str, list[Violation]]
    #: results lost by fault, each with the index of its scan's first operation
    lost: list[tuple[int, LostByFault]]


@dataclass(frozen=True)
class Plan:
    """Which part judges which scans and which users' operations that name no scan."""

    of_scan: dict[str, int]
    of_user: dict[str, int]

    def part(self, op: Operation) -> int:
        scan_id = op.scan_id
        return self.of_user[op.user] if scan_id is None else self.of_scan[scan_id]


def plan_parts(history: History, parts: int) -> Plan:
    """Owners (a scan without one stands alone) spread over `parts`, the busiest first, each
    to the part with the fewest operations so far. One pass over the operations, made before
    the parts fork: it is the part of the work no part can share."""
    # Each scan's owner as `Context` decides it: the user of its start call, else the one
    # owner that every reply naming one names (`None`: several, or none).
    started: dict[str, str] = {}
    named: dict[str, str | None] = {}
    scan_ops: dict[str, int] = {}
    user_ops: dict[str, int] = {}
    for op in history.ops:
        scan_id = op.scan_id
        if scan_id is None:
            user_ops[op.user] = user_ops.get(op.user, 0) + 1
            continue
        scan_ops[scan_id] = scan_ops.get(scan_id, 0) + 1
        if op.op == "start":
            started[scan_id] = op.user
        owner = op.reply.owner
        if owner is not None and named.setdefault(scan_id, owner) != owner:
            named[scan_id] = None
    key_of_scan: dict[str, str] = {}
    load: dict[str, int] = {"user " + user: count for user, count in user_ops.items()}
    for scan_id, count in scan_ops.items():
        owner = started[scan_id] if scan_id in started else named.get(scan_id)
        key = "scan " + scan_id if owner is None else "user " + owner
        key_of_scan[scan_id] = key
        load[key] = load.get(key, 0) + count
    sizes = [0] * parts
    part_of: dict[str, int] = {}
    for key, count in sorted(load.items(), key=lambda item: (-item[1], item[0])):
        smallest = min(range(parts), key=lambda p: (sizes[p], p))
        part_of[key] = smallest
        sizes[smallest] += count
    return Plan(
        {scan_id: part_of[key] for scan_id, key in key_of_scan.items()},
        {user: part_of["user " + user] for user in user_ops},
    )


def part_history(history: History, plan: Plan, number: int) -> History:
    """Part `number` of `history` (see the module's docstring)."""
    of_scan, of_user = plan.of_scan, plan.of_user
    ops = [
        op
        for op in history.ops
        if (
            of_scan[op.scan_id] == number
            if op.scan_id is not None
            else number == 0 or of_user[op.user] == number
        )
    ]
    return History(history.info, ops, history.faults)


#: what a forked part reads: set by the parent before the pool forks, never pickled
_SHARED: tuple[History, Plan, Callable[[Context], Judged]] | None = None


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
    if multiprocess.get_start_method() != "fork":
        # A spawned worker would have to be sent the whole history: one process judges it.
        return [judge(Context(history))]
    _SHARED = (history, plan_parts(history, jobs), judge)
    # Frozen (see `settled`), the history is not walked by a forked part's collections either,
    # which would touch, and so copy, every page of it the part shares with this process.
    try:
        with settled(), interruptible_pool(jobs) as pool:
            judged: list[Judged] = pool.map(_judge_part, range(jobs), chunksize=1)
    finally:
        _SHARED = None
    return judged


@contextmanager
def settled() -> Iterator[None]:
    """While the block runs, the objects made so far (a history, its index) are left out of
    the cyclic collector's walks: judging makes many lists, and every full collection would
    walk a million operations again (a third of the time of a million-operation check)."""
    if gc.get_freeze_count():
        yield  # an enclosing block froze them
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
