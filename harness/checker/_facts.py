"""What the history says about one scan, derived once from its operations."""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.history import Operation, Timing
from reference_impl import TERMINAL

__all__ = ["READS", "SHOWN", "ScanFacts"]

READS = ("status", "latest")
#: reply statuses that show a scan exists (its progress or its result)
SHOWN = frozenset({"scanning", "complete", "partial", "failed"})


@dataclass
class ScanFacts:
    """Everything the history says about one scan."""

    scan_id: str
    owner: str | None = None
    label: str | None = None
    start_op: Operation | None = None
    #: every operation that answered about this scan (the start call included)
    ops: list[Operation] = field(default_factory=list)
    _memo: _Derived | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def worker(self) -> str | None:
        return self.start_op.worker if self.start_op else None

    @property
    def sent(self) -> float | None:
        """When the client sent the start request."""
        return self.start_op.start if self.start_op else None

    def _derived(self) -> _Derived:
        # Derived once, in one pass: the invariants ask these of every scan, some of them once
        # per read. A scan's facts are complete once `Context` has indexed the history.
        if self._memo is None:
            self._memo = _Derived.of(self)
        return self._memo

    def service_began(self) -> float | None:
        """When the service began the scan, as its replies say; None when no reply said."""
        return self._derived().service_began

    def began(self) -> float | None:
        """When the service began the scan, else when the client sent the start request.

        A start request queued behind another one on a busy worker was sent earlier than the
        scan began; the scan's budget and the worker timeout run from when it began.
        """
        began = self.service_began()
        return began if began is not None else self.sent

    def first_terminal(self) -> Operation | None:
        return self._derived().first_terminal

    def completion(self) -> float | None:
        """When the scan became terminal: the earliest `finished_at` any terminal reply carried."""
        derived = self._derived()
        if derived.finished is not None:
            return derived.finished
        first = derived.first_terminal
        return first.end if first else None

    def shown(self) -> Operation | None:
        """The first reply that showed the scan to its owner (its start, or a read)."""
        return self._derived().shown

    def horizon(self, timing: Timing) -> float | None:
        """Until when the scan must stay reachable: completion + result TTL.

        A scan never seen terminal was written with the result TTL when it began, so it is
        reachable at least until then (and must read `failed` if its worker died).
        """
        anchor = self.completion()
        if anchor is None:
            anchor = self.began()
        return None if anchor is None else anchor + timing.result_ttl

    def owner_reads(self) -> list[Operation]:
        """The owner's reads of the scan (a list shared by every caller: not to be changed)."""
        return self._derived().owner_reads

    def owned(self, op: Operation) -> bool:
        return self.owner is None or op.user == self.owner


@dataclass(frozen=True, slots=True)
class _Derived:
    """What `ScanFacts` derives from a scan's operations (see its methods)."""

    service_began: float | None
    first_terminal: Operation | None
    #: the earliest `finished_at` a terminal reply to the owner carried
    finished: float | None
    shown: Operation | None
    owner_reads: list[Operation]

    @classmethod
    def of(cls, facts: ScanFacts) -> _Derived:
        began: float | None = None
        finished: float | None = None
        first: Operation | None = None
        shown: Operation | None = None
        reads: list[Operation] = []
        owner = facts.owner
        for o in facts.ops:
            reply = o.reply
            at = reply.started_at
            if at is not None and (began is None or at < began):
                began = at
            if owner is not None and o.user != owner:
                continue
            if o.op in READS:
                reads.append(o)
            if reply.status not in SHOWN:
                continue
            # The earliest by (end, index), compared without making tuples.
            end = o.end
            if shown is None or end < shown.end or (end == shown.end and o.index < shown.index):
                shown = o
            if reply.status in TERMINAL:
                if first is None or end < first.end or (end == first.end and o.index < first.index):
                    first = o
                at = reply.finished_at
                if at is not None and (finished is None or at < finished):
                    finished = at
        return cls(began, first, finished, shown, reads)
