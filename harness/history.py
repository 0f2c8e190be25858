"""The history of a run: every client operation and every fault window, in scenario time.

Every mode (simulation, live, exploration, load) produces a `History`; the one `Checker` judges it.
On disk it is JSON Lines: a `run` header, then `op` and `fault` records in order of start time.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from reference_impl import Reply, ServiceConfig

OpKind = Literal["start", "status", "latest"]
FaultKind = Literal["worker-restart", "redis-outage", "drop-column", "worker-timeout"]

FAULT_KINDS: tuple[str, ...] = ("worker-restart", "redis-outage", "drop-column", "worker-timeout")

#: maps one clock's seconds to another's (e.g. wall time -> scenario seconds)
Clock = Callable[[float], float]


def _t(value: float) -> float:
    """Times are kept to the microsecond so that histories compare byte for byte."""
    return round(value, 6)


def retime_reply(reply: Reply, clock: Clock) -> Reply:
    """`reply` with the scan times it carries (wall time, as the service speaks) put through
    `clock`: the history speaks scenario time."""
    if reply.started_at is None and reply.finished_at is None:
        return reply
    return replace(
        reply,
        started_at=None if reply.started_at is None else clock(reply.started_at),
        finished_at=None if reply.finished_at is None else clock(reply.finished_at),
    )


@dataclass(frozen=True)
class Timing:
    """The durations the checker judges by, in scenario seconds."""

    result_ttl: float = 300.0
    memory_ttl: float = 10.0
    cleanup_interval: float = 2.0
    scan_budget: float = 150.0
    worker_timeout: float = 180.0
    heartbeat_interval: float = 5.0
    stall_timeout: float = 30.0
    #: how far apart two clocks may be (0 in simulation; live processes need some)
    slack: float = 0.0

    @classmethod
    def of(cls, config: ServiceConfig, slack: float = 0.0) -> Timing:
        return cls(
            result_ttl=config.result_ttl,
            memory_ttl=config.memory_ttl,
            cleanup_interval=config.cleanup_interval,
            scan_budget=config.scan_budget,
            worker_timeout=config.worker_timeout,
            heartbeat_interval=config.heartbeat_interval,
            stall_timeout=config.stall_timeout,
            slack=slack,
        )

    @property
    def fault_grace(self) -> float:
        """After a Redis fault ends: time for the cleanup loop to repair deferred writes."""
        return self.cleanup_interval + self.slack


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


@dataclass(frozen=True)
class Operation:
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

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "type": "op",
            "index": self.index,
            "op": self.op,
            "user": self.user,
            "worker": self.worker,
            "start": _t(self.start),
            "end": _t(self.end),
            "reply": self.reply.to_dict(),
        }
        if self.scan_id is not None:
            data["scan_id"] = self.scan_id
        if self.label is not None:
            data["label"] = self.label
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Operation:
        return cls(
            index=data["index"],
            op=data["op"],
            user=data["user"],
            worker=data["worker"],
            start=data["start"],
            end=data["end"],
            reply=Reply.from_dict(data["reply"]),
            scan_id=data.get("scan_id"),
            label=data.get("label"),
        )

    def retimed(self, clock: Clock) -> Operation:
        """The same call with every time it holds put through `clock`."""
        return replace(
            self,
            start=clock(self.start),
            end=clock(self.end),
            reply=retime_reply(self.reply, clock),
        )


@dataclass(frozen=True)
class FaultEvent:
    """A fault window: what was broken from when to when (instant faults have end == start)."""

    index: int
    fault: FaultKind
    start: float
    end: float
    #: the worker or column the fault was aimed at
    target: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "type": "fault",
            "index": self.index,
            "fault": self.fault,
            "start": _t(self.start),
            "end": _t(self.end),
        }
        if self.target is not None:
            data["target"] = self.target
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FaultEvent:
        return cls(data["index"], data["fault"], data["start"], data["end"], data.get("target"))

    def retimed(self, clock: Clock) -> FaultEvent:
        """The same window with its times put through `clock`."""
        return replace(self, start=clock(self.start), end=clock(self.end))


class HistoryFormatError(ValueError):
    """A history file that cannot be read; the message names the file and line."""


@dataclass
class History:
    info: RunInfo
    ops: list[Operation] = field(default_factory=list)
    faults: list[FaultEvent] = field(default_factory=list)

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
        self.ops.append(operation)
        return operation

    def fault(
        self, fault: FaultKind, start: float, end: float, target: str | None = None
    ) -> FaultEvent:
        event = FaultEvent(len(self.faults), fault, start, end, target)
        self.faults.append(event)
        return event

    def records(self) -> Iterator[dict[str, Any]]:
        yield {"type": "run", **asdict(self.info), "bugs": list(self.info.bugs)}
        merged: list[tuple[float, int, int, dict[str, Any]]] = []
        merged.extend((o.start, 0, o.index, o.to_json()) for o in self.ops)
        merged.extend((f.start, 1, f.index, f.to_json()) for f in self.faults)
        for _, _, _, record in sorted(merged, key=lambda item: item[:3]):
            yield record

    def dumps(self) -> str:
        return "".join(
            json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n"
            for record in self.records()
        )

    def write(self, path: Path) -> None:
        path.write_text(self.dumps(), encoding="utf-8")

    @classmethod
    def from_records(cls, records: Iterable[dict[str, Any]], source: str = "<history>") -> History:
        history: History | None = None
        for number, record in enumerate(records, start=1):
            kind = record.get("type")
            try:
                if kind == "run":
                    info = dict(record)
                    info.pop("type")
                    info["timing"] = Timing(**info.get("timing", {}))
                    info["bugs"] = tuple(info.get("bugs", ()))
                    history = cls(RunInfo(**info))
                elif history is None:
                    raise HistoryFormatError(f"{source}:{number}: first record must be 'run'")
                elif kind == "op":
                    history.ops.append(Operation.from_json(record))
                elif kind == "fault":
                    history.faults.append(FaultEvent.from_json(record))
                else:
                    raise HistoryFormatError(f"{source}:{number}: unknown record type {kind!r}")
            except (KeyError, TypeError) as error:
                raise HistoryFormatError(f"{source}:{number}: malformed record ({error})") from None
        if history is None:
            raise HistoryFormatError(f"{source}: empty history")
        history.ops.sort(key=lambda o: o.index)
        history.faults.sort(key=lambda f: f.index)
        return history

    @classmethod
    def read(cls, path: Path) -> History:
        records = []
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as error:
                    raise HistoryFormatError(f"{path}:{number}: not JSON ({error.msg})") from None
        return cls.from_records(records, str(path))
