"""`LiveCluster`: a real `redis-server` and a real Gunicorn master with N sync workers on 127.0.0.1.

>>> with LiveCluster(workers=3, config=ServiceConfig(), scale=0.05) as cluster:  # doctest: +SKIP
...     cluster.base_url, cluster.worker_pids()
('http://127.0.0.1:40123', [4711, 4712, 4713])

Interface (kept stable for the load test and the pytest plugin):

- `LiveCluster(*, workers, config, scale, profile, missing_columns, redis_server, workdir)`:
  `config` is in scenario seconds; every duration of the service (and the strategy profile) is
  multiplied by `scale` before the workers see it. `redis_server` is the binary (default: the
  one on PATH; `RedisServerMissing` when there is none). `workdir` holds the Redis directory, the
  SQLite performance database (seeded here, `missing_columns` dropped), the worker settings file,
  the per-worker state files and the logs (a temporary directory, removed on exit, by default).
- A context manager: `__enter__` starts Redis, seeds the database and starts Gunicorn, waiting on
  conditions with deadlines (mirakuru's TCP and HTTP executors, then the worker count);
  `__exit__` stops everything it started, also when the block raised or was interrupted.
- `.base_url`, `.port`, `.redis_port`, `.scale`, `.master_pid`, `.worker_pids()`.
- Faults: `.kill_worker(pid)` (SIGKILL; the master respawns it, its memory is gone),
  `.pause_redis()`/`.resume_redis()` (SIGSTOP/SIGCONT), `.stop_redis()`/`.start_redis()`
  (SHUTDOWN SAVE, then the same binary on the same port, data reloaded from its snapshot),
  `.drop_column(name)` (on the database file, under the running workers).
- `.running_scans()`: worker pid -> the scan it is running (from the workers' state files).
- Time: `.to_scenario_time(t)` turns a wall-clock (`time.time()`) or monotonic
  (`time.monotonic()`) reading into scenario seconds since the cluster became ready.

Redis client timeouts are scaled too, but never below `MIN_REDIS_TIMEOUT` wall seconds: on a
loaded machine a shorter timeout would read as an outage that was never injected.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import psutil
import redis
from mirakuru import HTTPExecutor, TCPExecutor
from redis.backoff import NoBackoff
from redis.retry import Retry

from reference_impl import (
    RedisSettings,
    ServiceConfig,
    StrategyProfile,
    drop_column,
    open_engine,
    seed_database,
)
from reference_impl.strategies import strategy_names
from reference_impl.web import SETTINGS_ENV, WebSettings

#: wall seconds: the shortest Redis socket timeout a worker gets, whatever the scale
MIN_REDIS_TIMEOUT = 0.25
#: wall seconds to wait for a process to start or for the workers to come up
START_TIMEOUT = 30.0
INSTALL_HINT = (
    "install it (Debian/Ubuntu: `apt-get install redis-server`; macOS: `brew install redis`) "
    "or name a binary with --redis-server PATH"
)


class LiveClusterError(RuntimeError):
    """The live cluster could not be started or driven (an infrastructure failure)."""


class RedisServerMissing(LiveClusterError):
    """No `redis-server` binary to run."""


def find_redis_server(path: str | None = None) -> str:
    """The redis-server binary to run: `path` if given, else the one on PATH."""
    if path is not None:
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            raise RedisServerMissing(f"redis-server {path!r} is not an executable file")
        return path
    found = shutil.which("redis-server")
    if found is None:
        raise RedisServerMissing(f"redis-server not found on PATH: {INSTALL_HINT}")
    return found


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def live_config(config: ServiceConfig, scale: float) -> ServiceConfig:
    """`config` as the workers run it: every duration scaled, Redis timeouts floored."""
    scaled = config.scaled(scale)
    r = config.redis
    return replace(
        scaled,
        redis=RedisSettings(
            connect_timeout=max(MIN_REDIS_TIMEOUT, r.connect_timeout * scale),
            socket_timeout=max(MIN_REDIS_TIMEOUT, r.socket_timeout * scale),
            retries=r.retries,
        ),
    )


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
        self.redis_binary = find_redis_server(redis_server)
        self._own_workdir = workdir is None
        self._workdir_arg = Path(workdir) if workdir is not None else None
        self.workdir = Path()
        self.port = 0
        self.redis_port = 0
        self._redis: TCPExecutor | None = None
        self._gunicorn: HTTPExecutor | None = None
        self._logs: list[IO[str]] = []
        self._t0_wall = 0.0
        self._t0_mono = 0.0
        self._redis_paused = False

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
    def worker_config(self) -> ServiceConfig:
        return live_config(self.config, self.scale)

    def __enter__(self) -> LiveCluster:
        if self._workdir_arg is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="scanchaos-live-"))
        else:
            self.workdir = self._workdir_arg
            self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            self._start()
        except BaseException:
            self._teardown()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._teardown()

    def _start(self) -> None:
        (self.workdir / "redis").mkdir(exist_ok=True)
        self.state_dir.mkdir(exist_ok=True)
        engine = open_engine(f"sqlite:///{self.database_path}")
        try:
            seed_database(engine, strategy_names(self.config.strategies), self.missing_columns)
        finally:
            engine.dispose()
        self.redis_port = free_port()
        self._redis = TCPExecutor(
            self._redis_command(),
            host="127.0.0.1",
            port=self.redis_port,
            timeout=START_TIMEOUT,
            stdout=self._log("redis.out"),
        )
        self._start_redis_process()
        cfg = self.worker_config
        settings = WebSettings(
            config=cfg,
            redis_url=f"redis://127.0.0.1:{self.redis_port}/0",
            database_url=f"sqlite:///{self.database_path}",
            profile=StrategyProfile(
                seconds=self.profile.seconds * self.scale, hang=self.profile.hang
            ),
            state_dir=str(self.state_dir),
            scale=self.scale,
        )
        settings_path = self.workdir / "web-settings.json"
        settings_path.write_text(settings.to_json(), encoding="utf-8")
        self.port = free_port()
        timeout = max(1, math.ceil(cfg.worker_timeout))
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "python:reference_impl.gunicorn_conf",
            "--workers",
            str(self.workers),
            "--timeout",
            str(timeout),
            "--bind",
            f"127.0.0.1:{self.port}",
            "--error-logfile",
            str(self.workdir / "gunicorn.log"),
            "reference_impl.web:app",
        ]
        self._gunicorn = HTTPExecutor(
            command,
            url=f"{self.base_url}/health",
            method="GET",
            timeout=START_TIMEOUT,
            envvars={SETTINGS_ENV: str(settings_path)},
            stop_signal=signal.SIGINT,
            stdout=self._log("gunicorn.out"),
        )
        self._gunicorn.start()
        self._wait_for(lambda: len(self.worker_pids()) == self.workers, "Gunicorn workers")
        self._t0_wall = time.time()
        self._t0_mono = time.monotonic()

    def _redis_command(self) -> list[str]:
        return [
            self.redis_binary,
            "--port",
            str(self.redis_port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.workdir / "redis"),
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
        ]

    def _log(self, name: str) -> IO[str]:
        handle = open(self.workdir / name, "a", encoding="utf-8")  # noqa: SIM115
        self._logs.append(handle)
        return handle

    def _start_redis_process(self) -> None:
        assert self._redis is not None
        try:
            self._redis.start()
        except Exception as error:
            raise LiveClusterError(
                f"redis-server did not start on 127.0.0.1:{self.redis_port}: {error} "
                f"(log: {self.workdir / 'redis.out'})"
            ) from None

    def _wait_for(self, condition: Any, what: str, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise LiveClusterError(f"timed out after {timeout:.0f} s waiting for {what}")
            time.sleep(0.02)

    def _teardown(self) -> None:
        errors: list[str] = []
        if self._redis_paused:
            self.resume_redis()
        for executor in (self._gunicorn, self._redis):
            if executor is None:
                continue
            try:
                executor.stop()
            except Exception as error:  # stopping must go on to the next process
                errors.append(str(error))
                executor.kill()
        self._gunicorn = None
        self._redis = None
        for handle in self._logs:
            handle.close()
        self._logs.clear()
        if self._own_workdir and self.workdir != Path():
            shutil.rmtree(self.workdir, ignore_errors=True)

    # -- processes ----------------------------------------------------------------------

    @property
    def master_pid(self) -> int:
        if self._gunicorn is None or self._gunicorn.process is None:
            raise LiveClusterError("the Gunicorn master is not running")
        return self._gunicorn.process.pid

    @property
    def redis_pid(self) -> int | None:
        if self._redis is None or self._redis.process is None:
            return None
        return self._redis.process.pid

    def worker_pids(self) -> list[int]:
        """The pids of the live Gunicorn workers, oldest first."""
        try:
            children = psutil.Process(self.master_pid).children()
        except psutil.NoSuchProcess:
            return []
        alive = []
        for child in children:
            try:
                if child.status() != psutil.STATUS_ZOMBIE:
                    alive.append((child.create_time(), child.pid))
            except psutil.NoSuchProcess:
                continue
        return [pid for _, pid in sorted(alive)]

    def kill_worker(self, pid: int) -> None:
        """SIGKILL one worker: its memory and its request in flight are gone."""
        if pid not in self.worker_pids():
            raise LiveClusterError(f"{pid} is not a worker of this cluster")
        os.kill(pid, signal.SIGKILL)

    def running_scans(self) -> dict[int, dict[str, Any]]:
        """Worker pid -> {scan_id, user, started_at} of the scan it is running."""
        found: dict[int, dict[str, Any]] = {}
        alive = set(self.worker_pids())
        for path in self.state_dir.iterdir():
            if not path.name.isdigit():
                continue
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # written or removed right now
            pid = int(path.name)
            if pid in alive:
                found[pid] = data
        return found

    def scan_record(self, scan_id: str) -> tuple[int, dict[str, Any]] | None:
        """The worker that ran (or runs) `scan_id`, dead or alive, from its state file."""
        for path in self.state_dir.iterdir():
            if not path.name.isdigit():
                continue
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if data.get("scan_id") == scan_id:
                return int(path.name), data
        return None

    # -- Redis faults -------------------------------------------------------------------

    def pause_redis(self) -> None:
        """SIGSTOP the server: connections stay open, every command times out."""
        pid = self.redis_pid
        if pid is None:
            raise LiveClusterError("redis-server is not running")
        os.kill(pid, signal.SIGSTOP)
        self._redis_paused = True

    def resume_redis(self) -> None:
        pid = self.redis_pid
        if pid is not None:
            os.kill(pid, signal.SIGCONT)
        self._redis_paused = False

    def stop_redis(self) -> None:
        """Shut the server down, saving a snapshot: connections are refused until restart."""
        if self._redis is None:
            raise LiveClusterError("redis-server is not running")
        client = self.redis_client()
        try:
            client.shutdown(save=True)
        except redis.ConnectionError:
            pass  # the server closed the connection as it went down
        finally:
            client.close()
        self._redis.stop(expected_returncode=0)

    def start_redis(self) -> None:
        """Start the same binary on the same port; it reloads its snapshot."""
        self._start_redis_process()

    def redis_client(self) -> redis.Redis:
        """A client for the harness itself (inspection, not the service's contract)."""
        return redis.Redis(
            host="127.0.0.1", port=self.redis_port, socket_timeout=5, retry=Retry(NoBackoff(), 0)
        )

    # -- database faults ----------------------------------------------------------------

    def drop_column(self, name: str) -> None:
        engine = open_engine(f"sqlite:///{self.database_path}")
        try:
            drop_column(engine, name)
        finally:
            engine.dispose()

    # -- time ---------------------------------------------------------------------------

    def to_scenario_time(self, t: float) -> float:
        """Scenario seconds for a `time.time()` or `time.monotonic()` reading.

        Readings above 1e9 are taken as wall-clock (epoch) times: a monotonic clock (seconds
        since boot) does not reach that for thirty years.
        """
        origin = self._t0_wall if t > 1e9 else self._t0_mono
        return (t - origin) / self.scale

    def wall_time(self, scenario_t: float) -> float:
        """The monotonic reading at which scenario time `scenario_t` falls."""
        return self._t0_mono + scenario_t * self.scale
