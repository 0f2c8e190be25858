"""`RedisServer`: one real `redis-server` on a free 127.0.0.1 port, with its own directory.

Started through mirakuru's `TCPExecutor` (ready when the port accepts), stopped on exit. Faults:
`pause()`/`resume()` (SIGSTOP/SIGCONT: connections stay open, commands time out) and
`stop()`/`start()` (SHUTDOWN SAVE, then the same binary on the same port, reloading its snapshot,
so data and TTLs survive as they would a restart in production).

redis-server cannot pick its own port (`--port 0` turns TCP off), so the first start takes a free
port and, when another process takes it in between ("address in use", or something else already
answering there), tries again on another one, up to `PORT_ATTEMPTS` times. Once started, the port
is kept: a restart must come back where the clients look.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
from collections.abc import Sequence
from pathlib import Path

import redis
from mirakuru.exceptions import AlreadyRunning
from redis.backoff import NoBackoff
from redis.retry import Retry

from harness.live.processes import GuardedTCPExecutor

#: wall seconds to wait for the server to accept connections
START_TIMEOUT = 30.0
#: ports tried on the first start before giving up (each taken by another process meanwhile)
PORT_ATTEMPTS = 5
INSTALL_HINT = (
    "install it (Debian/Ubuntu: `apt-get install redis-server`; macOS: `brew install redis`) "
    "or name a binary with --redis-server PATH"
)


class LiveClusterError(RuntimeError):
    """A live process could not be started or driven (an infrastructure failure)."""


class RedisServerMissing(LiveClusterError):
    """No `redis-server` binary to run."""


class _NotOurs(LiveClusterError):
    """Another process answers on the port chosen for our server."""


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


class RedisServer:
    """A context manager running one `redis-server`; see the module docstring."""

    #: what the process is recorded as (the leftovers record, error messages)
    what = "redis-server"

    def __init__(
        self, directory: Path, *, binary: str | None = None, extra_args: Sequence[str] = ()
    ) -> None:
        self.binary = find_redis_server(binary)
        self.directory = directory
        #: more `--option value` arguments (replication settings, see `harness.live.sentinel`)
        self.extra_args = list(extra_args)
        self.port = free_port()
        self.paused = False
        self._started = False
        self._executor = self._executor_for(self.port)

    def _command(self, port: int) -> list[str]:
        return [
            self.binary,
            *self._process_args(port),
            "--save",
            "",
            "--appendonly",
            "no",
            *self.extra_args,
        ]

    def _process_args(self, port: int) -> list[str]:
        """Where the server listens, works and logs: on loopback, in its own directory."""
        return [
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.directory),
            "--daemonize",
            "no",
            "--logfile",
            str(self.log),
        ]

    def _executor_for(self, port: int) -> GuardedTCPExecutor:
        return GuardedTCPExecutor(
            self._command(port),
            what=self.what,
            host="127.0.0.1",
            port=port,
            timeout=START_TIMEOUT,
            sleep=0.01,
            stdout=subprocess.DEVNULL,
        )

    @property
    def log(self) -> Path:
        return self.directory / "redis.log"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        process = self._executor.process
        return None if process is None else process.pid

    def __enter__(self) -> RedisServer:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.paused:
            self.resume()
        try:
            self._executor.stop()
        except Exception:  # already gone in an odd way: make sure of it
            self._executor.kill()

    def start(self) -> None:
        attempts = 1 if self._started else PORT_ATTEMPTS
        for attempt in range(1, attempts + 1):
            log_size = self.log.stat().st_size if self.log.exists() else 0
            try:
                self._executor.start()
                self._check_answering_is_ours()
            except Exception as error:
                self._executor.kill()
                taken = isinstance(error, (AlreadyRunning, _NotOurs)) or self._log_says_in_use(
                    log_size
                )
                if taken and attempt < attempts:
                    self.port = free_port()
                    self._executor = self._executor_for(self.port)
                    continue
                raise LiveClusterError(
                    f"{self.what} did not start on 127.0.0.1:{self.port}: {error} (log: {self.log})"
                ) from None
            self._started = True
            return

    def _log_says_in_use(self, since: int) -> bool:
        try:
            with self.log.open("rb") as handle:
                handle.seek(since)
                return b"Address already in use" in handle.read()
        except OSError:
            return False

    def _check_answering_is_ours(self) -> None:
        """The server on our port is the one we started, not a process that took the port."""
        client = self.client()
        try:
            answering = client.info("server").get("process_id")
        finally:
            client.close()
        if answering != self.pid:
            raise _NotOurs(f"port {self.port} is answered by pid {answering}, not {self.pid}")

    def stop(self) -> None:
        """Shut down, saving a snapshot: connections are refused until `start()`."""
        client = self.client()
        try:
            client.shutdown(save=True)
        except redis.ConnectionError:
            pass  # the server closed the connection as it went down
        finally:
            client.close()
        self._executor.stop(expected_returncode=0)

    def kill(self) -> None:
        """SIGKILL: the server dies at once, with whatever it had not yet sent its replicas."""
        if self.paused:
            self.resume()
        self._executor.kill()

    def restart(self, extra_args: Sequence[str]) -> None:
        """Start again on the same port with other `extra_args` (after `kill`)."""
        self.extra_args = list(extra_args)
        self._executor = self._executor_for(self.port)
        self.start()

    def pause(self) -> None:
        pid = self.pid
        if pid is None:
            raise LiveClusterError("redis-server is not running")
        os.kill(pid, signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        pid = self.pid
        if pid is not None:
            os.kill(pid, signal.SIGCONT)
        self.paused = False

    def client(self) -> redis.Redis:
        """A client for the harness itself (inspection and control, not the service)."""
        return redis.Redis(
            host="127.0.0.1", port=self.port, socket_timeout=5, retry=Retry(NoBackoff(), 0)
        )
