"""`RedisServer`: one real `redis-server` on a free 127.0.0.1 port, with its own directory.

Started through mirakuru's `TCPExecutor` (ready when the port accepts), stopped on exit. Faults:
`pause()`/`resume()` (SIGSTOP/SIGCONT: connections stay open, commands time out) and
`stop()`/`start()` (SHUTDOWN SAVE, then the same binary on the same port, reloading its snapshot,
so data and TTLs survive as they would a restart in production).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
from pathlib import Path

import redis
from mirakuru import TCPExecutor
from redis.backoff import NoBackoff
from redis.retry import Retry

#: wall seconds to wait for the server to accept connections
START_TIMEOUT = 30.0
INSTALL_HINT = (
    "install it (Debian/Ubuntu: `apt-get install redis-server`; macOS: `brew install redis`) "
    "or name a binary with --redis-server PATH"
)


class LiveClusterError(RuntimeError):
    """A live process could not be started or driven (an infrastructure failure)."""


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


class RedisServer:
    """A context manager running one `redis-server`; see the module docstring."""

    def __init__(self, directory: Path, *, binary: str | None = None) -> None:
        self.binary = find_redis_server(binary)
        self.directory = directory
        self.port = free_port()
        self.paused = False
        self._executor = TCPExecutor(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(directory),
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--logfile",
                str(directory / "redis.log"),
            ],
            host="127.0.0.1",
            port=self.port,
            timeout=START_TIMEOUT,
            sleep=0.01,
            stdout=subprocess.DEVNULL,
        )

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
        try:
            self._executor.start()
        except Exception as error:
            self._executor.kill()
            raise LiveClusterError(
                f"redis-server did not start on 127.0.0.1:{self.port}: {error} "
                f"(log: {self.directory / 'redis.log'})"
            ) from None

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
