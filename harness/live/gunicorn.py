"""`GunicornServer`: a real Gunicorn master with N sync workers on 127.0.0.1, started and stopped.

>>> server = GunicornServer(app="reference_impl.web:app", workers=3, timeout=2,
...                         log=Path("gunicorn.log"), env={})  # doctest: +SKIP
>>> server.start(); server.port, server.worker_pids()  # doctest: +SKIP
(40123, [4711, 4712, 4713])

The master binds a free port of its own choosing (port 0) and the executor reads it back; the
start waits until `/health` answers. `stop()` sends SIGINT (Gunicorn's quick shutdown), kills
the master if that fails, and waits until every worker it had is gone: a worker outliving the
harness would keep a Redis connection and a port.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from mirakuru.exceptions import ProcessExitedWithError

from harness.live.processes import GuardedHTTPExecutor, live_children, snapshot, wait_gone
from harness.live.redis_server import LiveClusterError

__all__ = ["GunicornServer"]

#: wall seconds to wait for the master to answer, and for its workers to be gone at stop
START_TIMEOUT = 30.0


class GunicornServer:
    """One Gunicorn master serving `app` (`module:attribute`) with `workers` sync workers."""

    def __init__(
        self,
        *,
        app: str,
        workers: int,
        timeout: int,
        log: Path,
        env: dict[str, str],
        config: str = "python:reference_impl.gunicorn_conf",
        health: str = "/health",
        output: Path | None = None,
    ) -> None:
        self.app = app
        self.workers = workers
        self.timeout = timeout
        self.log = log
        self.env = env
        self.config = config
        self.health = health
        #: where the master's and workers' own stdout and stderr go (an app's logging, say)
        #: instead of the harness's terminal; None: stderr is the harness's, stdout discarded
        self.output = output
        self.port = 0
        self._executor: GuardedHTTPExecutor | None = None

    def _command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            self.config,
            "--workers",
            str(self.workers),
            "--timeout",
            str(self.timeout),
            "--bind",
            "127.0.0.1:0",
            "--error-logfile",
            str(self.log),
            self.app,
        ]

    def start(self) -> None:
        sink = self.output.open("ab") if self.output is not None else None
        try:
            self._executor = GuardedHTTPExecutor(
                self._command(),
                what="gunicorn master",
                url=f"http://127.0.0.1:0{self.health}",
                method="GET",
                timeout=START_TIMEOUT,
                sleep=0.02,
                envvars=self.env,
                stop_signal=signal.SIGINT,
                stdout=sink or subprocess.DEVNULL,
                stderr=sink,
            )
            self._executor.start()
        except ProcessExitedWithError as error:
            # Most often the app itself: an import error, a setting missing from its
            # environment. Its traceback is in the logs, which go with the cluster's folder.
            raise LiveClusterError(
                f"Gunicorn exited while starting {self.app} (exit code {error.exit_code}); "
                f"the end of its log:\n{self._log_tail()}"
            ) from None
        finally:
            if sink is not None:
                sink.close()  # the master holds its own copy of the descriptor
        self.port = self._executor.port

    def _log_tail(self, lines: int = 12) -> str:
        """The end of Gunicorn's error log: a worker's boot traceback (the master's own output,
        in `output`, ends with its halt, which says less)."""
        text = self.log.read_text(encoding="utf-8", errors="replace") if self.log.is_file() else ""
        return "\n".join(f"  {line}" for line in text.splitlines()[-lines:]) or "  (empty)"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def master_pid(self) -> int:
        if self._executor is None or self._executor.process is None:
            raise LiveClusterError("the Gunicorn master is not running")
        return self._executor.process.pid

    def worker_pids(self) -> list[int]:
        """The pids of the live workers, oldest first."""
        return live_children(self.master_pid)

    def stop(self) -> None:
        """Stop the master and wait until its workers are gone; safe to call twice."""
        if self._executor is None:
            return
        workers = snapshot(self.worker_pids()) if self._executor.process else []
        try:
            self._executor.stop()
        except Exception:
            self._executor.kill()
        self._executor = None
        wait_gone(workers, START_TIMEOUT / 6)
