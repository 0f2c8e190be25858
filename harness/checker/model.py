"""What the checker derives from a history before judging it: scans, fault windows, violations."""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from harness.checker._facts import READS, SHOWN, ScanFacts
from harness.checker._windows import Windows
from harness.history import FaultEvent, History, Operation, Timing
from reference_impl.entry import JUDGED

__all__ = ["READS", "SHOWN", "Context", "LostByFault", "ScanFacts", "Violation"]

#: the fault windows in which Redis itself was broken, as a client sees it
REDIS_FAULTS = frozenset({"redis-outage", "redis-failover"})


@dataclass(frozen=True)
class Violation:
    """An invariant broken, with the operations that witness it (first witness first)."""

    invariant: str
    message: str
    #: scenario time of the first witness
    at: float
    scan_id: str | None = None
    evidence: tuple[int, ...] = ()
    #: how many operations witnessed it
    count: int = 1
    #: seconds from the scan's completion to the first witness, where that means something
    after_completion: float | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "invariant": self.invariant,
            "message": self.message,
            "at": round(self.at, 6),
            "evidence": list(self.evidence),
            "count": self.count,
        }
        if self.scan_id is not None:
            data["scan_id"] = self.scan_id
        if self.after_completion is not None:
            data["after_completion"] = round(self.after_completion, 6)
        return data


@dataclass(frozen=True)
class LostByFault:
    """A result whose every copy the injected faults destroyed: listed, not a violation.

    Only reads that start after `destroyed` (the fault that destroyed the last copy) are exempt.
    """

    scan_id: str
    completed: float
    why: str
    destroyed: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "scan_id": self.scan_id,
            "completed": round(self.completed, 6),
            "destroyed": round(self.destroyed, 6),
            "why": self.why,
        }


_T = TypeVar("_T")


