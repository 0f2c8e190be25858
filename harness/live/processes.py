"""Starting the harness's processes so that none outlives it, even when it is SIGKILLed.

Every process the harness starts (redis-server, the Gunicorn master, Locust) goes through here:

- In the child, between fork and exec (`preexec_fn`): a new session (so a stop signal reaches its
  whole group), then on Linux `prctl(PR_SET_PDEATHSIG, SIGKILL)`: the kernel kills the child the
  moment its parent dies, whatever killed the parent. If the parent died before the `prctl`, the
  child kills itself. Gunicorn's workers do the same after their own fork (see
  `reference_impl.gunicorn_conf`), so the whole tree goes.
- Linux sends the parent-death signal when the *thread* that forked exits, not the process. So
  every fork happens on a thread that lives as long as the harness: the main thread, or, for
  calls from any other thread (the live gate's runs, the load nemesis restarting Redis), one
  daemon thread started on first use that only ever forks.
- Every child carries `SCANCHAOS_RUN_TOKEN` in its environment (inherited by its own children) and
  is recorded, with its command line and create time, by `harness.live.leftovers`: the second line
  of defence, for whatever the first one misses.

`SCANCHAOS_NO_PDEATHSIG=1` leaves the parent-death signal out. It exists for the test that shows
the second line of defence on its own; nothing else should set it.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import ctypes
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import psutil
from mirakuru import HTTPExecutor, TCPExecutor
from mirakuru.exceptions import AlreadyRunning

from harness.live import leftovers

__all__ = [
    "NO_PDEATHSIG_ENV",
    "GuardedHTTPExecutor",
    "GuardedTCPExecutor",
    "child_setup",
    "listening_ports",
    "live_children",
    "on_spawner_thread",
    "popen",
    "snapshot",
    "wait_gone",
    "wait_listening",
]

NO_PDEATHSIG_ENV = "SCANCHAOS_NO_PDEATHSIG"
_PR_SET_PDEATHSIG = 1

T = TypeVar("T")


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
        return prctl
    except (OSError, AttributeError):
        return None


# Looked up once, here: the child between fork and exec should run as little Python as it can.
_PRCTL = _load_prctl()


def child_setup(*, new_session: bool = True) -> Callable[[], None]:
    """The `preexec_fn` for a child of this process: see the module docstring."""
    parent = os.getpid()
    deathsig = _PRCTL is not None and os.environ.get(NO_PDEATHSIG_ENV) != "1"

    def setup() -> None:
        if new_session:
            os.setsid()
        if deathsig and _PRCTL is not None:
            _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            if os.getppid() != parent:  # the harness died between fork and prctl
                os.kill(os.getpid(), signal.SIGKILL)

    return setup


class _Spawner:
    """Runs forks on one thread that lives as long as the process (see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], concurrent.futures.Future[Any]]]
        self._jobs = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def call(self, fn: Callable[[], T]) -> T:
        if threading.current_thread() is threading.main_thread():
            return fn()
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._serve, name="scanchaos-spawner", daemon=True
                )
                self._thread.start()
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._jobs.put((fn, future))
        return future.result()

    def _serve(self) -> None:
        while True:
            fn, future = self._jobs.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as error:
                future.set_exception(error)


_SPAWNER = _Spawner()


def on_spawner_thread(fn: Callable[[], T]) -> T:
    """Call `fn` (which forks) on the main thread or the spawner thread; return its result."""
    return _SPAWNER.call(fn)


def _child_env(env: dict[str, str] | None) -> dict[str, str]:
    return {**(os.environ if env is None else env), leftovers.TOKEN_ENV: leftovers.token()}


def popen(
    command: Sequence[str], *, what: str, env: dict[str, str] | None = None, **kwargs: Any
) -> subprocess.Popen[bytes]:
    """`subprocess.Popen` for a process that dies with the harness and is recorded as `what`."""
    kwargs["env"] = _child_env(env)
    kwargs["preexec_fn"] = child_setup()
    proc: subprocess.Popen[bytes] = on_spawner_thread(
        lambda: subprocess.Popen(list(command), **kwargs)
    )
    leftovers.record(proc.pid, what)
    return proc


