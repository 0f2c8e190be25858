"""The on-disk form of a history: one msgspec model for writing and for reading.

A history file is JSON Lines: a `run` header, then `op` and `fault` records. Every record is
decoded against the same `msgspec.Struct` types it was encoded from, so a file written by another
client (a load test, a user's own client, production logs converted) is checked field by field
when it is read: an unknown record type, an unknown operation or fault kind, a time written as a
string or a missing field is one `HistoryFormatError` naming the file, the line and the field.

>>> decode_record(b'{"type":"fault","index":0,"fault":"redis-outage","start":1.0,"end":2.0}')
FaultRecord(index=0, start=1.0, end=2.0, fault='redis-outage', target=None, promoted=None)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, get_args

import msgspec

from reference_impl.config import TIMING_FIELDS, ServiceConfig
from reference_impl.entry import ReplyStatus

__all__ = [
    "FAULT_KINDS",
    "OP_KINDS",
    "RECORD_DECODER",
    "REPLY_STATUSES",
    "FaultBegunRecord",
    "FaultKind",
    "FaultRecord",
    "HistoryFormatError",
    "LineProblem",
    "OpKind",
    "OpRecord",
    "Record",
    "ReplyRecord",
    "RunRecord",
    "Timing",
    "TimingRecord",
    "decode_line",
    "decode_record",
    "encode_record",
    "field_problem",
]

OpKind = Literal["start", "status", "latest"]
FaultKind = Literal[
    "worker-restart",
    "redis-outage",
    "drop-column",
    "worker-timeout",
    "redis-failover",
    "replica-lag",
]

OP_KINDS: tuple[str, ...] = get_args(OpKind)
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)
REPLY_STATUSES: tuple[str, ...] = get_args(ReplyStatus)

# A non-negative, finite number of seconds.
Seconds = float


class HistoryFormatError(ValueError):
    """A history file that cannot be read; the message names the file, line and field."""


class _Record(
    msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True, tag_field="type"
):
    pass


class Timing(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The durations the checker judges by, in scenario seconds: the service's own
    (`reference_impl.config.TIMING_FIELDS`, defaults from `ServiceConfig`) and the clock slack.

    The run header stores it as it is, so its fields are listed once for memory and disk."""

    result_ttl: Seconds = ServiceConfig.result_ttl
    memory_ttl: Seconds = ServiceConfig.memory_ttl
    cleanup_interval: Seconds = ServiceConfig.cleanup_interval
    scan_budget: Seconds = ServiceConfig.scan_budget
    worker_timeout: Seconds = ServiceConfig.worker_timeout
    heartbeat_interval: Seconds = ServiceConfig.heartbeat_interval
    stall_timeout: Seconds = ServiceConfig.stall_timeout
    #: how far apart two clocks may be (0 in simulation; live processes need some)
    slack: Seconds = 0.0

    @classmethod
    def of(cls, config: ServiceConfig, slack: float = 0.0) -> Timing:
        return cls.declared({name: getattr(config, name) for name in TIMING_FIELDS}, slack=slack)

    @classmethod
    def declared(
        cls, durations: Mapping[str, float], *, scale: float = 1.0, slack: float = 0.0
    ) -> Timing:
        """From durations a service declares (wall seconds at `scale`); others are ignored."""
        known = {n: float(durations[n]) / scale for n in TIMING_FIELDS if n in durations}
        return cls(**known, slack=slack)

    @property
    def fault_grace(self) -> float:
        """After a Redis fault ends: time for the cleanup loop to repair deferred writes."""
        return self.cleanup_interval + self.slack

    @property
    def failover_doubt(self) -> float:
        """How long after a worker noticed a new Redis primary a missing key may still be one
        the promotion lost and another worker has not written again: every worker notices at
        its next contact (a cleanup tick, or a running scan's heartbeat) and writes back at once."""
        return max(self.cleanup_interval, self.heartbeat_interval)

    def grace_after(self, fault: str) -> float:
        """After a Redis fault of kind `fault` ends, how long its effects are excused: for a
        failover also the doubt of the last worker to notice it (`failover_doubt` twice: up to
        one to notice, one of doubt after)."""
        if fault == "redis-failover":
            return self.fault_grace + 2 * self.failover_doubt
        return self.fault_grace

    def outlived_worker_timeout(self, began: float, ended: float) -> bool:
        """Did a request that the worker took at `began` and that ended at `ended` run into the
        worker timeout? The one rule for a worker-timeout kill, within the clock slack."""
        return ended - began >= self.worker_timeout - self.slack


#: the run header's timing record is the `Timing` itself (the name kept for existing readers)
TimingRecord = Timing


