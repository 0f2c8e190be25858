"""Runs a scenario script, unchanged, against a `LiveCluster` with scaled time.

Every step fires at its scenario time times the scale (wall seconds after the cluster is ready).
Start requests run concurrently on threads and return the scan's terminal reply, as on the
incident's sync workers; while one runs, its client learns the scan id through
`GET /scans/latest` and polls by id. Every request goes through the shared port on a fresh
connection, so the kernel's accept queue picks the worker; the history records the `X-Worker`
pid that answered. Steps pinned to a worker index (`worker=`) cannot be pinned through a shared
port: in live mode they go to whichever worker accepts them.

Faults are real: `RestartWorker` SIGKILLs a worker process (by slot index, or the process
running the named scan, from the workers' state files), `RedisOutage` shuts Redis down and
restarts it on the same port (or SIGSTOPs/SIGCONTs it with `outage="pause"`), `DropColumn` alters
the database file under the running workers, and the Gunicorn worker timeout kills a worker
whose scan runs too long (recorded as a `worker-timeout` fault when the start request dies so).

The history is in scenario seconds; `Timing.slack` (default `default_slack(scale)`) absorbs the
real clocks' noise: process scheduling, request latency and the master's reaping loop.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Literal

from harness.checker import Checker
from harness.history import History, OpKind, RunInfo, Timing, retime_reply
from harness.live.client import Exchange, call
from harness.live.cluster import LiveCluster
from harness.live.slack import with_measured_slack
from harness.runner import RunResult, _rounds, reproduce_command, service_config
from harness.scenario import (
    DropColumn,
    Latest,
    Poll,
    RedisOutage,
    RestartWorker,
    Scenario,
    Start,
)

DEFAULT_SCALE = 0.05
#: wall seconds of clock noise the checker tolerates, whatever the scale
WALL_SLACK = 0.3
#: wall seconds a read may take before the client gives up (it then reads as `lost`)
READ_TIMEOUT = 10.0

OutageKind = Literal["stop", "pause"]


class RunCancelled(Exception):
    """The run was cancelled from outside (another thread was interrupted)."""


def default_slack(scale: float) -> float:
    """Scenario seconds of slack for real clocks: `WALL_SLACK` wall seconds, at least 2."""
    return max(2.0, WALL_SLACK / scale)


@dataclass(frozen=True)
class LiveOptions:
    scale: float = DEFAULT_SCALE
    redis_server: str | None = None
    outage: OutageKind = "stop"
    #: scenario seconds; None means `default_slack(scale)`
    slack: float | None = None


class _Driver:
    """Fires a scenario's steps and faults at scaled times and records what happened."""

    def __init__(
        self,
        cluster: LiveCluster,
        scenario: Scenario,
        history: History,
        outage: OutageKind,
        cancel: threading.Event | None = None,
    ) -> None:
        self.cluster = cluster
        self.outage = outage
        self.scenario = scenario
        self.history = history
        self.lock = threading.Lock()
        self.scan_ids: dict[str, str] = {}
        self.labels: dict[str, str] = {}
        self.owners: dict[str, str] = {}
        self.sent_at: dict[str, float] = {}
        self.killed: set[int] = set()
        self.slots = cluster.worker_pids()
        self.slots_lock = threading.Lock()
        self.outage_started: float | None = None
        self.pool = ThreadPoolExecutor(max_workers=64, thread_name_prefix="client")
        self.futures: list[Future[None]] = []
        self.cfg = cluster.worker_config
        self.stopping = cancel or threading.Event()

    # -- the schedule -------------------------------------------------------------------

    def run(self) -> None:
        events: list[tuple[float, int, Callable[[], None], bool]] = []
        seq = itertools.count()

        def add(at: float, action: Callable[[], None], inline: bool = False) -> None:
            heapq.heappush(events, (at, next(seq), action, inline))

        for step in self.scenario.steps:
            if isinstance(step, Start):
                self.owners[step.scan] = step.user
        for step in self.scenario.steps:
            if isinstance(step, Start):
                add(step.at, lambda s=step: self._start(s.user, s.scan, s.worker))  # type: ignore[misc]
            elif isinstance(step, Poll):
                user = step.user or self.owners[step.scan]
                for at in _rounds(step.start, step.until, step.every):
                    for _ in range(step.fanout):
                        add(at, lambda u=user, s=step: self._poll(u, s.scan, s.worker))  # type: ignore[misc]
            elif isinstance(step, Latest):
                for at in _rounds(step.start, step.until, step.every):
                    for _ in range(step.fanout):
                        add(at, lambda u=step.user: self._latest(u, None))  # type: ignore[misc]
        for fault in self.scenario.faults:
            if isinstance(fault, RestartWorker):
                add(fault.at, lambda f=fault: self._restart(f), inline=True)  # type: ignore[misc]
            elif isinstance(fault, RedisOutage):
                add(fault.at, self._redis_down, inline=True)
                add(fault.at + fault.duration, self._redis_up, inline=True)
            elif isinstance(fault, DropColumn):
                add(fault.at, lambda f=fault: self._drop(f.column), inline=True)  # type: ignore[misc]
        try:
            while events:
                at, _, action, inline = heapq.heappop(events)
                self._sleep_until(at)
                if inline:
                    action()
                else:
                    self.futures.append(self.pool.submit(action))
            self._sleep_until(self.scenario.duration)
            if self.outage_started is not None:
                self._redis_up()
        except BaseException:
            # Interrupted: requests in flight end as soon as the cluster is torn down.
            self.pool.shutdown(wait=False, cancel_futures=True)
            raise
        self.pool.shutdown(wait=True)
        for future in self.futures:
            if future.done() and not future.cancelled() and future.exception() is not None:
                raise RuntimeError("a client thread failed") from future.exception()

    def _sleep_until(self, at: float) -> None:
        delay = self.cluster.wall_time(at) - time.monotonic()
        if delay > 0:
            self.stopping.wait(delay)
        if self.stopping.is_set():
            raise RunCancelled(f"{self.scenario.name}: cancelled")

    def _now(self) -> float:
        return self.cluster.to_scenario_time(time.time())

    # -- client operations --------------------------------------------------------------

    def _record(
        self, op: OpKind, user: str, ex: Exchange, worker: int | None, label: str | None
    ) -> None:
        to_sc = self.cluster.to_scenario_time
        reply = retime_reply(ex.reply, to_sc)
        with self.lock:
            if label is None and reply.scan_id is not None:
                label = self.labels.get(reply.scan_id)
            self.history.record(
                op,
                user=user,
                worker=str(worker) if worker is not None else "?",
                start=to_sc(ex.sent),
                end=to_sc(ex.answered),
                reply=reply,
                scan_id=reply.scan_id,
                label=label,
            )

    def _learn(self, label: str, scan_id: str) -> None:
        with self.lock:
            if label not in self.scan_ids and scan_id not in self.labels:
                self.scan_ids[label] = scan_id
                self.labels[scan_id] = label

    def _pin(self, index: int | None) -> int | None:
        return None if index is None else self._slot_pids()[index]

    def _start(self, user: str, label: str, index: int | None) -> None:
        with self.lock:
            self.sent_at[label] = time.time()
        timeout = self.cfg.worker_timeout + self.cfg.effective_budget + 10.0
        ex = call(
            self.cluster.port, "POST", "/scans", user=user, timeout=timeout, pin=self._pin(index)
        )
        worker = ex.worker
        reply = ex.reply
        if reply.scan_id is not None:
            self._learn(label, reply.scan_id)
        if worker is None or reply.scan_id is None:
            found = self._find_run(user, label)
            if found is not None:
                pid, scan_id = found
                worker = worker if worker is not None else pid
                if reply.scan_id is None:
                    self._learn(label, scan_id)
                    reply = replace(reply, scan_id=scan_id)
        if reply.status == "lost" and worker in self.killed:
            reply = replace(reply, reason="worker restarted")
        ex = replace(ex, reply=reply)
        if (
            reply.status in ("lost", "error")
            and worker is not None
            and worker not in self.killed
            and ex.answered - ex.sent >= self.cfg.worker_timeout * 0.9
        ):
            reply = replace(reply, reason="worker timeout: killed by master")
            ex = replace(ex, reply=reply)
            with self.lock:
                end = self.cluster.to_scenario_time(ex.answered)
                self.history.fault("worker-timeout", end, end, str(worker))
        self._record("start", user, ex, worker, label)

    def _find_run(self, user: str, label: str) -> tuple[int, str] | None:
        """The worker pid and scan id of `label`'s start, from the workers' state files."""
        scan_id = self.scan_ids.get(label)
        if scan_id is not None:
            record = self.cluster.scan_record(scan_id)
            return (record[0], scan_id) if record is not None else None
        for pid, data in self.cluster.running_scans().items():
            if data.get("user") == user and self._label_of(user, data.get("started_at")) == label:
                return pid, str(data["scan_id"])
        return None

    def _label_of(self, user: str, started_at: float | None) -> str | None:
        """Which of `user`'s start requests began the scan registered at `started_at` (wall):
        the last one sent before it (a scan registers after its request is sent)."""
        if started_at is None:
            return None
        with self.lock:
            sent = [
                (at, label)
                for label, at in self.sent_at.items()
                if self.owners.get(label) == user and at <= started_at + 0.01
            ]
        return max(sent)[1] if sent else None

    def _poll(self, user: str, label: str, index: int | None) -> None:
        scan_id = self.scan_ids.get(label)
        if scan_id is None:
            self._latest(user, label, index)
            return
        path = f"/scans/{scan_id}"
        ex = call(
            self.cluster.port, "GET", path, user=user, timeout=READ_TIMEOUT, pin=self._pin(index)
        )
        if ex.reply.scan_id is None:
            ex = replace(ex, reply=replace(ex.reply, scan_id=scan_id))
        self._record("status", user, ex, ex.worker, label)

    def _latest(self, user: str, label: str | None, index: int | None = None) -> None:
        path = "/scans/latest"
        ex = call(
            self.cluster.port, "GET", path, user=user, timeout=READ_TIMEOUT, pin=self._pin(index)
        )
        reply = ex.reply
        if (
            label is not None
            and reply.scan_id is not None
            and reply.owner == user
            and self._label_of(user, reply.started_at) == label
        ):
            self._learn(label, reply.scan_id)
        self._record("latest", user, ex, ex.worker, label)

    # -- faults -------------------------------------------------------------------------

    def _slot_pids(self) -> list[int]:
        """Worker pids by slot index: a respawned worker takes the slot of the one it replaced."""
        with self.slots_lock:
            self.cluster.wait_for_workers()
            current = self.cluster.worker_pids()
            fresh = [pid for pid in current if pid not in self.slots]
            self.slots = [
                pid if pid in current else (fresh.pop(0) if fresh else pid) for pid in self.slots
            ]
            return list(self.slots)

    def _restart(self, fault: RestartWorker) -> None:
        if fault.scan is not None:
            found = self._find_run(self.owners[fault.scan], fault.scan)
            running = self.cluster.running_scans()
            if found is None or found[0] not in running:
                return  # not running right now: nothing to aim at, as in simulation
            pid = found[0]
        elif fault.idle:
            running = self.cluster.running_scans()
            idle = [pid for pid in self._slot_pids() if pid not in running]
            if not idle:
                return  # every worker is running a scan: nothing to aim at, as in simulation
            pid = idle[0]
        else:
            assert fault.worker is not None
            pid = self._slot_pids()[fault.worker]
        self.killed.add(pid)
        self.cluster.kill_worker(pid)
        now = self._now()
        with self.lock:
            self.history.fault("worker-restart", now, now, str(pid))

    def _redis_down(self) -> None:
        # The window opens before the fault is injected and closes once it is repaired.
        self.outage_started = self._now()
        if self.outage == "pause":
            self.cluster.pause_redis()
        else:
            self.cluster.stop_redis()

    def _redis_up(self) -> None:
        if self.outage == "pause":
            self.cluster.resume_redis()
        else:
            self.cluster.start_redis()
        start = self.outage_started if self.outage_started is not None else self._now()
        self.outage_started = None
        with self.lock:
            self.history.fault("redis-outage", start, self._now())

    def _drop(self, column: str) -> None:
        self.cluster.drop_column(column)
        now = self._now()
        with self.lock:
            self.history.fault("drop-column", now, now, column)


