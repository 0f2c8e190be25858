"""Reading a history: records streamed from a file, validated against the one model of
`harness.history_format`, turned straight into the slotted `Operation` and `FaultEvent`.

A million-operation history must load at about the speed of parsing its JSON and in a few
hundred bytes an operation: lines are read one at a time (never the whole file), each record is
converted by msgspec once, the strings every operation repeats (user, worker, scan id, owner,
source) are shared, and the bookkeeping a reader needs only for odd files (operations out of
index order, duplicates, sparse numbering) is paid only when a file is odd.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import IO

import msgspec

from harness.history import FaultEvent, History, Operation, RunInfo, close_window
from harness.history_format import (
    FaultBegunRecord,
    FaultRecord,
    HistoryFormatError,
    LineProblem,
    OpRecord,
    Record,
    RunRecord,
    decode_line,
)

__all__ = ["history_of", "read_history"]


def read_history(path: Path) -> History:
    """Read and validate the history file `path` (see `History.read`)."""
    try:
        handle = path.open("rb")
    except OSError as error:
        raise HistoryFormatError(f"{path}: cannot read ({error.strerror})") from None
    cut: list[bool] = []
    with handle:
        history = _without_gc(lambda: history_of(_records(handle, str(path), cut), str(path)))
    if cut and history.info.interrupted is None:
        history.info = replace(history.info, interrupted="the last line was cut off")
    if history.info.interrupted is not None:
        # The header was written before the run had an end: it lasted as far as its records.
        last = max(
            max((o.end for o in history.ops), default=0.0),
            max((f.end for f in history.faults), default=0.0),
        )
        history.info = replace(history.info, duration=max(history.info.duration, last))
    return history


def _without_gc(build: object) -> History:
    """Run `build` with the cyclic collector paused: it would walk every operation read so far,
    again and again, while the history grows (none of them is garbage, and none is in a cycle)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        history: History = build()  # type: ignore[operator]
        return history
    finally:
        if enabled:
            gc.enable()


def _records(handle: IO[bytes], source: str, cut: list[bool]) -> Iterator[tuple[int, Record]]:
    """Each record of the file with its line number. A last line without its newline that does
    not decode was cut off mid-write: it is dropped, and `cut` says so."""
    for number, line in enumerate(handle, start=1):
        if line[:1] != b"{" and not line.strip():
            continue
        try:
            record = decode_line(line)
        except LineProblem as problem:
            if not line.endswith(b"\n"):
                cut.append(True)
                return
            raise HistoryFormatError(f"{source}:{number}: {problem}") from None
        yield number, record


def history_of(records: Iterable[tuple[int, Record]], source: str) -> History:
    """A history from numbered records (the first must be the `run` header)."""
    numbered = iter(records)
    first = next(numbered, None)
    if first is None:
        raise HistoryFormatError(f"{source}: empty history (no 'run' record)")
    number, header = first
    if not isinstance(header, RunRecord):
        raise HistoryFormatError(f"{source}:{number}: first record must be 'run'")
    history = History(RunInfo.from_record(header))
    reader = _Reader(history, source)
    for number, record in numbered:
        kind = type(record)
        if kind is OpRecord:
            reader.op(number, record)  # type: ignore[arg-type]
        elif kind is FaultRecord:
            reader.fault(number, record)  # type: ignore[arg-type]
        elif kind is FaultBegunRecord:
            begun: FaultBegunRecord = record  # type: ignore[assignment]
            reader.open_faults[begun.fault, begun.start, begun.target] = begun
        else:
            raise HistoryFormatError(f"{source}:{number}: a second 'run' record")
    reader.finish()
    return history


class _Reader:
    """Collects a history's operations and fault windows, numbered 0.. in index order."""

    def __init__(self, history: History, source: str) -> None:
        self.history = history
        self.source = source
        #: fault windows a journal saw open, and not yet closed by their `fault` record
        self.open_faults: dict[tuple[str, float, str | None], FaultBegunRecord] = {}
        self._strings: dict[str, str] = {}
        # Indices seen, kept only once one arrives out of order (before then each is new).
        self._op_seen: set[int] | None = None
        self._op_top = -1
        self._fault_seen: set[int] = set()

    def _shared(self, text: str | None) -> str | None:
        if text is None:
            return None
        return self._strings.setdefault(text, text)

    def op(self, number: int, record: OpRecord) -> None:
        index = record.index
        if index > self._op_top:
            self._op_top = index
            if self._op_seen is not None:
                self._op_seen.add(index)
        else:
            if self._op_seen is None:
                self._op_seen = {o.index for o in self.history.ops}
            if index in self._op_seen:
                raise HistoryFormatError(
                    f"{self.source}:{number}: field index: operation {index} appears twice"
                )
            self._op_seen.add(index)
        shared = self._shared
        reply = record.reply
        set_field = msgspec.structs.force_setattr
        # Shared before conversion, which copies references: one string per distinct value.
        set_field(record, "user", shared(record.user))
        set_field(record, "worker", shared(record.worker))
        if record.scan_id is not None:
            set_field(record, "scan_id", shared(record.scan_id))
        if reply.scan_id is not None:
            set_field(reply, "scan_id", shared(reply.scan_id))
        if reply.owner is not None:
            set_field(reply, "owner", shared(reply.owner))
        if reply.source is not None:
            set_field(reply, "source", shared(reply.source))
        self.history.ops.append(msgspec.convert(record, Operation, from_attributes=True))

    def fault(self, number: int, record: FaultRecord) -> None:
        if record.index in self._fault_seen:
            raise HistoryFormatError(
                f"{self.source}:{number}: field index: fault {record.index} appears twice"
            )
        self._fault_seen.add(record.index)
        close_window(self.open_faults, record.fault, record.start, record.target)
        self.history.faults.append(FaultEvent.from_record(record))

    def finish(self) -> None:
        history = self.history
        if self.open_faults:
            history.close_open_faults(list(self.open_faults.values()))
        if self._op_seen is not None:
            history.ops.sort(key=lambda o: o.index)
        history.faults.sort(key=lambda f: f.index)
        # The checker looks operations up by index: renumber what another client wrote sparsely
        # (indices are distinct and sorted by now, so the last one tells).
        ops = history.ops
        if ops and ops[-1].index != len(ops) - 1:
            history.ops = [replace(o, index=i) for i, o in enumerate(ops)]
        history.faults = [replace(f, index=i) for i, f in enumerate(history.faults)]
