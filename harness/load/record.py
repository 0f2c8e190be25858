"""What a load run records: each Locust process writes its requests as JSON Lines in wall time.

Every Locust process (the single local one, or each worker of a distributed run) appends to its
own `ops-<host>-<pid>.jsonl` in one folder: a `process` header (what the service said about its
timing), one `op` record per request with wall-clock times, and an `end` record once its users
have stopped. After the run, `merge` turns the folder into one `History` in scenario seconds, so
the one `Checker` judges a load run exactly as it judges a scenario.

This module is imported inside the Locust process too: it must not import gevent or locust, and
it must not import anything that does.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

import msgspec

from harness.history import (
    FAULT_KINDS,
    FaultEvent,
    FaultKind,
    History,
    Operation,
    RunInfo,
    TimeMap,
    Timing,
    close_window,
    fault_begun,
)
from harness.history_format import FaultBegunRecord, RunRecord, decode_record, encode_record
from harness.live.slack import with_measured_slack
from harness.live.timing import default_slack

PREFIX = "ops-"
FAULTS_FILE = "faults.jsonl"
#: the run's header, written before Locust starts: what a killed run's records need to be judged
RUN_FILE = "run.json"
#: where a load run keeps its processes' records, inside its output folder
RAW_FOLDER = "raw"

#: scenario seconds of slack for real clocks, as every live run uses
load_slack = default_slack


class LoadRecordError(ValueError):
    """A raw load record that cannot be read; the message names the file and line."""


@dataclass(frozen=True)
class ServiceInfo:
    """What the service under load declares about itself (`GET /health`), for the checker."""

    #: wall seconds per scenario second (0.05: a 300 s TTL lasts 15 s of wall time)
    scale: float = 1.0
    timing: Timing = field(default_factory=Timing)
    bugs: tuple[str, ...] = ()
    workers: int = 0
    #: wall time (epoch) of scenario time 0, when the service declares one
    epoch: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "scale": self.scale,
            "timing": msgspec.structs.asdict(self.timing),
            "bugs": list(self.bugs),
            "workers": self.workers,
            "epoch": self.epoch,
        }

    @classmethod
    def from_health(cls, data: dict[str, Any]) -> ServiceInfo:
        """From the service's `GET /health` body: its scale and its (wall-clock) durations."""
        scale = float(data.get("scale", 1.0))
        timing = Timing.declared(data.get("config", {}), scale=scale, slack=load_slack(scale))
        return cls(
            scale=scale,
            timing=timing,
            bugs=tuple(data.get("bugs", ())),
        )

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ServiceInfo:
        return cls(
            scale=float(data.get("scale", 1.0)),
            timing=Timing(**data.get("timing", {})),
            bugs=tuple(data.get("bugs", ())),
            workers=int(data.get("workers", 0)),
            epoch=data.get("epoch"),
        )


def process_record(service: ServiceInfo) -> dict[str, Any]:
    """The first line of a Locust process's records: what the service said about its timing."""
    return {"type": "process", "pid": os.getpid(), "service": service.to_json()}


class OpRecorder(History):
    """Appends one process's requests to its own file in `folder`, as `History.record` takes
    them but in wall-clock (epoch) seconds; indices count the requests of this process only
    (`merge` numbers them afresh). Nothing is kept in memory: a load run is long.

    Lines are flushed at once so that a master reading the folder at the end, or the harness
    showing progress, sees what was done; a request costs far more than the write.
    """

    def __init__(self, folder: Path, service: ServiceInfo, name: str | None = None) -> None:
        super().__init__(RunInfo("load", mode="load", timing=service.timing))
        folder.mkdir(parents=True, exist_ok=True)
        name = name or f"{socket.gethostname()}-{os.getpid()}"
        self.path = folder / f"{PREFIX}{name}.jsonl"
        self.count = 0
        self._file: IO[str] | None = self.path.open("a", encoding="utf-8")
        self._write(process_record(service))

    def _keep(self, operation: Operation) -> Operation:
        operation = replace(operation, index=self.count)
        self.count += 1
        self._write(operation.to_json())
        return operation

    def close(self) -> None:
        """Mark the file complete: its process will record nothing more."""
        if self._file is not None:
            self._write({"type": "end", "ops": self.count})
            self._file.close()
            self._file = None

    def _write(self, record: dict[str, Any]) -> None:
        if self._file is None:
            return
        self._file.write(json.dumps(record, separators=(",", ":")) + "\n")
        self._file.flush()


