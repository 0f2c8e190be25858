"""`LiveCluster`: a real `redis-server` and a real Gunicorn master with N sync workers on 127.0.0.1.

>>> with LiveCluster(workers=3, config=ServiceConfig(), scale=0.05) as cluster:  # doctest: +SKIP
...     cluster.base_url, cluster.worker_pids()
('http://127.0.0.1:40123', [4711, 4712, 4713])

Interface (kept stable for the load test and the pytest plugin):

- `LiveCluster(*, workers, config, scale, profile, missing_columns, redis_server, workdir,
  replicated, target, regressions, kill)`: `config` is in scenario seconds, every duration (and
  the strategy profile) multiplied by `scale` before the workers see it. `target` (default: the
  reference) is the service the workers run (`harness.live.launch`; a `[wsgi]` app with its own
  `regressions` switched on) and `.contract` how requests to it are spoken. `workdir` (a
  temporary directory by default, removed on exit) holds Redis's directory, the SQLite
  performance database (`missing_columns` dropped), the worker settings, the per-worker state
  files and the logs.
- A context manager: `__enter__` starts Redis (`RedisServer`, or with `replicated` a primary, a
  replica and three Sentinels), seeds the database and starts Gunicorn (`GunicornServer`),
  waiting on conditions with deadlines; `__exit__` stops all of it, also after an error.
- `.base_url`, `.port`, `.redis_port`, `.redis_pid`, `.master_pid`, `.worker_pids()` (oldest
  first), `.wait_for_workers()` (the full count, each with its service built), `.worker_config`,
  `.redis_client()`, `.running_scans()` and `.scan_record(scan_id)` (from the workers' state
  files, also after a worker died); `.jobs`, a target's job workers (`harness.live.job_workers`).
- Faults, at once: `.kill_worker(pid)` (SIGKILL; the master respawns it), `.pause_redis()` /
  `.resume_redis()` (SIGSTOP/SIGCONT), `.stop_redis()` / `.start_redis()` (SHUTDOWN SAVE, then
  the same binary on the same port), `.wait_for_redis()`, `.alter_drop_column(name)`,
  `.replication()` (the primary, the replica and the Sentinels, for failover and lag).
- The `Cluster` protocol (`harness.cluster`): steps and faults scheduled at scenario times,
  carried out by `run_until` (`harness.live.schedule`); `.history` holds what happened.
- Time: `.clock` (`ScenarioClock`): scenario seconds since the cluster became ready, from a
  `time.time()` or `time.monotonic()` reading, and back. Redis client timeouts are scaled too,
  never below a floor (`harness.live.timing`).
"""

from __future__ import annotations

import math
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

import redis

from harness.history import History, RunInfo, Timing
from harness.live.contract import Contract, reference_contract
from harness.live.faults import OutageKind
from harness.live.gunicorn import GunicornServer
from harness.live.job_workers import JobWorkers, KillKind
from harness.live.launch import drop_column, gunicorn_timeout, job_workers, prepare
from harness.live.leftovers import forget_folder, record_folder
from harness.live.redis_server import (
    LiveClusterError,
    RedisServer,
    RedisServerMissing,
    find_redis_server,
)
from harness.live.schedule import LiveSchedule
from harness.live.sentinel import ReplicatedRedis
from harness.live.state import read_state_files
from harness.live.timing import ScenarioClock, live_config
from reference_impl import ServiceConfig, StrategyProfile

if TYPE_CHECKING:
    from harness.target import Target

__all__ = [
    "LiveCluster",
    "LiveClusterError",
    "RedisServerMissing",
    "find_redis_server",
    "live_config",
]

#: wall seconds to wait for Gunicorn and its workers to come up
START_TIMEOUT = 30.0
#: scenario seconds a primary may be silent before the Sentinels call it down
#: (`down-after-milliseconds`, scaled like every other duration)
FAILOVER_DETECT = 5.0
#: wall seconds: the shortest `down-after-milliseconds` the Sentinels get, whatever the scale
#: (shorter, a loaded machine's pause would read as a dead primary), and long enough that the
#: replica, which Sentinel refuses to promote once cut off for ten times this, stays eligible
#: through a scenario's lag
MIN_DOWN_AFTER = 0.5


