"""A scenario's steps and faults carried out on a live cluster, in scaled wall time.

This is how `LiveCluster` keeps the `Cluster` protocol: every call schedules an action at a
scenario time; `run_until` fires each at its scenario time times the scale (wall seconds after
the cluster became ready). Start requests run concurrently on threads and return the scan's
terminal reply, as on the incident's sync workers; while one runs, its client learns the scan id
through `GET /scans/latest` and polls by id. Every request goes through the shared port on a
fresh connection, so the kernel's accept queue picks the worker; the history records the
`X-Worker` pid that answered. A step pinned to a worker index is sent with a pin header, retried
until that worker accepts it.

Faults are real (`harness.live.faults`): a restart SIGKILLs a worker (by slot index, or the
process running the named scan, from the workers' state files; for a `[jobs]` target, its job
worker: `harness.live.job_workers`) and its window lasts until the replacement is ready; an
outage shuts Redis down and restarts it on the same port (or SIGSTOPs/SIGCONTs it) until Redis
answers again; a dropped column alters the database file under the running workers; and the
Gunicorn worker timeout kills a worker whose scan runs too long (a `worker-timeout` fault).
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING

from harness.exits import raise_if_signalled
from harness.history import History, OpKind, retime_reply
from harness.live.client import Exchange, call
from harness.live.contract import Operation
from harness.live.faults import OutageKind, failover, lag, redis_down, redis_up, restart
from harness.live.job_workers import restart_job
from harness.live.wsgi_adapter import LABEL_HEADER

if TYPE_CHECKING:
    from harness.live.cluster import LiveCluster

__all__ = ["READ_TIMEOUT", "LiveSchedule", "RunCancelled"]

#: wall seconds a read may take before the client gives up (it then reads as `lost`)
READ_TIMEOUT = 10.0


class RunCancelled(Exception):
    """The run was cancelled from outside (another thread was interrupted)."""


class LiveSchedule:
    """Fires scheduled steps and faults at scaled times on `cluster` and records what happened."""

    def __init__(
        self,
        cluster: LiveCluster,
        history: History,
        outage: OutageKind = "stop",
        cancel: threading.Event | None = None,
    ) -> None:
        self.cluster = cluster
        self.history = history
        self.outage = outage
        self.stopping = cancel or threading.Event()
        self.lock = threading.Lock()
        self.scan_ids: dict[str, str] = {}
        self.labels: dict[str, str] = {}
        self.owners: dict[str, str] = {}
        self.sent_at: dict[str, float] = {}
        self.killed: set[int] = set()
        self.slots: list[int] = []
        self.slots_lock = threading.Lock()
        self.outage_started: float | None = None
        self.lag_started: float | None = None
        self._events: list[tuple[float, int, Callable[[], None], bool]] = []
        self._seq = itertools.count()

    # -- scheduling (the Cluster protocol) ----------------------------------------------

    def _add(self, at: float, action: Callable[[], None], inline: bool = False) -> None:
        heapq.heappush(self._events, (at, next(self._seq), action, inline))

    def start_scan(self, at: float, user: str, label: str, worker: int | None) -> None:
        self.owners[label] = user
        self._add(at, lambda: self._start(user, label, worker))

    def poll(self, at: float, user: str, label: str, worker: int | None, fanout: int) -> None:
        for _ in range(fanout):
            self._add(at, lambda: self._poll(user, label, worker))

    def latest(self, at: float, user: str, worker: int | None, fanout: int) -> None:
        for _ in range(fanout):
            self._add(at, lambda: self._latest(user, None, worker))

    def restart_worker(
        self, at: float, worker: int | None, label: str | None, idle: bool = False
    ) -> None:
        # On a client thread: the window lasts until the replacement is ready, and the
        # schedule must not wait for that.
        self._add(at, lambda: self._restart(worker, label, idle))

    def redis_outage(self, at: float, duration: float) -> None:
        self._add(at, self._redis_down, inline=True)
        self._add(at + duration, self._redis_up, inline=True)

    def redis_failover(self, at: float, rejoin_after: float) -> None:
        # On a client thread: Sentinel takes its time to promote, and the schedule goes on.
        self._add(at, lambda: self._failover(at + rejoin_after))

    def replica_lag(self, at: float, duration: float) -> None:
        self._add(at, self._lag_begins, inline=True)
        self._add(at + duration, self._lag_ends)

    def drop_column(self, at: float, column: str) -> None:
        self._add(at, lambda: self._drop(column), inline=True)

    def run_until(self, end: float) -> None:
        """Fire every event due by `end`, wait for the requests in flight, then return."""
        self.slots = self.cluster.worker_pids()
        pool = ThreadPoolExecutor(max_workers=64, thread_name_prefix="client")
        futures: list[Future[None]] = []
        try:
            while self._events and self._events[0][0] <= end:
                at, _, action, inline = heapq.heappop(self._events)
                self._sleep_until(at)
                if inline:
                    action()
                else:
                    futures.append(pool.submit(action))
            self._sleep_until(end)
            if self.outage_started is not None:
                self._redis_up()
        except BaseException:
            # Interrupted: requests in flight end as soon as the cluster is torn down.
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        for future in futures:
            if future.done() and not future.cancelled() and future.exception() is not None:
                raise RuntimeError("a client thread failed") from future.exception()
        self.history.info = replace(self.history.info, duration=end)

    def _sleep_until(self, at: float) -> None:
        delay = self.cluster.clock.monotonic_at(at) - time.monotonic()
        if delay > 0:
            self.stopping.wait(delay)
        raise_if_signalled()
        if self.stopping.is_set():
            raise RunCancelled(f"{self.history.info.scenario}: cancelled")

    def _now(self) -> float:
        return self.cluster.clock.from_wall(time.time())

    # -- client operations --------------------------------------------------------------

    def _record(
        self, op: OpKind, user: str, ex: Exchange, worker: int | None, label: str | None
    ) -> None:
        from_wall = self.cluster.clock.from_wall
        reply = retime_reply(ex.reply, from_wall)
        with self.lock:
            if label is None and reply.scan_id is not None:
                label = self.labels.get(reply.scan_id)
            self.history.record(
                op,
                user=user,
                worker=str(worker) if worker is not None else "?",
                start=from_wall(ex.sent),
                end=from_wall(ex.answered),
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
        cfg = self.cluster.worker_config
        timeout = cfg.worker_timeout + cfg.effective_budget + 10.0
        # The WSGI adapter files the request under the step's label, so that a fault aimed at
        # "the worker running this scan" finds it in any app (the reference ignores it).
        ex = self._send("start", user, index, timeout=timeout, headers={LABEL_HEADER: label})
        worker = ex.worker
        reply = ex.reply
        if reply.scan_id is not None:
            self._learn(label, reply.scan_id)
        if worker is None or reply.scan_id is None:
            found = self._find_run(user, label)
            if found is not None:
                pid, scan_id = found
                worker = worker if worker is not None else pid
                scan_id = scan_id or self.scan_ids.get(label)
                if reply.scan_id is None and scan_id is not None:
                    self._learn(label, scan_id)
                    reply = replace(reply, scan_id=scan_id)
        if reply.status == "lost" and worker in self.killed:
            reply = replace(reply, reason="worker restarted")
        timing = self.history.info.timing
        from_wall = self.cluster.clock.from_wall
        if (
            reply.status in ("lost", "error")
            and worker is not None
            and worker not in self.killed
            and timing.outlived_worker_timeout(from_wall(ex.sent), from_wall(ex.answered))
        ):
            reply = replace(reply, reason="worker timeout: killed by master")
            with self.lock:
                end = from_wall(ex.answered)
                self.history.fault("worker-timeout", end, end, str(worker))
        self._record("start", user, replace(ex, reply=reply), worker, label)

    def _find_run(self, user: str, label: str) -> tuple[int, str | None] | None:
        """The worker pid and scan id (when known) of `label`'s start, from the workers' state
        files: the adapter's name the label, the reference's the scan."""
        scan_id = self.scan_ids.get(label)
        record = self.cluster.scan_record(scan_id, label)
        if record is not None:
            found = record[1].get("scan_id")
            return record[0], scan_id or (None if found is None else str(found))
        if scan_id is not None:
            return None
        for pid, data in self.cluster.running_scans().items():
            if data.get("user") == user and self._label_of(user, data.get("started_at")) == label:
                return pid, str(data["scan_id"])
        return None

    def _label_of(self, user: str, started_at: float | None) -> str | None:
        """Which of `user`'s start requests began the scan registered at `started_at` (wall):
        the last one sent before it (a scan registers after its request is sent). A reply
        without a start time belongs to the user's one start whose scan is not known yet."""
        if started_at is None:
            with self.lock:
                open_ = [
                    label
                    for label in self.sent_at
                    if self.owners.get(label) == user and label not in self.scan_ids
                ]
            return open_[0] if len(open_) == 1 else None
        with self.lock:
            sent = [
                (at, label)
                for label, at in self.sent_at.items()
                if self.owners.get(label) == user and at <= started_at + 0.01
            ]
        return max(sent)[1] if sent else None

    def _read(
        self, op: Operation, user: str, index: int | None, scan_id: str | None = None
    ) -> Exchange:
        return self._send(op, user, index, scan_id, timeout=READ_TIMEOUT)

    def _send(
        self,
        op: Operation,
        user: str,
        index: int | None,
        scan_id: str | None = None,
        *,
        timeout: float,
        headers: dict[str, str] | None = None,
    ) -> Exchange:
        """Send `op` as the target's contract spells it, to the worker in slot `index` (None:
        whichever the balancer picks)."""
        contract = self.cluster.contract
        method, path = contract.endpoint(op, user, scan_id)
        return call(
            self.cluster.port,
            method,
            path,
            user=user,
            timeout=timeout,
            pin=self._pin(index),
            contract=contract,
            headers=headers,
        )

    def _poll(self, user: str, label: str, index: int | None) -> None:
        scan_id = self.scan_ids.get(label)
        if scan_id is None:  # not started yet: the client has no id to ask about
            self._latest(user, label, index)
            return
        ex = self._read("status", user, index, scan_id)
        if ex.reply.scan_id is None:
            ex = replace(ex, reply=replace(ex.reply, scan_id=scan_id))
        self._record("status", user, ex, ex.worker, label)

    def _latest(self, user: str, label: str | None, index: int | None) -> None:
        ex = self._read("latest", user, index)
        reply = ex.reply
        if (
            label is not None
            and reply.scan_id is not None
            and reply.owner in (user, None)  # a contract may not say whose scan it is
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

    def _restart(self, index: int | None, label: str | None, idle: bool) -> None:
        if label is not None and self.cluster.jobs is not None:
            return restart_job(self, label)  # the job worker running it, not a web worker
        if label is not None:
            found = self._find_run(self.owners[label], label)
            if found is None or found[0] not in self.cluster.running_scans():
                return  # not running right now: nothing to aim at, as in simulation
            pid = found[0]
        elif idle:
            running = self.cluster.running_scans()
            free = [pid for pid in self._slot_pids() if pid not in running]
            if not free:
                return  # every worker is running a scan: nothing to aim at, as in simulation
            pid = free[0]
        else:
            assert index is not None
            pid = self._slot_pids()[index]
        self.killed.add(pid)

        def window(began: float, ended: float) -> None:
            with self.lock:
                self.history.fault("worker-restart", began, ended, str(pid))

        def opened(began: float) -> None:
            with self.lock:
                self.history.fault_begins("worker-restart", began, str(pid))

        restart(self.cluster, pid, window, self._now, opened)

    def _redis_down(self) -> None:
        # The window opens before the fault is injected and closes once Redis answers again.
        self.outage_started = self._now()
        with self.lock:
            self.history.fault_begins("redis-outage", self.outage_started)
        redis_down(self.cluster, self.outage)

    def _redis_up(self) -> None:
        redis_up(self.cluster, self.outage)
        start = self.outage_started if self.outage_started is not None else self._now()
        self.outage_started = None
        with self.lock:
            self.history.fault("redis-outage", start, self._now())

    def _failover(self, rejoin: float) -> None:
        def window(began: float, ended: float, what: str, promoted: float | None) -> None:
            with self.lock:
                self.history.fault("redis-failover", began, ended, what, promoted=promoted)

        def opened(began: float) -> None:
            with self.lock:
                self.history.fault_begins("redis-failover", began)

        def rejoin_at(promoted: float) -> None:
            # Not before the scenario says; not before the promotion, which Sentinel times.
            self._sleep_until(max(rejoin, promoted))

        failover(self.cluster.replication(), window, self._now, rejoin_at, opened)

    def _lag_begins(self) -> None:
        began = self._now()
        self.lag_started = began
        with self.lock:
            self.history.fault_begins("replica-lag", began)
        lag(self.cluster.replication(), begins=True)

    def _lag_ends(self) -> None:
        lag(self.cluster.replication(), begins=False)
        began = self.lag_started if self.lag_started is not None else self._now()
        self.lag_started = None
        with self.lock:
            self.history.fault("replica-lag", began, self._now())

    def _drop(self, column: str) -> None:
        self.cluster.alter_drop_column(column)
        now = self._now()
        with self.lock:
            self.history.fault("drop-column", now, now, column)