class _Guarded:
    """Mixin for mirakuru executors: the fork goes through `popen`'s machinery."""

    what = "process"
    process: subprocess.Popen[str] | None
    command_parts: list[str]

    @property
    def _popen_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = super()._popen_kwargs  # type: ignore[misc]
        kwargs["preexec_fn"] = child_setup()
        kwargs["env"] = _child_env(kwargs.get("env"))
        return kwargs

    def start(self) -> Any:
        # mirakuru's Executor.start, with the fork moved onto the spawner thread and recorded.
        if self.process is None:
            if self.pre_start_check():
                raise AlreadyRunning(self)  # type: ignore[arg-type]
            kwargs = self._popen_kwargs
            command = self.command_parts
            self.process = on_spawner_thread(lambda: subprocess.Popen(command, **kwargs))
            leftovers.record(self.process.pid, self.what)
        self._set_timeout()
        self.wait_for(self.check_subprocess)
        return self

    # provided by mirakuru's executors
    pre_start_check: Callable[[], bool]
    _set_timeout: Callable[[], None]
    wait_for: Callable[[Callable[[], bool]], Any]
    check_subprocess: Callable[[], bool]


class GuardedTCPExecutor(_Guarded, TCPExecutor):  # type: ignore[misc]
    """mirakuru's `TCPExecutor` (ready when the port accepts), dying with the harness."""

    def __init__(self, command: list[str], *, what: str, **kwargs: Any) -> None:
        super().__init__(command, **kwargs)
        self.what = what


class GuardedHTTPExecutor(_Guarded, HTTPExecutor):  # type: ignore[misc]
    """mirakuru's `HTTPExecutor`, dying with the harness.

    With port 0 in the URL the server picks its own port (bind to port 0) and the executor reads
    back the one it listens on before checking the URL: no window in which another process can
    take a port chosen in advance. `.port` is the port read back.
    """

    def __init__(self, command: list[str], *, url: str, what: str, **kwargs: Any) -> None:
        super().__init__(command, url=url, **kwargs)
        self.what = what
        self._pick_port = self.port == 0

    def pre_start_check(self) -> bool:
        if self._pick_port:
            return False  # nothing to collide with: the server picks a free port itself
        return bool(super().pre_start_check())

    def after_start_check(self) -> bool:
        if self.port == 0:
            if self.process is None:
                return False
            ports = listening_ports(self.process.pid)
            if not ports:
                return False
            self.port = min(ports)
        return bool(super().after_start_check())


def listening_ports(pid: int) -> set[int]:
    """The TCP ports process `pid` listens on (empty if it is gone or listens on none)."""
    try:
        connections = psutil.Process(pid).net_connections(kind="tcp")
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return set()
    return {c.laddr.port for c in connections if c.status == psutil.CONN_LISTEN}


def wait_listening(proc: subprocess.Popen[Any], port: int, timeout: float) -> bool:
    """Wait until `proc` listens on `port` (True) or exits or `timeout` passes (False)."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        if port in listening_ports(proc.pid):
            return True
        time.sleep(0.02)
    return False


def live_children(pid: int) -> list[int]:
    """The pids of `pid`'s children that are not zombies, oldest first ([] when it is gone)."""
    try:
        children = psutil.Process(pid).children()
    except psutil.NoSuchProcess:
        return []
    alive = []
    for child in children:
        with contextlib.suppress(psutil.NoSuchProcess):
            if child.status() != psutil.STATUS_ZOMBIE:
                alive.append((child.create_time(), child.pid))
    return [pid for _, pid in sorted(alive)]


def snapshot(pids: Sequence[int]) -> list[psutil.Process]:
    """Handles on the processes `pids` now (a pid reused later is not mistaken for them)."""
    procs = []
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):
            procs.append(psutil.Process(pid))
    return procs


def wait_gone(procs: Sequence[psutil.Process], timeout: float) -> None:
    """Wait until `procs` have exited; SIGKILL what is left after `timeout` seconds.

    A Gunicorn master's workers die a moment after the master does (their stop signal or their
    parent-death signal is still being delivered): the harness waits for them, so that nothing
    of a stopped cluster is still running when the harness says it stopped it.
    """
    _, alive = psutil.wait_procs(list(procs), timeout=timeout)
    for proc in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(alive, timeout=timeout)
