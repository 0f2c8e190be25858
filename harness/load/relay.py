"""A distributed load run's records travel over Locust's own messaging, not a shared folder.

Each Locust worker keeps its requests in an `Outbox` and sends them to the master in batches
(custom messages, see `harness.load.locust_relay`); when its users have stopped it sends what is
left and then a `done` message with how many records and batches it sent. The master's `Inbox`
appends each worker's batches to that worker's own `ops-<worker>.jsonl` in the master's history
folder, in exactly the lines a single process writes there itself (a `process` header, one `op`
line per request, an `end` line once the worker's `done` matches what arrived), so the folder is
merged and judged as before; workers need no folder at all.

This module is imported inside the Locust processes but does not import gevent or locust: the
batching and the bookkeeping are tested without them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from harness.history import History, Operation, RunInfo
from harness.load.record import PREFIX, ServiceInfo, process_record

#: the custom message types (Locust dispatches on them; they must not clash with its own)
BATCH_MESSAGE = "scanchaos-ops"
DONE_MESSAGE = "scanchaos-done"


def _line(record: dict[str, Any]) -> bytes:
    return json.dumps(record, separators=(",", ":")).encode() + b"\n"


class Outbox(History):
    """One worker's requests, as `History.record` takes them, kept as encoded lines until the
    next batch is taken; indices count this worker's requests (`merge` numbers them afresh)."""

    def __init__(self, service: ServiceInfo) -> None:
        super().__init__(RunInfo("load", mode="load", timing=service.timing))
        self.count = 0
        #: requests recorded since the last batch was taken
        self._pending = 0
        #: batches taken so far; the next batch's number
        self.batches = 0
        self.closed = False
        #: requests recorded after `close` (a start still running when its user was stopped)
        self.late = 0
        self._lines: list[bytes] = [_line(process_record(service))]

    def _keep(self, operation: Operation) -> Operation:
        if self.closed:
            self.late += 1
            return operation
        operation = replace(operation, index=self.count)
        self.count += 1
        self._pending += 1
        self._lines.append(_line(operation.to_json()))
        return operation

    def take(self, now: float) -> dict[str, Any] | None:
        """The next batch's message data, or None when nothing is waiting. `now` (this host's
        wall clock) lets the master see how far this worker's clock is from its own."""
        if not self._lines:
            return None
        lines, self._lines = self._lines, []
        batch = {
            "seq": self.batches,
            "ops": self._pending,
            "lines": b"".join(lines),
            "sent_at": now,
        }
        self._pending = 0
        self.batches += 1
        return batch

    def put_back(self, batch: dict[str, Any]) -> None:
        """A batch that could not be sent goes out again, first, under its own number."""
        self._lines.insert(0, batch["lines"])
        self._pending += batch["ops"]
        self.batches = batch["seq"]

    def close(self) -> dict[str, Any]:
        """Record nothing more; the `done` message's data (call after taking the last batch)."""
        self.closed = True
        return {"ops": self.count, "batches": self.batches}


def file_name(worker: str) -> str:
    """The master's file for a worker's records (Locust's worker id: host name and a uuid)."""
    return f"{PREFIX}{re.sub(r'[^A-Za-z0-9._-]', '_', worker)}.jsonl"


@dataclass
class _Stream:
    """What the master has of one worker."""

    path: Path
    handle: IO[bytes] | None = None
    ops: int = 0
    batches: int = 0
    #: the worker's `done` data, once it came
    done: dict[str, Any] | None = None
    #: the smallest (master's receive time - worker's send time) seen: the worker's clock is at
    #: most this far behind the master's (the messages' latency is part of it)
    lag: float | None = None
    problems: list[str] = field(default_factory=list)


class Inbox:
    """The master's side: every worker's batches, appended as they come to its own file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.streams: dict[str, _Stream] = {}

    def _stream(self, worker: str) -> _Stream:
        stream = self.streams.get(worker)
        if stream is None:
            stream = self.streams[worker] = _Stream(self.folder / file_name(worker))
        return stream

    def receive(self, worker: str, data: dict[str, Any], now: float) -> None:
        """A batch from `worker`, written at once: a run stopped later keeps it (see
        `record.interrupted_history`)."""
        stream = self._stream(worker)
        if stream.done is not None:
            stream.problems.append(f"batch {data.get('seq')} came after the worker's done")
        seq, lines = int(data["seq"]), bytes(data["lines"])
        if seq != stream.batches:
            stream.problems.append(f"batch {seq} came when batch {stream.batches} was due")
        stream.batches = seq + 1
        stream.ops += int(data["ops"])
        lag = now - float(data["sent_at"])
        stream.lag = lag if stream.lag is None else min(stream.lag, lag)
        if stream.handle is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            stream.handle = stream.path.open("ab")
        stream.handle.write(lines)
        stream.handle.flush()

    def finish(self, worker: str, data: dict[str, Any]) -> None:
        """The worker's `done`: its file is complete if everything it sent arrived."""
        stream = self._stream(worker)
        stream.done = data
        ops, batches = int(data["ops"]), int(data["batches"])
        if (ops, batches) != (stream.ops, stream.batches):
            stream.problems.append(
                f"sent {ops} records in {batches} batches, {stream.ops} in {stream.batches} arrived"
            )
        elif stream.handle is not None:
            stream.handle.write(_line({"type": "end", "ops": ops}))
        self._close(stream)

    def waiting(self, connected: set[str]) -> list[str]:
        """Workers still connected whose `done` has not come: their last batch may be on its
        way. A worker known here but no longer connected is not waited for (it died)."""
        return sorted(w for w in connected | set(self.streams) if not self._done(w, connected))

    def _done(self, worker: str, connected: set[str]) -> bool:
        stream = self.streams.get(worker)
        if stream is not None and stream.done is not None:
            return True
        return worker not in connected

    def close(self) -> None:
        for stream in self.streams.values():
            self._close(stream)

    @staticmethod
    def _close(stream: _Stream) -> None:
        if stream.handle is not None:
            stream.handle.close()
            stream.handle = None

    def report(self) -> list[str]:
        """One line per worker: what arrived, and what went wrong."""
        lines = []
        for worker, stream in sorted(self.streams.items()):
            status = "complete" if stream.done is not None and not stream.problems else "INCOMPLETE"
            lag = "" if stream.lag is None else f", {_clock(stream.lag)}"
            why = "; ".join(stream.problems) or ("" if stream.done else "no done message")
            lines.append(
                f"received {stream.ops} records in {stream.batches} batches from worker "
                f"{worker} ({status}{lag}){': ' + why if why else ''}"
            )
        return lines

    @property
    def complete(self) -> bool:
        return all(s.done is not None and not s.problems for s in self.streams.values())


def _clock(lag: float) -> str:
    """What the smallest (receive - send) time says about the worker's clock: it bounds the
    offset from one side only, the message's latency being in it."""
    if lag >= 0:
        return f"its clock at most {lag * 1000:.0f} ms behind the master's"
    return f"its clock at least {-lag * 1000:.0f} ms ahead of the master's"
