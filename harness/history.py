"""The history of a run: every client operation and every fault window, in scenario time.

Every mode (simulation, live, exploration, load) produces a `History`; the one `Checker` judges it.
On disk it is JSON Lines: a `run` header, then `op` and `fault` records in order of start time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any, ClassVar, Generic, Self, TypeVar

import msgspec

from harness.history_format import (
    FAULT_KINDS,
    FaultBegunRecord,
    FaultKind,
    FaultRecord,
    HistoryFormatError,
    OpKind,
    OpRecord,
    Record,
    RunRecord,
    Timing,
    encode_record,
)
from reference_impl import Reply

__all__ = [
    "FAULT_KINDS",
    "UNFINISHED",
    "FaultEvent",
    "FaultKind",
    "History",
    "HistoryFormatError",
    "OpKind",
    "Operation",
    "RunInfo",
    "TimeMap",
    "Timing",
    "close_window",
    "fault_begun",
    "retime_reply",
]

#: maps a reading of one clock to another's seconds (e.g. wall time -> scenario seconds)
TimeMap = Callable[[float], float]


def _t(value: float) -> float:
    """Times are kept to the microsecond so that histories compare byte for byte."""
    return round(value, 6)


def fault_begun(fault: FaultKind, start: float, target: str | None = None) -> FaultBegunRecord:
    """The journal line of a fault window that opened at `start`: its time rounded as the
    window's `fault` record rounds it, so that the record closing it matches it exactly."""
    return FaultBegunRecord(fault=fault, start=_t(start), target=target)


def close_window(
    begun: dict[tuple[str, float, str | None], FaultBegunRecord],
    fault: str,
    start: float,
    target: str | None,
) -> None:
    """Drop from `begun` the opening that a window record (kind, start, target) closes: the
    one with the same target, else one opened with none (a failover learns what it did, its
    target, only at its end)."""
    if begun.pop((fault, start, target), None) is None:
        begun.pop((fault, start, None), None)


def retime_reply(reply: Reply, clock: TimeMap) -> Reply:
    """`reply` with the scan times it carries (wall time, as the service speaks) put through
    `clock`: the history speaks scenario time."""
    if reply.started_at is None and reply.finished_at is None:
        return reply
    return replace(
        reply,
        started_at=None if reply.started_at is None else clock(reply.started_at),
        finished_at=None if reply.finished_at is None else clock(reply.finished_at),
    )


_T = TypeVar("_T")


def _converted(value: object, kind: type[_T]) -> _T:
    """`value` (an in-memory dataclass or its on-disk record) as `kind`, field by field by name,
    nested ones included: the one conversion between the two forms, so a field added to both
    needs no copying code."""
    return msgspec.convert(value, kind, from_attributes=True)


def _builtins(record: Record) -> dict[str, Any]:
    data: dict[str, Any] = msgspec.to_builtins(record)  # the `type` tag included
    return data


_R = TypeVar("_R", OpRecord, FaultRecord)


def _validated(data: dict[str, Any], kind: type[_R], what: str) -> _R:
    try:
        return msgspec.convert(data, kind)
    except msgspec.ValidationError as error:
        raise HistoryFormatError(f"{what}: {error}") from None


@dataclass(frozen=True)
class RunInfo:
    scenario: str
    mode: str = "sim"
    seed: int = 0
    bugs: tuple[str, ...] = ()
    workers: int = 3
    duration: float = 0.0
    timing: Timing = field(default_factory=Timing)
    command: str = ""
    #: why the run stopped before its end (e.g. a signal), when it did
    interrupted: str | None = None

    def to_record(self) -> RunRecord:
        # The duration as given: a whole number stays one on disk (conversion would make a float).
        return msgspec.structs.replace(_converted(self, RunRecord), duration=self.duration)

    @classmethod
    def from_record(cls, record: RunRecord) -> RunInfo:
        return _converted(record, cls)