class Context:
    """A history indexed for the invariants: scans by id, users' scans, fault windows."""

    def having(self, fact: Callable[[ScanFacts], _T | None]) -> Iterator[tuple[ScanFacts, _T]]:
        """Each scan for which `fact` is known, with it: `ctx.having(ScanFacts.began)` gives
        every scan the service began, and when."""
        for facts in self.scans.values():
            value = fact(facts)
            if value is not None:
                yield facts, value

    def __init__(self, history: History, *, judges_unscoped: bool = True) -> None:
        """`judges_unscoped` False: this is one part of a history split by scan owner (see
        `harness.checker._parts`), and operations that name no scan are another part's to
        judge one by one."""
        self.history = history
        self.timing: Timing = history.info.timing
        #: the operations the invariants judge one by one (not scan by scan)
        self.judged_ops: list[Operation] = (
            history.ops if judges_unscoped else [o for o in history.ops if o.scan_id is not None]
        )
        self.scans: dict[str, ScanFacts] = {}
        #: `latest` replies that named no scan (not_found, unavailable, ...), by user
        self.anonymous_latest: dict[str, list[Operation]] = {}
        for op in history.ops:
            if op.scan_id is None:
                if op.op == "latest":
                    self.anonymous_latest.setdefault(op.user, []).append(op)
                continue
            facts = self.scans.get(op.scan_id)
            if facts is None:
                facts = self.scans[op.scan_id] = ScanFacts(op.scan_id)
            facts.ops.append(op)
            if op.op == "start":
                facts.start_op = op
                facts.owner = op.user
                facts.label = op.label
            elif facts.label is None and op.label is not None:
                facts.label = op.label
        for facts in self.scans.values():
            if facts.owner is None:
                # No start call in the history (a user's own client): the service names the owner.
                owners = {o.reply.owner for o in facts.ops if o.reply.owner is not None}
                if len(owners) == 1:
                    facts.owner = owners.pop()
        self.by_owner: dict[str, list[ScanFacts]] = {}
        for facts in self.scans.values():
            if facts.owner is not None:
                self.by_owner.setdefault(facts.owner, []).append(facts)
        # A failover is a Redis fault to a client as an outage is, from the primary's death
        # until the promoted primary has a replica again; a lagging replica is not (clients
        # see nothing until a failover makes its lag count).
        self.redis_faults: list[FaultEvent] = [f for f in history.faults if f.fault in REDIS_FAULTS]
        self.restarts: list[FaultEvent] = [f for f in history.faults if f.fault == "worker-restart"]
        self._excused_until = _excused_until(self.redis_faults, self.timing)
        self._lost: dict[str, LostByFault | None] = {}
        self._index_windows()

    def _index_windows(self) -> None:
        """The fault windows by time, each in the span each question asks about."""
        timing, redis = self.timing, self.redis_faults
        starts = [f.start for f in redis]
        #: Redis faults with their excuse (chain and grace)
        self._excused = Windows(redis, starts, [self.excused_until(f) for f in redis])
        #: Redis faults as they were (Redis down)
        self._down = Windows(redis, starts, [f.end for f in redis])
        #: Redis faults with their own grace
        self._graced = Windows(redis, starts, [f.end + timing.grace_after(f.fault) for f in redis])
        others = [f for f in self.history.faults if f.fault not in REDIS_FAULTS]
        #: every other fault, widened by the recovery grace and the clock slack
        self._others = Windows(
            others,
            [f.start - timing.slack for f in others],
            [f.end + timing.fault_grace for f in others],
        )
        self.failovers = [f for f in redis if f.fault == "redis-failover"]
        lags = [f for f in self.history.faults if f.fault == "replica-lag"]
        self._lags = Windows(lags, [f.start for f in lags], [f.end for f in lags])

    # -- fault windows --------------------------------------------------------------------

    def excused_until(self, fault: FaultEvent) -> float:
        """Until when the effects of Redis fault `fault` are excused (see `_excused_until`)."""
        return self._excused_until[fault.index]

    def in_redis_fault(self, op: Operation) -> bool:
        """Does `op` overlap a Redis fault window or its recovery grace?"""
        return self._excused.meets(op.start, op.end)

    def in_any_fault(self, op: Operation) -> bool:
        return self.in_redis_fault(op) or self._others.meets(op.start, op.end)

    def restarted(self, worker: str, at: float) -> bool:
        """Was `worker` restarted by a declared fault at `at` (within the clock slack)?"""
        slack = self.timing.slack
        return any(
            r.target == worker and r.start - slack <= at <= r.end + slack for r in self.restarts
        )

    def redis_fault_seconds(self, start: float, end: float) -> float:
        timing = self.timing
        # Only the faults that reach into [start, end]: every other term is 0.0, which adds
        # nothing to the sum, in this order or any.
        return sum(
            max(0.0, min(end, f.end + timing.grace_after(f.fault)) - max(start, f.start))
            for f in self._graced.meeting(start, end)
        )

    def stale_tolerated(self, facts: ScanFacts, op: Operation) -> bool:
        """The judgement for reads in a Redis fault and its grace: `scanning` with the progress
        Redis last held is tolerated, unless Redis already held the terminal result before that
        fault began (then a `scanning` reply is a stale copy served, not what Redis held)."""
        if op.reply.status != "scanning":
            return False
        done = facts.completion()
        return any(
            done is None or done >= self._holds_since(fault) - self.timing.slack
            for fault in self._excused.meeting(op.start, op.end)
        )

    def _lacked(self, facts: ScanFacts, failover: FaultEvent) -> bool:
        """Did the replica promoted in `failover` lack what clients were last told of the scan?
        Its record names keys holding the scan id, or the replica lagged since before the scan
        began or completed (then it holds the scan older, or not at all)."""
        if failover.target is not None and facts.scan_id in failover.target:
            return True
        since = self._holds_since(failover)
        if since >= failover.start:
            return False  # no lag: the replica held everything the primary had
        last = facts.completion()
        if last is None:
            last = facts.began()
        return last is not None and since - self.timing.slack <= last

    def _holds_since(self, fault: FaultEvent) -> float:
        """From when Redis may hold what it holds after `fault`: its start, or for a failover
        the start of a replica lag open when the primary died (the promoted replica holds
        only what it had received by then)."""
        if fault.fault != "redis-failover":
            return fault.start
        lags = [f.start for f in self._lags.meeting(fault.start, fault.start)]
        return min([fault.start, *lags])

    # -- lost by fault --------------------------------------------------------------------

    def _lost_in_failover(self, facts: ScanFacts) -> LostByFault | None:
        """The replica promoted in a failover lacked the scan (`_lacked`), the scan's worker,
        the one that would write it again, was restarted after the scan was sent and before
        the end of the failover's grace, and every worker that may have kept a copy to write
        back was restarted in turn before that end: those that may have written a result no
        replica acknowledged between that restart and the primary's death (`_kept_since`: a
        worker that judged the stalled scan failed holds that result until a replica has it),
        and those whose copy of a result they read may have lived until the promotion
        (`_copies_at`)."""
        worker = facts.worker
        sent = facts.sent
        if sent is None:
            return None
        timing = self.timing
        for failover in self.failovers:
            if not self._lacked(facts, failover):
                continue
            until = self.excused_until(failover)
            for restart in self.restarts:
                if restart.target != worker or not (sent - timing.slack <= restart.start <= until):
                    continue
                # Each reply that kept a copy: the restart of its worker that lost it.
                kept = {op.index: op for op in _copies_at(facts, restart, failover, timing)}
                kept.update(
                    (op.index, op) for op in self._kept_since(facts, restart.start, failover.start)
                )
                lost = [self._restart_of(op.worker, op.end, until) for op in kept.values()]
                if any(r is None for r in lost):
                    continue
                done = facts.completion()
                readers = "".join(
                    f", as did {r.target}, which had served it, at {r.start:.1f} s"
                    for r in {r.index: r for r in lost if r is not None}.values()
                    if r is not restart
                )
                return LostByFault(
                    facts.scan_id,
                    done if done is not None else failover.start,
                    f"the replica promoted in the failover of {failover.start:.1f}-"
                    f"{failover.end:.1f} s lacked it, and worker {worker}, which held it, "
                    f"restarted at {restart.start:.1f} s before writing it again{readers}",
                    destroyed=max(
                        restart.start,
                        failover.start,
                        *(r.start for r in lost if r is not None),
                    ),
                )
        return None

    def _kept_since(self, facts: ScanFacts, restart: float, death: float) -> list[Operation]:
        """The replies of the scan between its worker's `restart` and the primary's `death`
        whose worker may hold a result no replica has acknowledged, which it keeps until one
        does: a reply that went unanswered, and one that showed a result its worker may have
        written itself. With the scan's worker gone, a worker writes a result when it judges
        the scan stalled: a reply whose `source` says so (`JUDGED`), or, from a service that
        does not say, the first to show it `failed` after the restart or after a Redis fault
        began (with those overlapping it) and any that showed it `failed` in a Redis fault or
        its grace, when each worker judges on its own. It writes one back after a failover:
        the first reply to show a result after one began. Any other reply read what another
        wrote; its copy lives a memory TTL (`_copies_at`). Replies that showed progress, or
        nothing, kept nothing."""
        replies = [
            op
            for op in facts.ops
            if op.op != "start"
            and restart <= op.end
            and op.start <= death
            and op.reply.status not in _NOTHING_KEPT
        ]
        faults = [f for f in self.redis_faults if restart < f.start < death]
        # A reply that says it judged the result is the judge; one that says it found it in
        # memory or in Redis is not; one that does not say may be either.
        unsaid = [op for op in replies if op.reply.status == "failed" and op.reply.source is None]
        judged = _firsts(unsaid, [restart, *(f.start for f in faults)])
        written_back = _firsts(
            [op for op in replies if op.reply.terminal],
            [f.start for f in faults if f.fault == "redis-failover"],
        )
        return [
            op
            for op in replies
            if not op.reply.terminal
            or op.reply.source == JUDGED
            or (op.reply.source is None and op.reply.status == "failed" and self.in_redis_fault(op))
            or any(since <= op.end and op.start <= first for since, first in judged)
            or any(since <= op.end and op.start <= first for since, first in written_back)
        ]

    def _restart_of(self, worker: str, after: float, until: float) -> FaultEvent | None:
        """The first restart of `worker` from `after` until `until`, if any."""
        return next(
            (r for r in self.restarts if r.target == worker and after <= r.start <= until),
            None,
        )

    def lost_by_fault(self, facts: ScanFacts) -> LostByFault | None:
        if facts.scan_id not in self._lost:
            self._lost[facts.scan_id] = self._find_lost(facts)
        return self._lost[facts.scan_id]

    def exempt_as_lost(self, facts: ScanFacts, op: Operation) -> bool:
        """Is `op` a read after the fault that destroyed every copy of the scan's result?"""
        lost = self.lost_by_fault(facts)
        return lost is not None and op.start >= lost.destroyed

    def _find_lost(self, facts: ScanFacts) -> LostByFault | None:
        """Completed while Redis was down, and its worker killed before the write was repaired;
        or lost in a failover (`_lost_in_failover`)."""
        done = facts.completion()
        if facts.worker is not None:
            lost = self._lost_in_failover(facts)
            if lost is not None:
                return lost
        if done is None or facts.worker is None:
            return None
        for outage in self._down.meeting(done, done):
            grace = self.timing.grace_after(outage.fault)
            for restart in self.restarts:
                if restart.target == facts.worker and done <= restart.start <= outage.end + grace:
                    return LostByFault(
                        facts.scan_id,
                        done,
                        f"completed at {done:.1f} s while Redis was down "
                        f"({outage.start:.1f}-{outage.end:.1f} s); worker {facts.worker} "
                        f"restarted at {restart.start:.1f} s before the write was repaired",
                        destroyed=restart.start,
                    )
        return None


