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
from collections.abc import Callable, Iterable
from dataclasses import replace
from itertools import chain
from pathlib import Path
from typing import IO

import msgspec

from harness.history import FaultEvent, History, Operation, RunInfo, close_window
from harness.history_format import (
    RECORD_DECODER,
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
    reader = _Reader(str(path))
    with handle:
        history = _without_gc(lambda: reader.read(handle))
    if reader.cut and history.info.interrupted is None:
        history.info = replace(history.info, interrupted="the last line was cut off")
    if history.info.interrupted is not None:
        # The header was written before the run had an end: it lasted as far as its records.
        ends = chain((o.end for o in history.ops), (f.end for f in history.faults))
        last = max(ends, default=0.0)
        history.info = replace(history.info, duration=max(history.info.duration, last))
    return history


def _without_gc(build: Callable[[], History]) -> History:
    """Run `build` with the cyclic collector paused: it would walk every operation read so far,
    again and again, while the history grows (none of them is garbage, and none is in a cycle)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return build()
    finally:
        if enabled:
            gc.enable()


def history_of(records: Iterable[tuple[int, Record]], source: str) -> History:
    """A history from numbered records (the first must be the `run` header)."""
    reader = _Reader(source)
    for number, record in records:
        reader.add(number, record)
    return reader.finish()


_BRACE = ord("{")
_INF = float("inf")
_NEG_INF = float("-inf")


class _Reader:
    """Collects a history's operations and fault windows, numbered 0.. in index order."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.history: History | None = None
        #: fault windows a journal saw open, and not yet closed by their `fault` record
        self.open_faults: dict[tuple[str, float, str | None], FaultBegunRecord] = {}
        #: whether the last line was cut off mid-write (and dropped)
        self.cut = False
        self._strings: dict[str, str] = {}
        # Indices seen, kept only once one arrives out of order (before then each is new).
        self._op_seen: set[int] | None = None
        self._op_top = -1
        self._fault_seen: set[int] = set()

    def read(self, handle: IO[bytes]) -> History:
        """Every line of `handle`. The loop is the hot path of reading a million operations: an
        operation line in order, with sound times, is decoded and kept right here; anything
        else (a header, a fault, a problem, an index out of order) goes the general way."""
        decode = RECORD_DECODER.decode
        convert = msgspec.convert
        force = msgspec.structs.force_setattr
        share = self._strings.setdefault
        ops: list[Operation] | None = None
        for number, line in enumerate(handle, start=1):
            if line[0] != _BRACE and not line.strip():
                continue
            try:
                record = decode(line)
            except msgspec.MsgspecError:
                record = None
            if (
                ops is not None
                and type(record) is OpRecord
                and record.index > self._op_top
                and self._op_seen is None
                # decode_line's test of the times, in one comparison (NaN fails it too)
                and _NEG_INF < record.start <= record.end < _INF
            ):
                self._op_top = record.index
                # Shared before conversion, which copies references: one string per value.
                text = record.user
                force(record, "user", share(text, text))
                text = record.worker
                force(record, "worker", share(text, text))
                reply = record.reply
                if (named := record.scan_id) is not None:
                    force(record, "scan_id", share(named, named))
                if (named := reply.scan_id) is not None:
                    force(reply, "scan_id", share(named, named))
                if (named := reply.owner) is not None:
                    force(reply, "owner", share(named, named))
                if (named := reply.source) is not None:
                    force(reply, "source", share(named, named))
                ops.append(convert(record, Operation, from_attributes=True))
                continue
            try:
                record = decode_line(line)
            except LineProblem as problem:
                if not line.endswith(b"\n"):
                    self.cut = True  # the last line, cut off mid-write
                    break
                raise HistoryFormatError(f"{self.source}:{number}: {problem}") from None
            self.add(number, record)
            if self.history is not None:
                ops = self.history.ops
        return self.finish()

    def add(self, number: int, record: Record) -> None:
        """One validated record, whatever its kind."""
        history = self.history
        if isinstance(record, RunRecord):
            if history is not None:
                raise HistoryFormatError(f"{self.source}:{number}: a second 'run' record")
            self.history = History(RunInfo.from_record(record))
        elif history is None:
            raise HistoryFormatError(f"{self.source}:{number}: first record must be 'run'")
        elif isinstance(record, OpRecord):
            self._op(history, number, record)
        elif isinstance(record, FaultRecord):
            self._fault(history, number, record)
        else:
            self.open_faults[record.fault, record.start, record.target] = record

    def _op(self, history: History, number: int, record: OpRecord) -> None:
        index = record.index
        if index > self._op_top:
            self._op_top = index
            if self._op_seen is not None:
                self._op_seen.add(index)
        else:
            if self._op_seen is None:
                self._op_seen = {o.index for o in history.ops}
            if index in self._op_seen:
                raise HistoryFormatError(
                    f"{self.source}:{number}: field index: operation {index} appears twice"
                )
            self._op_seen.add(index)
        history.ops.append(msgspec.convert(record, Operation, from_attributes=True))

    def _fault(self, history: History, number: int, record: FaultRecord) -> None:
        if record.index in self._fault_seen:
            raise HistoryFormatError(
                f"{self.source}:{number}: field index: fault {record.index} appears twice"
            )
        self._fault_seen.add(record.index)
        close_window(self.open_faults, record.fault, record.start, record.target)
        history.faults.append(FaultEvent.from_record(record))

    def finish(self) -> History:
        history = self.history
        if history is None:
            raise HistoryFormatError(f"{self.source}: empty history (no 'run' record)")
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
        return history
