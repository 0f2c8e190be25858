"""A terminal write is saved once a replica has it: through a failover the result survives
(`RedisSettings.replica_acks`, the `no-replica-ack` regression, `failover-after-completion`)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from freezegun import freeze_time

from harness.runner import simulate
from harness.scenario import (
    Latest,
    Poll,
    RedisFailover,
    ReplicaLag,
    Scenario,
    Start,
    load,
)
from harness.sim.replication import SimRedis
from reference_impl import (
    PerformanceStore,
    ScanRun,
    ScanService,
    ServiceConfig,
    open_engine,
    seed_database,
)
from reference_impl.config import RedisSettings
from reference_impl.strategies import strategy_names

REPLICATED = ServiceConfig(redis=RedisSettings(replica_acks=1))


def _service(sim: SimRedis, config: ServiceConfig = REPLICATED) -> ScanService:
    engine = open_engine("sqlite://")
    seed_database(engine, strategy_names(config.strategies), ())
    return ScanService(
        config=config, redis_client=sim.client(), performance=PerformanceStore(engine)
    )


def _passing_statuses(scenario: Scenario) -> set[str]:
    """The statuses reads by id answered in `scenario` on the fixed service, which must pass."""
    result = simulate(scenario)
    assert result.verdict.passed, result.verdict.violations
    return {op.reply.status for op in result.history.ops if op.op == "status"}


def _finished(service: ScanService) -> str:
    run = service.begin_scan("alice")
    assert isinstance(run, ScanRun)
    service.save(run.entry.finished(run.entry.updated_at, "complete"))
    return run.entry.cache_key


def test_a_terminal_write_no_replica_acknowledged_stays_pending_until_one_does() -> None:
    with freeze_time("2030-01-01") as clock:
        sim = SimRedis()
        service = _service(sim)
        sim.lag_begins()
        key = _finished(service)
        assert service.pending(key)
        sim.lag_ends()
        clock.tick(3)
        service.cleanup()
        assert not service.pending(key)


def test_under_no_replica_ack_the_primary_answer_is_trusted() -> None:
    with freeze_time("2030-01-01"):
        sim = SimRedis()
        service = _service(sim, replace(REPLICATED, bugs=frozenset({"no-replica-ack"})))
        sim.lag_begins()
        assert not service.pending(_finished(service))


def test_after_a_failover_the_pending_result_is_written_to_the_new_primary() -> None:
    with freeze_time("2030-01-01") as clock:
        sim = SimRedis()
        writer, reader = _service(sim), _service(sim)
        reader.cleanup()  # each worker has met the first primary
        writer.cleanup()
        sim.lag_begins()
        run = writer.begin_scan("alice")
        assert isinstance(run, ScanRun)
        writer.save(run.entry.finished(run.entry.updated_at, "complete"))
        sim.primary_dies()
        sim.promote()
        # The reader sees the break, then a missing key: not yet a 404, the writer may not
        # have rewritten it.
        clock.tick(1)
        assert reader.status("alice", run.scan_id).status == "unavailable"
        assert reader.status("alice", run.scan_id).status == "unavailable"
        for _ in range(2):
            clock.tick(2)
            writer.cleanup()
            reader.cleanup()
        assert reader.status("alice", run.scan_id).status == "complete"
        assert writer.pending(run.entry.cache_key)  # the promoted primary has no replica yet
        sim.rejoin()
        clock.tick(2)
        writer.cleanup()
        assert not writer.pending(run.entry.cache_key)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_failover_after_completion_passes_on_the_fixed_service(seed: int) -> None:
    result = simulate(load("failover-after-completion")[0], seed=seed)
    assert result.verdict.passed, result.verdict.violations
    after = [op for op in result.history.ops if op.op == "status" and 60.0 < op.start < 320.0]
    assert after and {op.reply.status for op in after} == {"complete"}


def test_failover_after_completion_catches_no_replica_ack() -> None:
    result = simulate(load("failover-after-completion")[0], bugs=("no-replica-ack",))
    assert "reachable-until-expiry" in result.verdict.violated()
    [failover] = [f for f in result.history.faults if f.fault == "redis-failover"]
    assert (failover.start, failover.end) == (50.0, 60.0)
    # The scan's four keys (and the workers' contact stamp, rewritten every cleanup tick).
    assert failover.target is not None and "lacking 5 key(s)" in failover.target
    for family in (
        "scan_lookup:",
        "scan_result:",
        "user_latest_scan:",
        "user_scans:",
        "scan_contact",
    ):
        assert f"opportunity_{family}" in failover.target


def test_a_scan_begun_as_the_primary_dies_is_never_answered_not_found() -> None:
    # Found exploring the fixed service: the scan's registration reached the lagging primary
    # only, the promotion lost it, and its running worker wrote it back at its next strategy,
    # after another worker's doubt (one cleanup interval) had ended: a 404 for a running scan.
    # Its write now retries once on the new primary, and the doubt lasts as long as a running
    # scan may go without contact (the heartbeat interval).
    scenario = Scenario(
        name="begun-as-the-primary-dies",
        description="a scan starts as the primary dies with the replica behind",
        workers=3,
        duration=166.5,
        steps=(
            Start(at=160.0, user="alice", scan="s3"),
            Poll(scan="s3", start=160.0, until=160.0),
            Poll(scan="s3", start=161.5, until=165.5, fanout=3),
        ),
        faults=(
            ReplicaLag(at=130.0, duration=31.0),
            RedisFailover(at=160.0, promote_after=1.0, rejoin_after=3.0),
        ),
    )
    statuses = _passing_statuses(scenario)
    assert "not_found" not in statuses and "unavailable" in statuses


def test_a_failover_before_a_workers_first_request_is_noticed_as_one() -> None:
    # Found exploring the fixed service: a worker whose first contact came after the promotion
    # took the promoted replica for the primary it had always been, doubted nothing, and
    # answered 404 for a scan whose registration the promotion lost. Workers now learn the
    # primary as they start (`ScanService.connect`).
    scenario = Scenario(
        name="failover-before-first-request",
        description="the primary dies as the first scan starts",
        workers=3,
        duration=7.5,
        steps=(
            Poll(scan="s1", start=1.0, until=1.0),
            Start(at=1.0, user="alice", scan="s1"),
            Poll(scan="s1", start=2.5, until=6.5, fanout=3),
        ),
        faults=(
            ReplicaLag(at=0.0, duration=2.0),
            RedisFailover(at=1.0, promote_after=1.0, rejoin_after=3.0),
        ),
    )
    statuses = _passing_statuses(scenario)
    assert "not_found" not in statuses


def test_a_failover_between_two_requests_without_an_error_is_noticed() -> None:
    # Found exploring the fixed service: a worker whose last request came just before the
    # primary died met no error at its next one, because redis-py checks a pooled connection
    # as it hands it out and silently reconnects one its server closed, to the promoted replica.
    # It answered 404 for a running scan whose registration the promotion lost. A worker now
    # asks which server is primary before answering that a key is missing.
    with freeze_time("2030-01-01") as clock:
        sim = SimRedis()
        writer, reader = _service(sim), _service(sim)
        writer.connect()
        reader.connect()
        assert reader.latest("bob").status == "not_found"  # a pooled connection, in use
        sim.lag_begins()
        run = writer.begin_scan("alice")
        assert isinstance(run, ScanRun)
        sim.primary_dies()
        clock.tick(1)
        sim.promote()
        clock.tick(0.5)
        assert reader.status("alice", run.scan_id).status == "unavailable"
        assert reader.latest("alice").status == "unavailable"


def test_the_silent_failover_schedule_passes() -> None:
    scenario = Scenario(
        name="explored-fixed-s0",
        description="a latest read just before the primary dies, a poll after the promotion",
        workers=3,
        duration=19.5,
        steps=(
            Start(at=1.0, user="alice", scan="s1"),
            Latest(user="alice", start=1.0, until=1.0),
            Poll(scan="s1", start=2.5, until=18.5, every=4.0, fanout=3),
        ),
        faults=(
            ReplicaLag(at=0.0, duration=2.0),
            RedisFailover(at=1.0, promote_after=1.0, rejoin_after=3.0),
        ),
    )
    statuses = _passing_statuses(scenario)
    assert "not_found" not in statuses