def _excused_until(faults: list[FaultEvent], timing: Timing) -> dict[int, float]:
    """Fault index -> until when its effects are excused: the end of the chain of Redis faults
    it belongs to (each starting before the one before it was excused), plus that chain's
    grace, a failover's if the chain holds one. An outage right after a failover delays the
    workers' noticing the new primary, so the failover's doubt runs from the outage's end."""
    until: dict[int, float] = {}
    chain: list[FaultEvent] = []
    chain_end = -math.inf

    def close() -> None:
        if chain:
            grace = max(timing.grace_after(f.fault) for f in chain)
            last = max(f.end for f in chain)
            until.update((f.index, last + grace) for f in chain)

    for fault in sorted(faults, key=lambda f: f.start):
        if chain and fault.start > chain_end:
            close()
            chain = []
        chain.append(fault)
        # What `close` excuses the chain to: a fault that begins before then joins it (a break
        # while the workers still doubt a failover makes them doubt it again from its end).
        chain_end = max(f.end for f in chain) + max(timing.grace_after(f.fault) for f in chain)
    close()
    return until


def _copies_at(
    facts: ScanFacts, restart: FaultEvent, failover: FaultEvent, timing: Timing
) -> list[Operation]:
    """The replies through which a worker kept the scan's result in memory until the promotion
    in `failover`, when it could write it back: every read that showed the result, by id or
    through `latest`, except those the scan's own worker gave before its `restart`. A copy
    lives a memory TTL from when its worker read it from Redis: a reply served from memory
    (its `source`) dates its copy to that worker's last reply before it that was not, and a
    reply that does not say where it came from dates it to itself (the latest it can be). A
    failover with no promotion time is judged as if the promotion came at the death."""
    promoted = failover.start if failover.promoted is None else failover.promoted
    kept: list[Operation] = []
    fetched: dict[str, float] = {}
    for op in sorted(facts.ops, key=lambda o: o.end):
        if op.op == "start" or not op.reply.terminal or op.end > promoted:
            continue
        if op.worker == restart.target and op.end < restart.start:
            continue
        if op.reply.source != "memory" or op.worker not in fetched:
            fetched[op.worker] = op.end
        if fetched[op.worker] + timing.memory_ttl + timing.slack >= promoted:
            kept.append(op)
    return kept


def _firsts(replies: list[Operation], since: list[float]) -> list[tuple[float, float]]:
    """For each time in `since`, that time and the end of the first of `replies` to end at or
    after it (if one does)."""
    ends = sorted(op.end for op in replies)
    found: list[tuple[float, float]] = []
    for at in since:
        i = bisect_left(ends, at)
        if i < len(ends):
            found.append((at, ends[i]))
    return found


#: replies that leave no result behind in the worker that gave them
_NOTHING_KEPT = frozenset({"scanning", "unavailable", "not_found"})