def clear_folder(folder: Path) -> None:
    """Remove what an earlier run left in `folder`, so that it is not merged into this one."""
    if not folder.is_dir():
        return
    # Not the run header: the harness writes it before Locust's master clears the folder.
    for pattern in (f"{PREFIX}*.jsonl", FAULTS_FILE, "history.jsonl", "verdict.json"):
        for path in folder.glob(pattern):
            path.unlink(missing_ok=True)


def append_fault(
    folder: Path,
    fault: FaultKind,
    start: float,
    end: float,
    target: str | None = None,
    *,
    promoted: float | None = None,
) -> FaultEvent:
    """Add a fault window, in wall-clock (epoch) seconds, to the folder's fault log (written by
    the nemesis, one process); its index counts the windows already in the log."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / FAULTS_FILE
    with path.open("a+", encoding="utf-8") as handle:
        handle.seek(0)
        event = FaultEvent(sum(1 for _ in handle), fault, start, end, target, promoted)
        handle.write(json.dumps(event.to_json(), separators=(",", ":")) + "\n")
    return event


def append_fault_begun(
    folder: Path, fault: FaultKind, start: float, target: str | None = None
) -> None:
    """Log that a fault window opened (wall-clock seconds); its `append_fault` closes it. A run
    killed meanwhile still shows the fault, open to its last request."""
    folder.mkdir(parents=True, exist_ok=True)
    record = fault_begun(fault, start, target)
    with (folder / FAULTS_FILE).open("ab") as handle:
        handle.write(encode_record(record) + b"\n")


class RecordCounter:
    """Counts the requests recorded in a folder so far, reading only what was appended since the
    last count (the harness's progress line)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._offsets: dict[Path, int] = {}
        self.lines = 0

    def requests(self) -> int:
        if self.folder.exists():
            for path in self.folder.glob(f"{PREFIX}*.jsonl"):
                with path.open("rb") as handle:
                    handle.seek(self._offsets.get(path, 0))
                    chunk = handle.read()
                self._offsets[path] = self._offsets.get(path, 0) + len(chunk)
                # One header line per file is not a request.
                self.lines += chunk.count(b"\n") - (chunk.startswith(b'{"type":"process"') or 0)
        return self.lines


@dataclass
class RawRun:
    """Everything recorded in one folder."""

    services: list[ServiceInfo] = field(default_factory=list)
    #: in wall-clock (epoch) seconds, as recorded
    ops: list[Operation] = field(default_factory=list)
    faults: list[FaultEvent] = field(default_factory=list)
    files: int = 0
    #: files whose process wrote its `end` record
    finished: int = 0
    #: fault windows the nemesis opened and never closed (the run was killed meanwhile)
    open_faults: list[FaultBegunRecord] = field(default_factory=list)

    @property
    def service(self) -> ServiceInfo:
        return self.services[0] if self.services else ServiceInfo()


def _lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.endswith("\n"):
                return  # a line still being written by a live process
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as error:
                raise LoadRecordError(f"{path}:{number}: not JSON ({error.msg})") from None


def _wall_op(op: Operation) -> Operation:
    return replace(op, start=float(op.start), end=float(op.end))


def _wall_fault(fault: FaultEvent) -> FaultEvent:
    if fault.fault not in FAULT_KINDS:
        raise KeyError(f"fault kind {fault.fault!r}")
    return replace(fault, start=float(fault.start), end=float(fault.end))


def read_folder(folder: Path) -> RawRun:
    """Read every process file and the fault log in `folder`."""
    run = RawRun()
    for path in sorted(folder.glob(f"{PREFIX}*.jsonl")):
        run.files += 1
        for number, record in _lines(path):
            kind = record.get("type")
            try:
                if kind == "process":
                    run.services.append(ServiceInfo.from_json(record["service"]))
                elif kind == "op":
                    run.ops.append(_wall_op(Operation.from_json(record)))
                elif kind == "end":
                    run.finished += 1
                else:
                    raise LoadRecordError(f"{path}:{number}: unknown record type {kind!r}")
            except (KeyError, TypeError, ValueError) as error:
                if isinstance(error, LoadRecordError):
                    raise
                raise LoadRecordError(f"{path}:{number}: malformed record ({error})") from None
    faults = folder / FAULTS_FILE
    begun: dict[tuple[str, float, str | None], FaultBegunRecord] = {}
    if faults.exists():
        for number, record in _lines(faults):
            try:
                if record.get("type") == "fault-begun":
                    opened = msgspec.convert(record, FaultBegunRecord)
                    begun[opened.fault, opened.start, opened.target] = opened
                    continue
                event = _wall_fault(FaultEvent.from_json(record))
            except (KeyError, TypeError, ValueError, msgspec.ValidationError) as error:
                raise LoadRecordError(f"{faults}:{number}: malformed fault ({error})") from None
            close_window(begun, event.fault, event.start, event.target)
            run.faults.append(event)
    run.open_faults = list(begun.values())
    return run


def scenario_clock(epoch: float, scale: float) -> TimeMap:
    """Wall time (epoch seconds) -> scenario seconds since `epoch`."""
    return lambda wall: (wall - epoch) / scale


def merge(run: RawRun, info: RunInfo, clock: TimeMap) -> History:
    """One `History` in scenario seconds from everything the processes and the nemesis recorded."""
    ops = sorted(run.ops, key=lambda o: (o.start, o.end, o.user, o.op))
    faults = sorted(run.faults, key=lambda f: (f.start, f.end))
    history = History(
        info,
        ops=[replace(op.retimed(clock), index=i) for i, op in enumerate(ops)],
        faults=[replace(fault.retimed(clock), index=i) for i, fault in enumerate(faults)],
    )
    if run.open_faults:
        history.close_open_faults(
            [msgspec.structs.replace(f, start=clock(f.start)) for f in run.open_faults]
        )
    return history


def write_run_header(folder: Path, info: RunInfo) -> None:
    """Write the run's header into `folder` (the raw records' folder) before Locust starts."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / RUN_FILE).write_bytes(encode_record(info.to_record()) + b"\n")


def interrupted_history(out: Path) -> History | None:
    """The history of the load run in `out` that was stopped before it merged its records (a
    SIGKILL, or a crash), from what its Locust processes and nemesis wrote as they went; None
    when `out` holds no such run. The history says the run was interrupted."""
    raw = out / RAW_FOLDER
    header = raw / RUN_FILE
    if not header.is_file():
        return None
    record = decode_record(header.read_bytes().strip(), str(header))
    if not isinstance(record, RunRecord):
        raise LoadRecordError(f"{header}:1: first record must be 'run'")
    info = RunInfo.from_record(record)
    run = read_folder(raw)
    service = run.service
    epoch = service.epoch
    if epoch is None:
        epoch = min((o.start for o in run.ops), default=0.0)
    clock = scenario_clock(epoch, service.scale)
    last = max((o.end for o in run.ops), default=epoch)
    unfinished = run.files - run.finished
    why = (
        f"the load run stopped before its end: {unfinished} of {run.files} Locust process "
        "record(s) have no end; merged from the records in raw/"
    )
    info = replace(info, duration=clock(last), interrupted=info.interrupted or why)
    return with_measured_slack(merge(run, info, clock), service.scale)


def standalone_history(run: RawRun, command: str) -> History:
    """The history of a run driven by plain Locust: the service's own declarations give timing."""
    service = run.service
    epoch = service.epoch
    if epoch is None:
        epoch = min((o.start for o in run.ops), default=0.0)
    last = max((o.end for o in run.ops), default=epoch)
    clock = scenario_clock(epoch, service.scale)
    info = RunInfo(
        scenario="load",
        mode="load",
        bugs=service.bugs,
        workers=service.workers,
        duration=clock(last),
        timing=service.timing,
        command=command,
    )
    return merge(run, info, clock)