def run_live(
    scenario: Scenario,
    *,
    bugs: tuple[str, ...] = (),
    seed: int = 0,
    options: LiveOptions | None = None,
    ref: str | None = None,
    cancel: threading.Event | None = None,
) -> RunResult:
    """Run `scenario` on a fresh `LiveCluster` and check its history (in scenario time).

    Setting `cancel` from another thread stops the run (`RunCancelled`) and the cluster.
    """
    opts = options or LiveOptions()
    config = service_config(scenario, bugs)
    slack = opts.slack if opts.slack is not None else default_slack(opts.scale)
    names = tuple(sorted(config.bugs))
    command = reproduce_command(ref or scenario.name, names, seed, mode="live")
    if opts.scale != DEFAULT_SCALE:
        command += f" --scale {opts.scale}"
    info = RunInfo(
        scenario=scenario.name,
        mode="live",
        seed=seed,
        bugs=names,
        workers=scenario.workers,
        timing=Timing.of(config, slack=slack),
        command=command,
    )
    history = History(info)
    with LiveCluster(
        workers=scenario.workers,
        config=config,
        scale=opts.scale,
        profile=scenario.profile,
        missing_columns=scenario.missing_columns,
        redis_server=opts.redis_server,
    ) as cluster:
        _Driver(cluster, scenario, history, opts.outage, cancel).run()
    history.info = replace(history.info, duration=scenario.duration)
    if opts.slack is None:
        with_measured_slack(history, opts.scale)
    verdict = Checker(scenario.invariants).check(history)
    return RunResult(scenario, history, verdict)
