"""Real faults on a live cluster, each returning the window it opened, in one meaning.

A window runs from the moment the fault is injected until the cluster is whole again: a worker
restart until the master's replacement is ready to serve, a Redis outage until Redis answers a
command. The scenario schedule (`harness.live.schedule`) and the load nemesis
(`harness.load.nemesis`) both inject faults through these functions, so their histories say the
same thing about the same fault.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from typing import Any, Literal, Protocol

__all__ = ["RESPAWN_DEADLINE", "Breakable", "OutageKind", "redis_down", "redis_up", "restart"]

OutageKind = Literal["stop", "pause"]

#: wall seconds a killed worker may take to be replaced before its window is closed anyway
RESPAWN_DEADLINE = 15.0


class Breakable(Protocol):
    """The fault controls of a live cluster."""

    def worker_pids(self) -> list[int]: ...
    def running_scans(self) -> dict[int, dict[str, Any]]: ...
    def kill_worker(self, pid: int) -> None: ...
    def wait_for_workers(self, timeout: float, gone: Collection[int] = ()) -> None: ...
    def pause_redis(self) -> None: ...
    def resume_redis(self) -> None: ...
    def stop_redis(self) -> None: ...
    def start_redis(self) -> None: ...
    def wait_for_redis(self, timeout: float) -> None: ...


def restart(
    cluster: Breakable,
    pid: int,
    record: Callable[[float, float], object],
    now: Callable[[], float] = time.time,
    opened: Callable[[float], object] = lambda began: None,
) -> None:
    """SIGKILL worker `pid`, wait for its replacement, then `record(began, ended)` the window
    in `now()` readings (also when the replacement is late: the window is closed anyway).
    `opened(began)` is told first, so that a journal shows a window a kill cut short."""
    began = now()
    opened(began)
    cluster.kill_worker(pid)
    try:
        cluster.wait_for_workers(RESPAWN_DEADLINE, gone=(pid,))
    finally:
        record(began, now())


def redis_down(cluster: Breakable, kind: OutageKind) -> None:
    """Stop Redis (connections refused) or SIGSTOP it (commands time out)."""
    if kind == "pause":
        cluster.pause_redis()
    else:
        cluster.stop_redis()


def redis_up(cluster: Breakable, kind: OutageKind) -> None:
    """Bring Redis back from `redis_down(kind)` and return once it answers."""
    if kind == "pause":
        cluster.resume_redis()
    else:
        cluster.start_redis()
    cluster.wait_for_redis(RESPAWN_DEADLINE)