class LiveCluster:
    """Redis and Gunicorn on loopback, with real faults; see the module docstring."""

    def __init__(
        self,
        *,
        workers: int,
        config: ServiceConfig,
        scale: float = 0.05,
        profile: StrategyProfile | None = None,
        missing_columns: tuple[str, ...] = (),
        redis_server: str | None = None,
        workdir: str | Path | None = None,
        info: RunInfo | None = None,
        outage: OutageKind = "stop",
        cancel: threading.Event | None = None,
        replicated: bool = False,
        target: Target | None = None,
        regressions: tuple[str, ...] = (),
        kill: KillKind = "worker",
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        if not (math.isfinite(scale) and scale > 0):
            raise ValueError(f"scale must be a positive number, got {scale}")
        self.workers = workers
        self.config = config
        self.scale = scale
        self.profile = profile or StrategyProfile()
        self.missing_columns = missing_columns
        #: the service under test (None: the reference); a `[wsgi]` target runs under the
        #: WSGI adapter with its `regressions` (its own, by name) switched on
        self.target = target if target is not None and not target.is_reference else None
        self.regressions = regressions
        self.jobs: JobWorkers | None = None  # a `[jobs]` target's, killed as `kill` says
        self.kill: KillKind = kill
        self.contract: Contract = reference_contract()
        self.redis_binary = find_redis_server(redis_server)
        self.redis: RedisServer | None = None
        #: a primary, a replica and three Sentinels instead of one Redis (`replicated=True`)
        self.replicated = replicated
        self.redis_pair: ReplicatedRedis | None = None
        self._own_workdir = workdir is None
        self._workdir_arg = Path(workdir) if workdir is not None else None
        self.workdir = Path()
        self.port = 0
        self._gunicorn: GunicornServer | None = None
        #: scenario time, from the moment the cluster became ready
        self.clock = ScenarioClock(scale)
        self._closing = threading.Event()
        info = info or RunInfo("adhoc", mode="live", workers=workers, timing=Timing.of(config))
        self.schedule = LiveSchedule(self, History(info), outage, cancel)

    # -- lifecycle ----------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def state_dir(self) -> Path:
        return self.workdir / "state"

    @property
    def database_path(self) -> Path:
        return self.workdir / "performance.sqlite"

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.database_path}"

    @property
    def worker_config(self) -> ServiceConfig:
        return live_config(self.config, self.scale)

    def __enter__(self) -> LiveCluster:
        if self._workdir_arg is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="scanchaos-live-"))
            record_folder(self.workdir)
        else:
            self.workdir = self._workdir_arg
            self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            self._start()
        except BaseException:
            self._teardown()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._teardown()

    def _start(self) -> None:
        self.state_dir.mkdir(exist_ok=True)
        sentinels: tuple[tuple[str, int], ...] = ()
        if self.replicated:
            self.redis_pair = ReplicatedRedis(
                self.workdir / "redis", binary=self.redis_binary, down_after=self.down_after
            ).__enter__()
            self.redis = self.redis_pair.primary
            sentinels = tuple(self.redis_pair.sentinel_addresses)
        else:
            self.redis = RedisServer(self.workdir / "redis", binary=self.redis_binary).__enter__()
        launch = prepare(self, sentinels)
        self.contract = launch.contract
        self.jobs = job_workers(self, launch)
        self._gunicorn = GunicornServer(
            app=launch.app,
            workers=self.workers,
            timeout=gunicorn_timeout(self.worker_config),
            log=self.workdir / "gunicorn.log",
            env=launch.env,
            config=launch.config,
            health=launch.health,
            output=launch.output,
        )
        self._gunicorn.start()
        self.port = self._gunicorn.port
        self.wait_for_workers()
        self.clock.start()

    def _wait_for(self, condition: Any, what: str, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            # A client thread still waiting once the run was interrupted must not hold the
            # harness's exit up for the whole timeout (threads are joined at exit).
            if self._closing.is_set() or self.schedule.stopping.is_set():
                raise LiveClusterError(f"stopped while waiting for {what}")
            if time.monotonic() > deadline:
                raise LiveClusterError(f"timed out after {timeout:.0f} s waiting for {what}")
            time.sleep(0.02)

    def _teardown(self) -> None:
        self._closing.set()
        # Gunicorn and the job workers first (they hold Redis connections), then Redis.
        if self._gunicorn is not None:
            self._gunicorn.stop()
            self._gunicorn = None
        jobs, self.jobs = self.jobs, None
        if jobs is not None:
            jobs.stop()
        if self.redis_pair is not None:
            self.redis_pair.close()
            self.redis_pair = None
        elif self.redis is not None:
            self.redis.close()
        self.redis = None
        if self._own_workdir and self.workdir != Path():
            shutil.rmtree(self.workdir, ignore_errors=True)
            forget_folder(self.workdir)

    @property
    def master_pid(self) -> int:
        if self._gunicorn is None:
            raise LiveClusterError("the Gunicorn master is not running")
        return self._gunicorn.master_pid

    @property
    def redis_port(self) -> int:
        return self._redis_server().port

    @property
    def redis_pid(self) -> int | None:
        return self._redis_server().pid

    def _redis_server(self) -> RedisServer:
        """The Redis the workers write to (with replication: the primary now)."""
        if self.redis_pair is not None:
            return self.redis_pair.primary
        if self.redis is None:
            raise LiveClusterError("redis-server is not running")
        return self.redis

    def replication(self) -> ReplicatedRedis:
        if self.redis_pair is None:
            raise LiveClusterError(
                "this cluster runs one Redis: a failover or a replica lag needs "
                "LiveCluster(replicated=True)"
            )
        return self.redis_pair

    @property
    def down_after(self) -> float:
        """Wall seconds before the Sentinels call a silent primary down: the scaled
        `failover_detect` of the configuration, at least `MIN_DOWN_AFTER`."""
        return max(MIN_DOWN_AFTER, FAILOVER_DETECT * self.scale)

    def worker_pids(self) -> list[int]:
        """The pids of the live Gunicorn workers, oldest first."""
        if self._gunicorn is None:
            raise LiveClusterError("the Gunicorn master is not running")
        return self._gunicorn.worker_pids()

    def wait_for_workers(self, timeout: float = START_TIMEOUT, gone: Collection[int] = ()) -> None:
        """Wait until the master runs its full count of workers (after a kill, the respawn),
        none of them in `gone`: a worker just sent SIGKILL runs on for a moment, with its
        ready file, and would count as its own replacement."""

        def ready() -> bool:
            pids = self.worker_pids()
            return (
                len(pids) == self.workers
                and not set(gone) & set(pids)
                and all((self.state_dir / f"ready-{pid}").exists() for pid in pids)
            )

        self._wait_for(ready, "Gunicorn workers", timeout)

    def kill_worker(self, pid: int) -> None:
        """SIGKILL one worker: its memory and its request in flight are gone."""
        if pid not in self.worker_pids():
            raise LiveClusterError(f"{pid} is not a worker of this cluster")
        os.kill(pid, signal.SIGKILL)

    def running_scans(self) -> dict[int, dict[str, Any]]:
        """Worker pid -> {scan_id, user, started_at} of the scan it is running."""
        alive = set(self.worker_pids())
        return {pid: data for pid, data in read_state_files(self.state_dir) if pid in alive}

    def scan_record(
        self, scan_id: str | None, label: str | None = None
    ) -> tuple[int, dict[str, Any]] | None:
        """The worker that ran (or runs) `scan_id` (or the start labelled `label`, as the
        WSGI adapter files it), dead or alive, from its state file."""

        def ran(data: dict[str, Any]) -> bool:
            named = scan_id is not None and data.get("scan_id") == scan_id
            return named or (label is not None and data.get("label") == label)

        return next((entry for entry in read_state_files(self.state_dir) if ran(entry[1])), None)

    # -- Redis and database faults ------------------------------------------------------

    def pause_redis(self) -> None:
        """SIGSTOP the server: connections stay open, every command times out."""
        self._redis_server().pause()

    def resume_redis(self) -> None:
        self._redis_server().resume()

    def stop_redis(self) -> None:
        """Shut the server down, saving a snapshot: connections are refused until restart."""
        self._redis_server().stop()

    def start_redis(self) -> None:
        """Start the same binary on the same port; it reloads its snapshot."""
        self._redis_server().start()

    def redis_client(self) -> redis.Redis:
        """A client for the harness itself (inspection; the job workers' faults)."""
        return self._redis_server().client()

    def wait_for_redis(self, timeout: float = START_TIMEOUT) -> None:
        """Wait until Redis answers a command (after `start_redis` or `resume_redis`)."""
        client = self.redis_client()

        def answers() -> bool:
            try:
                return bool(client.ping())
            except redis.RedisError:
                return False

        try:
            self._wait_for(answers, "redis-server to answer", timeout)
        finally:
            client.close()

    def alter_drop_column(self, name: str) -> None:
        drop_column(self.database_url, name, reference=self.target is None)

    # -- the Cluster protocol (see harness.live.schedule) -------------------------------

    @property
    def history(self) -> History:
        return self.schedule.history

    def start_scan(self, *, at: float, user: str, label: str, worker: int | None = None) -> None:
        self.schedule.start_scan(at, user, label, worker)

    def poll(
        self, *, at: float, user: str, label: str, worker: int | None = None, fanout: int = 1
    ) -> None:
        self.schedule.poll(at, user, label, worker, fanout)

    def latest(self, *, at: float, user: str, worker: int | None = None, fanout: int = 1) -> None:
        self.schedule.latest(at, user, worker, fanout)

    def restart_worker(
        self, *, at: float, worker: int | None = None, label: str | None = None, idle: bool = False
    ) -> None:
        self.schedule.restart_worker(at, worker, label, idle)

    def redis_outage(self, *, at: float, duration: float) -> None:
        self.schedule.redis_outage(at, duration)

    def redis_failover(self, *, at: float, promote_after: float, rejoin_after: float) -> None:
        self.replication()
        self.schedule.redis_failover(at, rejoin_after)

    def replica_lag(self, *, at: float, duration: float) -> None:
        self.replication()
        self.schedule.replica_lag(at, duration)

    def drop_column(self, *, at: float, column: str) -> None:
        self.schedule.drop_column(at, column)

    def run_until(self, end: float) -> None:
        self.schedule.run_until(end)
