"""Hand-made histories for checker tests: a tiny builder so each test reads as a timeline."""

from __future__ import annotations

from dataclasses import replace

from harness.history import History, RunInfo, Timing
from harness.scenario import Poll, Scenario, Start
from reference_impl import Reply, ServiceConfig

SCAN = "a" * 32
OTHER = "b" * 32
TIMING = Timing(
    result_ttl=300.0,
    memory_ttl=10.0,
    cleanup_interval=2.0,
    scan_budget=150.0,
    worker_timeout=180.0,
    heartbeat_interval=5.0,
    stall_timeout=30.0,
)


class Builder:
    def __init__(self, timing: Timing = TIMING) -> None:
        self.history = History(RunInfo("hand-made", timing=timing))

    def start(
        self,
        at: float,
        end: float,
        reply: Reply,
        user: str = "alice",
        worker: str = "w0",
        scan: str | None = SCAN,
    ) -> Builder:
        self.history.record(
            "start",
            user=user,
            worker=worker,
            start=at,
            end=end,
            reply=replace(reply, scan_id=scan),
            scan_id=scan,
        )
        return self

    def read(
        self,
        at: float,
        reply: Reply,
        user: str = "alice",
        worker: str = "w1",
        scan: str | None = SCAN,
        op: str = "status",
        end: float | None = None,
    ) -> Builder:
        self.history.record(
            op,
            user=user,
            worker=worker,
            start=at,  # type: ignore[arg-type]
            end=at if end is None else end,
            reply=replace(reply, scan_id=scan),
            scan_id=scan,
        )
        return self

    def outage(self, start: float, end: float) -> Builder:
        self.history.fault("redis-outage", start, end)
        return self

    def restart(self, at: float, worker: str = "w0") -> Builder:
        self.history.fault("worker-restart", at, at, worker)
        return self


def complete(at: float = 28.0, owner: str = "alice") -> Reply:
    return Reply("complete", owner=owner, done=14, total=14, started_at=0.0, finished_at=at)


def scanning(done: int, owner: str = "alice") -> Reply:
    return Reply("scanning", owner=owner, done=done, total=14, started_at=0.0)


def failed(at: float, owner: str = "alice") -> Reply:
    return Reply(
        "failed",
        owner=owner,
        done=3,
        total=14,
        reason="worker lost",
        started_at=0.0,
        finished_at=at,
    )


NOT_FOUND = Reply("not_found")
UNAVAILABLE = Reply("unavailable")
ERROR = Reply("error", reason="boom")
LOST = Reply("lost")


#: service durations shortened for live tests: a few wall seconds per run at scale 0.05
SHORT = ServiceConfig(
    result_ttl=120.0,
    scan_budget=40.0,
    worker_timeout=60.0,
    stall_timeout=10.0,
    heartbeat_interval=2.0,
)


#: the incident in 60 scenario seconds: a scan on worker 0, polled every second from 3 workers
INCIDENT_SHORT = Scenario(
    name="incident-short",
    description="the 12 s 404, watched for 60 s",
    duration=60.0,
    steps=(
        Start(at=0.0, user="alice", scan="s1", worker=0),
        Poll(scan="s1", start=1.0, until=60.0, every=1.0, fanout=3),
    ),
)
