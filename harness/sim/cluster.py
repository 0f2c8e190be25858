"""`SimCluster`: N service workers in one process, one fakeredis server, virtual time.

Time is frozen with freezegun and moved by the scheduler, so the service's clocks (wall and
monotonic) and fakeredis TTLs all see scenario time. Everything runs on one thread; randomness
comes from one seeded `random.Random`, so the same seed gives the same history.

As on a Gunicorn sync worker, a scan runs inside its start request: the worker running it serves
nothing else until it ends (requests aimed at it wait), while its cleanup loop, a background
thread in production, keeps ticking.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from freezegun import freeze_time

from harness.history import History, OpKind, RunInfo, Timing, retime_reply
from harness.sim.replication import SimRedis
from harness.sim.scheduler import Scheduler
from harness.sim.worker import ActiveScan, SimWorker, advance
from harness.target.service import ServiceFactory, WorkerParts, WorkerService
from reference_impl import (
    Reply,
    ServiceConfig,
    StrategyOutcome,
    StrategyProfile,
    drop_column,
    open_engine,
    seed_database,
)
from reference_impl.strategies import strategy_names
from reference_impl.target import build as reference_build

#: scenario time 0, as the service's wall clock sees it
EPOCH = datetime(2030, 1, 1, tzinfo=UTC)
_EPOCH_TS = EPOCH.timestamp()

#: told `(worker, event)` each time a worker's service takes one of its interesting paths
WorkerProbe = Callable[[str, str], None]


class SimCluster:
    """A simulated cluster of scan-service workers; drive it, then read `history`.

    >>> from reference_impl import ServiceConfig
    >>> with SimCluster(workers=2, config=ServiceConfig(), seed=1) as cluster:
    ...     cluster.start_scan(at=0.0, user="alice", label="s1", worker=0)
    ...     cluster.poll(at=40.0, user="alice", label="s1")
    ...     cluster.run_until(41.0)
    >>> [op.reply.status for op in cluster.history.ops]
    ['complete', 'complete']
    """

    def __init__(
        self,
        *,
        workers: int,
        config: ServiceConfig,
        seed: int,
        profile: StrategyProfile | None = None,
        missing_columns: tuple[str, ...] = (),
        info: RunInfo | None = None,
        probe: WorkerProbe | None = None,
        jitter: float = 0.1,
        factory: ServiceFactory | None = None,
        regressions: frozenset[str] | None = None,
    ) -> None:
        self.config = config
        #: builds each worker's service: the target's factory (default: the reference)
        self.factory: ServiceFactory = factory or reference_build
        #: the target's regressions switched on (default: the reference's, from `config.bugs`)
        self.regressions = config.bugs if regressions is None else frozenset(regressions)
        self.jitter = jitter
        self.profile = profile or StrategyProfile()
        self.rng = random.Random(seed)
        self.redis = SimRedis()
        self.engine = open_engine("sqlite://")
        seed_database(self.engine, strategy_names(config.strategies), missing_columns)
        self.history = History(
            info
            or RunInfo(
                scenario="adhoc",
                seed=seed,
                bugs=tuple(sorted(self.regressions)),
                workers=workers,
                timing=Timing.of(config),
            )
        )
        self._probe = probe
        self._freezer: Any = None
        self._frozen: Any = None
        self.scheduler = Scheduler()
        self.scan_ids: dict[str, str] = {}
        self._labels: dict[str, str] = {}
        self.workers = [SimWorker(i, self._new_service(i)) for i in range(workers)]
        self._outage_started: float | None = None
        self._failover_lost: list[bytes] = []

    # -- lifecycle ----------------------------------------------------------------------

    def __enter__(self) -> SimCluster:
        self._freezer = freeze_time(EPOCH)
        self._frozen = self._freezer.start()
        self.scheduler = Scheduler(self._frozen)
        for worker in self.workers:
            # First contact in virtual time: what it records carries the cluster's clock.
            worker.service.connect()
            self._schedule_cleanup(worker, first=True)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._freezer is not None:
            self._freezer.stop()
            self._freezer = None
        self.engine.dispose()

    def run_until(self, end: float) -> None:
        if self._freezer is None:
            raise RuntimeError("use SimCluster as a context manager: `with SimCluster(...) as c:`")
        self.scheduler.run_until(end)
        if self._outage_started is not None:
            self.history.fault("redis-outage", self._outage_started, end)
            self._outage_started = None
        self.history.info = replace(self.history.info, duration=end)

    # -- what a scenario can do ---------------------------------------------------------

    def start_scan(self, *, at: float, user: str, label: str, worker: int | None = None) -> None:
        self.scheduler.at(
            at, lambda: self._dispatch(worker, at, lambda w: self._begin(w, user, label, at))
        )

    def poll(
        self, *, at: float, user: str, label: str, worker: int | None = None, fanout: int = 1
    ) -> None:
        def ask(w: SimWorker) -> None:
            scan_id = self.scan_ids.get(label)
            if scan_id is None:  # not started yet: the client has no id to ask about
                self._latest(w, user, at, label)
                return
            self._call(w, "status", user, at, lambda s: s.status(user, scan_id), scan_id, label)

        self.scheduler.at(at, lambda: self._dispatch(worker, at, ask, fanout))

    def latest(self, *, at: float, user: str, worker: int | None = None, fanout: int = 1) -> None:
        self.scheduler.at(
            at,
            lambda: self._dispatch(worker, at, lambda w: self._latest(w, user, at, None), fanout),
        )

    def restart_worker(
        self, *, at: float, worker: int | None = None, label: str | None = None, idle: bool = False
    ) -> None:
        def restart() -> None:
            if idle:
                target = next((w.index for w in self.workers if not w.busy), None)
            else:
                target = self._worker_running(label) if label is not None else worker
            if target is None:
                return
            self._kill(self.workers[target], "worker-restart", "lost", "worker restarted")

        self.scheduler.at(at, restart)

    def redis_outage(self, *, at: float, duration: float) -> None:
        def down() -> None:
            self.redis.up = False
            self._outage_started = self.scheduler.now
            self.history.fault_begins("redis-outage", self._outage_started)

        def up() -> None:
            self.redis.up = True
            if self._outage_started is not None:
                self.history.fault("redis-outage", self._outage_started, self.scheduler.now)
                self._outage_started = None

        self.scheduler.at(at, down)
        self.scheduler.at(at + duration, up)

    def redis_failover(self, *, at: float, promote_after: float, rejoin_after: float) -> None:
        def primary_dies() -> None:
            self.redis.primary_dies()
            self.history.fault_begins("redis-failover", self.scheduler.now)

        def promote() -> None:
            self._failover_lost = self.redis.promote()

        def rejoin() -> None:
            self.redis.rejoin()
            lost = self._failover_lost
            promoted = at + promote_after
            what = f"replica promoted at {promoted:g} s"
            what += (
                f" lacking {len(lost)} key(s): {', '.join(k.decode() for k in lost)}"
                if lost
                else " with every write"
            )
            self.history.fault("redis-failover", at, self.scheduler.now, what, promoted=promoted)

        self.scheduler.at(at, primary_dies)
        self.scheduler.at(at + promote_after, promote)
        self.scheduler.at(at + rejoin_after, rejoin)

    def replica_lag(self, *, at: float, duration: float) -> None:
        def begins() -> None:
            self.redis.lag_begins()
            self.history.fault_begins("replica-lag", at)

        def ends() -> None:
            self.redis.lag_ends()
            self.history.fault("replica-lag", at, self.scheduler.now)

        self.scheduler.at(at, begins)
        self.scheduler.at(at + duration, ends)

    def drop_column(self, *, at: float, column: str) -> None:
        def drop() -> None:
            drop_column(self.engine, column)
            now = self.scheduler.now
            self.history.fault("drop-column", now, now, column)

        self.scheduler.at(at, drop)

    # -- workers ------------------------------------------------------------------------

    def _new_service(self, index: int) -> WorkerService:
        probe = self._probe
        return self.factory(
            WorkerParts(
                config=self.config,
                redis_client=self.redis.client(),
                engine=self.engine,
                profile=self.profile,
                new_id=lambda: f"{self.rng.getrandbits(128):032x}",
                probe=(lambda event: probe(f"w{index}", event)) if probe else (lambda _: None),
                regressions=self.regressions,
                index=index,
            )
        )

    def _schedule_cleanup(self, worker: SimWorker, *, first: bool = False) -> None:
        generation = worker.generation
        interval = self.config.cleanup_interval
        delay = self.rng.uniform(0, interval) if first else interval

        def tick() -> None:
            if worker.generation != generation:
                return
            worker.service.cleanup()
            self._schedule_cleanup(worker)

        self.scheduler.after(delay, tick)

    def _worker_running(self, label: str) -> int | None:
        scan_id = self.scan_ids.get(label)
        for worker in self.workers:
            if worker.active is not None and worker.active.run.scan_id == scan_id:
                return worker.index
        return None

    def _dispatch(
        self, pinned: int | None, at: float, action: Callable[[SimWorker], None], fanout: int = 1
    ) -> None:
        """Send `fanout` concurrent requests: to the pinned worker, else to distinct free workers
        (what the shared listen socket does); a request no free worker takes waits in a queue."""
        if pinned is not None:
            targets = [self.workers[pinned]] * fanout
        else:
            free = [w for w in self.workers if not w.busy]
            targets = self.rng.sample(free, min(fanout, len(free)))
            targets += [self.rng.choice(self.workers) for _ in range(fanout - len(targets))]
        for worker in targets:
            if worker.busy:
                worker.waiting.append(lambda w=worker: action(w))  # type: ignore[misc]
            else:
                action(worker)

    def _kill(self, worker: SimWorker, fault: str, status: str, reason: str) -> None:
        now = self.scheduler.now
        active = worker.active
        worker.generation += 1
        worker.active = None
        worker.service = self._new_service(worker.index)
        worker.service.connect()
        self.history.fault(fault, now, now, worker.name)  # type: ignore[arg-type]
        if active is not None:
            active.steps.close()
            self._record(
                "start",
                active.user,
                worker,
                active.requested,
                Reply(status, scan_id=active.run.scan_id, reason=reason),  # type: ignore[arg-type]
                active.run.scan_id,
                active.label,
            )
        self._schedule_cleanup(worker, first=True)
        self._drain(worker)

    def _drain(self, worker: SimWorker) -> None:
        while worker.waiting and not worker.busy:
            worker.waiting.popleft()()

    # -- requests -----------------------------------------------------------------------

    def _call(
        self,
        worker: SimWorker,
        op: OpKind,
        user: str,
        requested: float,
        ask: Callable[[WorkerService], Reply],
        scan_id: str | None,
        label: str | None,
    ) -> None:
        try:
            reply = ask(worker.service)
        except Exception as error:  # an unhandled error in the service: HTTP 500
            reply = Reply("error", scan_id=scan_id, reason=f"{type(error).__name__}: {error}")
        self._record(op, user, worker, requested, reply, scan_id or reply.scan_id, label)

    def _latest(self, worker: SimWorker, user: str, requested: float, label: str | None) -> None:
        self._call(worker, "latest", user, requested, lambda s: s.latest(user), None, label)

    def _begin(self, worker: SimWorker, user: str, label: str, requested: float) -> None:
        try:
            run = worker.service.begin_scan(user)
        except Exception as error:
            run = Reply("error", reason=f"{type(error).__name__}: {error}")
        if isinstance(run, Reply):
            self._record("start", user, worker, requested, run, None, label)
            return
        self.scan_ids[label] = run.scan_id
        self._labels[run.scan_id] = label
        active = ActiveScan(run, run.steps(), user, label, requested)
        worker.active = active
        generation = worker.generation
        timeout = self.config.worker_timeout

        def worker_timeout() -> None:
            if worker.generation == generation and worker.active is active:
                self._kill(worker, "worker-timeout", "error", "worker timeout: killed by master")

        # Gunicorn's timeout counts from when the worker took the request, not from when the
        # client sent it: time queued behind another request does not count.
        self.scheduler.at(self.scheduler.now + timeout, worker_timeout)
        self._step(worker, active, None)

    def _step(self, worker: SimWorker, active: ActiveScan, outcome: StrategyOutcome | None) -> None:
        def finish(reply: Reply) -> None:
            self._finish(worker, active, reply)

        advance(self.scheduler, self.rng, self.jitter, worker, active, outcome, finish)

    def _finish(self, worker: SimWorker, active: ActiveScan, reply: Reply) -> None:
        worker.active = None
        self._record(
            "start", active.user, worker, active.requested, reply, active.run.scan_id, active.label
        )
        self._drain(worker)

    def _record(
        self,
        op: OpKind,
        user: str,
        worker: SimWorker,
        requested: float,
        reply: Reply,
        scan_id: str | None,
        label: str | None,
    ) -> None:
        # The service speaks wall time; the history speaks scenario time.
        reply = retime_reply(reply, lambda wall: wall - _EPOCH_TS)
        if label is None and scan_id is not None:
            label = self._labels.get(scan_id)
        self.history.record(
            op,
            user=user,
            worker=worker.name,
            start=requested,
            end=self.scheduler.now,
            reply=reply,
            scan_id=scan_id,
            label=label,
        )
