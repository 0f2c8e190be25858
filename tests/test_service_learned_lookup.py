"""A result restored from Redis is polled again from memory, without a Redis round trip.

The scan_id -> cache_key mapping never changes, so a worker that restored a finished result keeps
the mapping beside it (for the memory TTL): the load benchmark's status poll depends on it.
"""

from __future__ import annotations

from collections.abc import Iterator

import fakeredis
import pytest
import redis

from reference_impl import (
    PerformanceStore,
    ScanService,
    ServiceConfig,
    StrategyCall,
    StrategyOutcome,
    open_engine,
    seed_database,
)
from reference_impl.strategies import strategy_names


class Inline:
    def run(self, call: StrategyCall) -> StrategyOutcome:
        return StrategyOutcome(opportunities=call.run())


@pytest.fixture
def workers() -> Iterator[tuple[fakeredis.FakeServer, ScanService, ScanService]]:
    server = fakeredis.FakeServer()
    engine = open_engine("sqlite://")
    config = ServiceConfig()
    seed_database(engine, strategy_names(config.strategies))

    def worker() -> ScanService:
        pool = redis.ConnectionPool(connection_class=fakeredis.FakeRedisConnection, server=server)
        return ScanService(
            config=config,
            redis_client=redis.Redis(connection_pool=pool),
            performance=PerformanceStore(engine),
            executor=Inline(),
        )

    yield server, worker(), worker()
    engine.dispose()


def test_a_restored_result_is_served_from_memory_while_redis_is_away(
    workers: tuple[fakeredis.FakeServer, ScanService, ScanService],
) -> None:
    server, a, b = workers
    done = a.start_scan("alice")
    assert done.status == "complete" and done.scan_id is not None
    assert b.status("alice", done.scan_id).source == "redis"  # restored into b's memory
    server.connected = False
    again = b.status("alice", done.scan_id)
    assert (again.status, again.source) == ("complete", "memory")
    # Owner scoping still holds for the memory copy.
    assert b.status("mallory", done.scan_id).status == "not_found"


def test_an_unknown_scan_still_asks_redis(
    workers: tuple[fakeredis.FakeServer, ScanService, ScanService],
) -> None:
    server, _, b = workers
    server.connected = False
    assert b.status("alice", "f" * 32).status == "unavailable"
