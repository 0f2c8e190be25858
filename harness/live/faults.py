"""Real faults on a live cluster, each returning the window it opened, in one meaning.

A window runs from the moment the fault is injected until the cluster is whole again: a worker
restart until the master's replacement is ready to serve, a Redis outage until Redis answers a
command, a failover until the old primary is back as the new one's replica and in sync, a
replica lag until the replica has caught up. The scenario schedule (`harness.live.schedule`)
and the load nemesis (`harness.load.nemesis`) both inject faults through these functions, so
their histories say the same thing about the same fault.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from typing import Any, Literal, Protocol

import redis

from harness.live.sentinel import ReplicatedRedis

__all__ = [
    "RESPAWN_DEADLINE",
    "Breakable",
    "OutageKind",
    "failover",
    "lag",
    "redis_down",
    "redis_up",
    "restart",
]

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
    def replication(self) -> ReplicatedRedis: ...


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


def _holdings(server_client: redis.Redis) -> dict[bytes, tuple[bytes, int]]:
    """Every key of a server: its serialised value and its remaining time to live (ms)."""
    held: dict[bytes, tuple[bytes, int]] = {}
    for key in server_client.scan_iter(count=1000):
        value, ttl = server_client.dump(key), server_client.pttl(key)
        if value is not None:
            held[key] = (value, ttl)
    return held


def failover(
    pair: ReplicatedRedis,
    record: Callable[[float, float, str, float | None], object],
    now: Callable[[], float],
    rejoin_at: Callable[[float], object],
    opened: Callable[[float], object] = lambda began: None,
) -> None:
    """SIGKILL the primary, wait for Sentinel to promote the replica, `rejoin_at(promoted)`
    (waits until the old primary may rejoin), rejoin it as replica, then
    `record(began, ended, what, promoted)`: `promoted` is when the replica was promoted (None:
    it was not), and `what` says how long after the kill that was and which keys it lacked,
    by comparing what each server held (the old primary read just before its death: a write
    in between is not counted)."""
    client = pair.primary.client()
    try:
        before = _holdings(client)
    except redis.RedisError:
        before = {}
    finally:
        client.close()
    began = now()
    opened(began)
    died = time.monotonic()
    old_port = pair.primary.port
    pair.kill_primary()
    what = f"primary 127.0.0.1:{old_port} killed; not promoted"
    promoted: float | None = None
    try:
        pair.wait_promoted()
        promoted = at_promotion = now()
        client = pair.primary.client()
        try:
            after = _holdings(client)
        finally:
            client.close()
        gone_ms = (time.monotonic() - died) * 1000
        lost = sorted(
            key
            for key, (value, ttl) in before.items()
            if (ttl < 0 or ttl > gone_ms) and after.get(key, (None, 0))[0] != value
        )
        # A duration, not a time: the nemesis's clock is the epoch, the schedule's the scenario.
        what = (
            f"replica 127.0.0.1:{pair.primary.port} promoted {at_promotion - began:.3g} s "
            f"after primary 127.0.0.1:{old_port} died,"
        )
        what += (
            f" lacking {len(lost)} key(s): {', '.join(k.decode() for k in lost)}"
            if lost
            else " with every write"
        )
        rejoin_at(at_promotion)
        pair.rejoin()
    finally:
        record(began, now(), what, promoted)


def lag(pair: ReplicatedRedis, begins: bool) -> None:
    """The replica stops receiving writes (`begins`), or catches up (returns once it has)."""
    if begins:
        pair.lag_begins()
    else:
        pair.lag_ends(RESPAWN_DEADLINE)
