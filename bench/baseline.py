"""Baselines measured in the same run, on the same machine, as the figure they divide.

Absolute figures belong to the machine that printed them; a ratio to a baseline timed beside it
travels. Two baselines:

- `bare_round_trips(n)`: n redis-py GETs against an embedded fakeredis server with nothing else
  around them, the floor under every simulated operation;
- `reference_run()`: one simulated run of the incident's scenario on the fixed service (wall
  and CPU seconds), the unit the gate and the reports are counted in.
"""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import fakeredis
import redis

__all__ = ["Cost", "bare_round_trips", "count_round_trips", "cpu_seconds", "reference_run"]


@dataclass(frozen=True)
class Cost:
    wall: float
    cpu: float


def cpu_seconds() -> float:
    """CPU seconds of this process and of every finished child it waited for."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _median_cost(action: Callable[[], object], repeat: int) -> Cost:
    walls, cpus = [], []
    for _ in range(repeat):
        cpu, began = time.process_time(), time.perf_counter()
        action()
        walls.append(time.perf_counter() - began)
        cpus.append(time.process_time() - cpu)
    return Cost(statistics.median(walls), statistics.median(cpus))


def bare_round_trips(n: int, repeat: int = 5) -> Cost:
    """The cost of `n` bare GET round trips through redis-py to an embedded fakeredis."""
    client = redis.Redis(
        connection_pool=redis.ConnectionPool(
            connection_class=fakeredis.FakeRedisConnection, server=fakeredis.FakeServer()
        )
    )
    client.set("opportunity_scan_lookup:x", "y", px=300_000)

    def trips() -> None:
        for _ in range(n):
            client.get("opportunity_scan_lookup:x")

    trips()  # warm the connection
    return _median_cost(trips, repeat)


@contextmanager
def count_round_trips() -> Iterator[list[int]]:
    """Count redis-py round trips (one per command, one per pipeline) while the block runs."""
    counter = [0]
    command, execute = redis.Redis.execute_command, redis.client.Pipeline.execute

    def counted_command(self: redis.Redis, *args: object, **kwargs: object) -> object:
        counter[0] += 1
        return command(self, *args, **kwargs)

    def counted_execute(self: redis.client.Pipeline, *args: object, **kwargs: object) -> object:
        counter[0] += 1
        return execute(self, *args, **kwargs)

    redis.Redis.execute_command = counted_command  # type: ignore[method-assign]
    redis.client.Pipeline.execute = counted_execute  # type: ignore[method-assign]
    try:
        yield counter
    finally:
        redis.Redis.execute_command = command  # type: ignore[method-assign]
        redis.client.Pipeline.execute = execute  # type: ignore[method-assign]


def reference_run(repeat: int = 3) -> Cost:
    """One simulated post-completion-404 run on the fixed service (median wall and CPU s)."""
    from harness.runner import simulate
    from harness.scenario import load

    scenario, _ = load("post-completion-404")
    simulate(scenario, seed=0)  # warm imports and caches
    return _median_cost(lambda: simulate(scenario, seed=0), repeat)