class _Stored(Generic[_R]):
    """An operation or a fault window: a frozen dataclass in memory, its `_record` on disk (times
    to the microsecond) and that record's builtins in JSON."""

    # Slotted (as the dataclasses below are): a long history holds millions of them.
    __slots__ = ()

    start: float
    end: float
    _record: ClassVar[type[Any]]
    #: what a validation error calls it
    _what: ClassVar[str]

    def to_record(self) -> _R:
        record: _R = _converted(self, self._record)
        # Rounded from the times as given, so a whole number stays one on disk.
        return msgspec.structs.replace(record, start=_t(self.start), end=_t(self.end))

    @classmethod
    def from_record(cls, record: _R) -> Self:
        return _converted(record, cls)

    def to_json(self) -> dict[str, Any]:
        return _builtins(self.to_record())

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        """From a decoded JSON object, validated like a history line."""
        return cls.from_record(_validated(data, cls._record, cls._what))


@dataclass(frozen=True, slots=True)
class Operation(_Stored[OpRecord]):
    """One client call: who asked which worker what, when, and what came back."""

    index: int
    op: OpKind
    user: str
    worker: str
    start: float
    end: float
    reply: Reply
    #: the scan asked about (status), started (start) or found (latest)
    scan_id: str | None = None
    #: the scenario's name for the scan, when it has one
    label: str | None = None

    _record = OpRecord
    _what = "operation"

    def retimed(self, clock: TimeMap) -> Operation:
        """The same call with every time it holds put through `clock`."""
        return replace(
            self,
            start=clock(self.start),
            end=clock(self.end),
            reply=retime_reply(self.reply, clock),
        )


@dataclass(frozen=True, slots=True)
class FaultEvent(_Stored[FaultRecord]):
    """A fault window: what was broken from when to when (instant faults have end == start)."""

    index: int
    fault: FaultKind
    start: float
    end: float
    #: the worker or column the fault was aimed at
    target: str | None = None
    #: a failover's: when the replica was promoted
    promoted: float | None = None

    _record = FaultRecord
    _what = "fault"

    def to_record(self) -> FaultRecord:
        record = _Stored.to_record(self)
        if self.promoted is None:
            return record
        return msgspec.structs.replace(record, promoted=_t(self.promoted))

    def retimed(self, clock: TimeMap) -> FaultEvent:
        """The same window with its times put through `clock`."""
        promoted = None if self.promoted is None else clock(self.promoted)
        return replace(self, start=clock(self.start), end=clock(self.end), promoted=promoted)


#: what the header of a history still being written says, until the run rewrites it at its end
UNFINISHED = "the run stopped before its end (its history was being written as it ran)"