class RunRecord(_Record, tag="run", frozen=True, omit_defaults=False):
    scenario: str
    mode: str = "sim"
    seed: int = 0
    bugs: tuple[str, ...] = ()
    workers: int = 3
    duration: Seconds = 0.0
    timing: Timing = msgspec.field(default_factory=Timing)
    command: str = ""
    #: why the run stopped before its end (a signal), when it did
    interrupted: str | None = None


class ReplyRecord(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    status: ReplyStatus
    scan_id: str | None = None
    owner: str | None = None
    done: int | None = None
    total: int | None = None
    reason: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    opportunities: int | None = None
    null_fields: tuple[str, ...] = ()
    source: str | None = None


class _Timed(_Record, frozen=True):
    """What an operation and a fault window both record: their number among their kind, and
    when they began and ended (keys are written sorted, so this order is not the file's)."""

    index: int
    start: Seconds
    end: Seconds


class OpRecord(_Timed, tag="op", frozen=True):
    op: OpKind
    user: str
    worker: str
    reply: ReplyRecord
    scan_id: str | None = None
    label: str | None = None


class FaultRecord(_Timed, tag="fault", frozen=True):
    fault: FaultKind
    target: str | None = None
    #: a failover's: when the replica was promoted (between `start`, the primary's death, and
    #: `end`); a history without it is judged as if the promotion came at the death
    promoted: Seconds | None = None


class FaultBegunRecord(_Record, tag="fault-begun", frozen=True):
    """A fault window that has opened and not yet closed, written to a journal as the fault is
    injected: a run killed before the window closes still shows the fault (open to its end).
    Its `fault` record, once written, closes it (same kind, start and target)."""

    fault: FaultKind
    start: Seconds
    target: str | None = None


Record = RunRecord | OpRecord | FaultRecord | FaultBegunRecord

#: the one decoder of history lines (a reader that decodes many keeps it, and checks what
#: `decode_line` checks beyond the model)
RECORD_DECODER = msgspec.json.Decoder(Record)
_ENCODER = msgspec.json.Encoder(order="sorted")


def field_problem(message: str) -> str:
    """A msgspec validation message as `field a.b: what` (the path made plain)."""
    # msgspec says "Expected `float`, got `str` - at `$.reply.done`"; name the field plainly.
    what, _, path = message.partition(" - at `$")
    path = path.rstrip("`").lstrip(".")
    missing = "Object missing required field `"
    if what.startswith(missing):
        name = what[len(missing) :].rstrip("`")
        return f"field {path + '.' if path else ''}{name}: missing"
    if what.startswith("Object contains unknown field `"):
        name = what[len("Object contains unknown field `") :].rstrip("`")
        return f"field {path + '.' if path else ''}{name}: unknown field"
    return f"field {path}: {what}" if path else what


def decode_record(line: bytes | str, where: str = "<history>") -> Record:
    """One line of a history file, validated; `HistoryFormatError` names `where` and the field."""
    try:
        return decode_line(line)
    except LineProblem as problem:
        raise HistoryFormatError(f"{where}: {problem}") from None


class LineProblem(Exception):
    """What is wrong with a line, before anyone has said where the line is."""


def decode_line(line: bytes | str) -> Record:
    """One line, validated, for a reader that names the line itself on `LineProblem` (a million
    lines would otherwise format a million locations that no one reads)."""
    try:
        record = RECORD_DECODER.decode(line)
    except msgspec.ValidationError as error:
        raise LineProblem(field_problem(str(error))) from None
    except msgspec.DecodeError as error:
        raise LineProblem(f"not JSON ({error})") from None
    if isinstance(record, RunRecord):
        return record
    if isinstance(record, FaultBegunRecord):
        if not _NEG_INF < record.start < _INF:
            raise LineProblem("field start: must be a finite number")
        return record
    start, end = record.start, record.end
    # A NaN fails every comparison, so one chained test catches it and the infinities.
    if not (_NEG_INF < start < _INF and _NEG_INF < end < _INF):
        name = "start" if not _NEG_INF < start < _INF else "end"
        raise LineProblem(f"field {name}: must be a finite number")
    if end < start:
        raise LineProblem(f"field end: {end} is before start {start}")
    if record.index < 0:
        raise LineProblem("field index: must not be negative")
    if isinstance(record, FaultRecord) and record.promoted is not None:
        if record.fault != "redis-failover":
            raise LineProblem(f"field promoted: only a redis-failover has one, not {record.fault}")
        if not start <= record.promoted <= end:
            raise LineProblem(f"field promoted: {record.promoted} is not within {start}-{end}")
    return record


_INF = float("inf")
_NEG_INF = float("-inf")


def encode_record(record: Record) -> bytes:
    """The line for `record` (keys sorted, defaults left out), without the newline."""
    return _ENCODER.encode(record)
