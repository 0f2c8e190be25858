"""The reference service on its own, on fakeredis: contract keys, bad input, regressions."""

from __future__ import annotations

import fakeredis
import pytest
import redis
from sqlalchemy.exc import OperationalError

from reference_impl import (
    PerformanceStore,
    ScanRun,
    ScanService,
    ServiceConfig,
    StrategyCall,
    StrategyOutcome,
    drop_column,
    open_engine,
    seed_database,
)
from reference_impl.keys import is_contract_key
from reference_impl.strategies import STRATEGY_NAMES


class InlineExecutor:
    """Runs each strategy at once: enough to exercise the service without a cluster."""

    def run(self, call: StrategyCall) -> StrategyOutcome:
        try:
            return StrategyOutcome(opportunities=call.run())
        except Exception as error:
            return StrategyOutcome(error=error)


@pytest.fixture
def server() -> fakeredis.FakeServer:
    return fakeredis.FakeServer()


def make(
    server: fakeredis.FakeServer,
    *bugs: str,
    missing: tuple[str, ...] = (),
    client_class: type[redis.Redis] = redis.Redis,
) -> ScanService:
    engine = open_engine("sqlite://")
    seed_database(engine, STRATEGY_NAMES, missing)
    client = client_class(
        connection_pool=redis.ConnectionPool(
            connection_class=fakeredis.FakeRedisConnection, server=server
        )
    )
    config = ServiceConfig(bugs=frozenset(bugs))
    return ScanService(
        config=config,
        redis_client=client,
        performance=PerformanceStore(engine, select_all_columns=config.has("select-all-columns")),
        executor=InlineExecutor(),
    )


def contract_keys_only(server: fakeredis.FakeServer) -> bool:
    client = fakeredis.FakeRedis(server=server)
    return all(is_contract_key(k.decode()) for k in client.keys("*"))


def test_a_scan_completes_and_every_worker_serves_it(server: fakeredis.FakeServer) -> None:
    a, b = make(server), make(server)
    reply = a.start_scan("alice")
    assert reply.status == "complete" and reply.done == reply.total == 14
    assert reply.scan_id is not None
    assert b.status("alice", reply.scan_id).status == "complete"
    assert b.latest("alice").scan_id == reply.scan_id
    assert contract_keys_only(server)


@pytest.mark.parametrize("scan_id", ["*", "a:b", "x" * 5000, "", "../etc", "A" * 32])
def test_malformed_ids_are_refused_without_touching_redis(
    server: fakeredis.FakeServer, scan_id: str
) -> None:
    service = make(server)
    assert service.status("alice", scan_id).status == "bad_request"
    assert service.status("alice*", "a" * 32).status == "bad_request"
    assert fakeredis.FakeRedis(server=server).keys("*") == []


def test_another_user_gets_not_found_unless_scope_is_broken(server: fakeredis.FakeServer) -> None:
    scan_id = make(server).start_scan("alice").scan_id
    assert scan_id is not None
    assert make(server).status("mallory", scan_id).status == "not_found"
    assert make(server, "no-user-scope").status("mallory", scan_id).status == "complete"


class CountingRedis(redis.Redis):
    """A client that keeps the name of every command it sends (scripts by their Lua call)."""

    sent: list[str] = []

    def execute_command(self, *args: object, **options: object) -> object:
        self.sent.append(str(args[0]))
        return super().execute_command(*args, **options)


def test_a_result_restored_from_redis_is_polled_with_its_lookup_alone(
    server: fakeredis.FakeServer,
) -> None:
    scan_id = make(server).start_scan("alice").scan_id
    assert scan_id is not None
    CountingRedis.sent = sent = []
    reader = make(server, client_class=CountingRedis)
    first = reader.status("alice", scan_id)
    assert (first.status, first.source) == ("complete", "redis")
    # Lookup and result in one round trip (the script is loaded first on a new server).
    assert sent[-1] == "EVALSHA" and "GET" not in sent
    sent.clear()
    again = reader.status("alice", scan_id)
    assert (again.status, again.source) == ("complete", "memory")
    assert sent == ["GET"]  # the lookup only: the result is final
    # The incident's mechanism holds: a lookup deleted from Redis is a 404, memory or not.
    fakeredis.FakeRedis(server=server).delete(f"opportunity_scan_lookup:{scan_id}")
    assert reader.status("alice", scan_id).status == "not_found"


def test_missing_annual_return_reads_as_null(server: fakeredis.FakeServer) -> None:
    reply = make(server, missing=("annual_return",)).start_scan("alice")
    assert reply.status == "complete"
    assert reply.null_fields == ("annual_return",)


def test_select_all_columns_crashes_on_a_missing_column(server: fakeredis.FakeServer) -> None:
    with pytest.raises(OperationalError):
        make(server, "select-all-columns", missing=("annual_return",)).start_scan("alice")


def test_column_dropped_after_the_first_query_is_tolerated() -> None:
    engine = open_engine("sqlite://")
    seed_database(engine, STRATEGY_NAMES)
    store = PerformanceStore(engine)
    assert store.rows_for("momentum")[0].annual_return is not None
    drop_column(engine, "annual_return")
    assert store.rows_for("momentum")[0].annual_return is None


def test_outage_answers_unavailable_and_refuses_to_start(server: fakeredis.FakeServer) -> None:
    service = make(server)
    scan_id = service.start_scan("alice").scan_id
    assert scan_id is not None
    other = make(server)
    server.connected = False
    assert other.status("alice", scan_id).status == "unavailable"
    assert other.start_scan("alice").status == "unavailable"
    with pytest.raises(redis.exceptions.ConnectionError):
        make(server, "redis-errors-raise").status("alice", scan_id)


def test_a_write_deferred_by_an_outage_is_repaired_by_the_cleanup(
    server: fakeredis.FakeServer,
) -> None:
    service = make(server)
    run = service.begin_scan("alice")
    assert isinstance(run, ScanRun)
    server.connected = False
    service.save(run.entry.finished(run.entry.started_at + 1, "complete"))
    server.connected = True
    other = make(server)
    assert other.status("alice", run.scan_id).status == "scanning"
    service.cleanup()
    assert other.status("alice", run.scan_id).status == "complete"