@dataclass
class History:
    info: RunInfo
    ops: list[Operation] = field(default_factory=list)
    faults: list[FaultEvent] = field(default_factory=list)
    _journal: IO[bytes] | None = field(default=None, init=False, repr=False, compare=False)

    def journal(self, path: Path) -> None:
        """Write every record to `path` as it is recorded, so that a run killed by any signal,
        SIGKILL included, leaves a history valid up to its last complete line.

        The header says the run is `UNFINISHED` until `write` replaces the file with the
        whole history at the end. Records go out in the order they were recorded (an operation
        when its reply came); reading sorts them by index.
        """
        self.close_journal()
        self._journal = path.open("wb")
        header = replace(self.info, interrupted=self.info.interrupted or UNFINISHED)
        self._append(header.to_record())
        for operation in self.ops:
            self._append(operation.to_record())
        for event in self.faults:
            self._append(event.to_record())

    def _append(self, record: Record) -> None:
        if self._journal is not None:
            # Unbuffered to the OS: what the kernel holds survives the process being killed.
            self._journal.write(encode_record(record) + b"\n")
            self._journal.flush()

    def close_journal(self) -> None:
        if self._journal is not None:
            self._journal.close()
            self._journal = None

    def record(
        self,
        op: OpKind,
        *,
        user: str,
        worker: str,
        start: float,
        end: float,
        reply: Reply,
        scan_id: str | None = None,
        label: str | None = None,
    ) -> Operation:
        operation = Operation(
            len(self.ops), op, user, worker, start, end, reply, scan_id or reply.scan_id, label
        )
        return self._keep(operation)

    def _keep(self, operation: Operation) -> Operation:
        """Where a recorded operation goes: into `ops` (a recorder may write it out instead)."""
        self.ops.append(operation)
        self._append(operation.to_record())
        return operation

    def fault(
        self,
        fault: FaultKind,
        start: float,
        end: float,
        target: str | None = None,
        *,
        promoted: float | None = None,
    ) -> FaultEvent:
        event = FaultEvent(len(self.faults), fault, start, end, target, promoted)
        self.faults.append(event)
        self._append(event.to_record())
        return event

    def fault_begins(self, fault: FaultKind, start: float, target: str | None = None) -> None:
        """Journal that a fault window opened at `start`; `fault(...)` with the same kind,
        start and target closes it. Only the journal holds it: were the run killed before the
        window closed, its history still shows the fault, open to the run's last record."""
        self._append(fault_begun(fault, start, target))

    def records(self) -> Iterator[Record]:
        """The run header, then operations and faults in order of start time, each made into
        its record only as it is yielded (a long history is never held twice)."""
        yield self.info.to_record()
        # (kind, index) is unique, so the sort never compares the objects themselves.
        order: list[tuple[float, int, int, Operation | FaultEvent]] = []
        order.extend((o.start, 0, o.index, o) for o in self.ops)
        order.extend((f.start, 1, f.index, f) for f in self.faults)
        order.sort(key=lambda item: item[:3])
        for _, _, _, item in order:
            yield item.to_record()

    def lines(self, batch: int = 4096) -> Iterator[bytes]:
        """The history file's bytes, `batch` lines at a time."""
        lines: list[bytes] = []
        for record in self.records():
            lines.append(encode_record(record))
            if len(lines) >= batch:
                yield b"\n".join(lines) + b"\n"
                lines.clear()
        if lines:
            yield b"\n".join(lines) + b"\n"

    def dumps(self) -> str:
        return b"".join(self.lines()).decode()

    def write(self, path: Path) -> None:
        """Write the whole history to `path` at once: a reader sees the old file or the new one.
        Streamed: the file's text is never held whole."""
        self.close_journal()
        partial = path.with_name(path.name + ".partial")
        with partial.open("wb") as out:
            for chunk in self.lines():
                out.write(chunk)
        partial.replace(path)

    @classmethod
    def from_records(cls, records: Iterable[Record], source: str = "<history>") -> History:
        """A history from decoded records (the first must be the `run` header)."""
        from harness.history_read import history_of

        return history_of(enumerate(records, start=1), source)

    def close_open_faults(self, begun: list[FaultBegunRecord]) -> None:
        """Faults whose window never closed (the run was killed meanwhile): each lasted, as far
        as anyone can tell, to the run's last record; the history says it was interrupted."""
        last = max([o.end for o in self.ops] + [f.end for f in self.faults] + [0.0])
        number = max((f.index for f in self.faults), default=-1) + 1
        for i, record in enumerate(sorted(begun, key=lambda r: r.start)):
            end = max(last, record.start)
            event = FaultEvent(number + i, record.fault, record.start, end, record.target)
            self.faults.append(event)
        kinds = ", ".join(sorted({r.fault for r in begun}))
        if self.info.interrupted is None:
            self.info = replace(self.info, interrupted=f"a fault was still in progress ({kinds})")

    @classmethod
    def read(cls, path: Path) -> History:
        """Read and validate a history file; `HistoryFormatError` names the line and field.

        A run stopped by a signal may end in a partial line: it is dropped, and the history
        says it was interrupted. Streamed: the file is never held whole
        (`harness.history_read`).
        """
        from harness.history_read import read_history

        return read_history(path)
