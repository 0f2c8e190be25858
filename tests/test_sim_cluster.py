"""The simulated cluster: the incident, determinism, sync-worker semantics, faults."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.history import History
from harness.runner import simulate
from harness.scenario import load
from harness.sim.cluster import SimCluster
from reference_impl import ServiceConfig, StrategyProfile


@pytest.fixture(scope="module")
def incident_scenario():  # type: ignore[no-untyped-def]
    return load("post-completion-404")[0]


def test_fixed_service_passes_the_incident(incident_scenario) -> None:  # type: ignore[no-untyped-def]
    result = simulate(incident_scenario, seed=0)
    assert result.verdict.passed, [v.message for v in result.verdict.violations]
    assert sum(op.reply.status == "complete" for op in result.history.ops) > 900


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_cleanup_ignores_redis_gives_the_12_second_404(incident_scenario, seed) -> None:  # type: ignore[no-untyped-def]
    result = simulate(incident_scenario, bugs=("cleanup-ignores-redis",), seed=seed)
    [v] = result.verdict.violations
    assert v.invariant == "reachable-until-expiry"
    assert v.after_completion is not None and 10.0 <= v.after_completion <= 14.0
    # every worker ends up answering not_found
    late = [op for op in result.history.ops if op.start > 100 and op.op == "status"]
    assert {op.worker for op in late if op.reply.status == "not_found"} == {"w0", "w1", "w2"}


def test_same_seed_same_history_byte_for_byte(incident_scenario) -> None:  # type: ignore[no-untyped-def]
    a = simulate(incident_scenario, bugs=("cleanup-ignores-redis",), seed=7).history.dumps()
    b = simulate(incident_scenario, bugs=("cleanup-ignores-redis",), seed=7).history.dumps()
    c = simulate(incident_scenario, bugs=("cleanup-ignores-redis",), seed=8).history.dumps()
    assert a == b
    assert a != c


def test_history_round_trips_through_json_lines(incident_scenario, tmp_path) -> None:  # type: ignore[no-untyped-def]
    history = simulate(incident_scenario, seed=3).history
    path = tmp_path / "history.jsonl"
    history.write(path)
    assert History.read(path).dumps() == history.dumps()


def test_a_failover_records_when_the_replica_was_promoted(tmp_path: Path) -> None:
    with SimCluster(workers=2, config=ServiceConfig(), seed=0) as cluster:
        cluster.redis_failover(at=10.0, promote_after=1.5, rejoin_after=4.0)
        cluster.run_until(20.0)
    path = tmp_path / "history.jsonl"
    cluster.history.write(path)
    [failover] = History.read(path).faults
    assert (failover.start, failover.promoted, failover.end) == (10.0, 11.5, 14.0)
    assert '"promoted":11.5' in path.read_text()


def test_a_worker_running_a_scan_serves_nothing_else() -> None:
    with SimCluster(workers=2, config=ServiceConfig(), seed=0) as cluster:
        cluster.start_scan(at=0.0, user="alice", label="s1", worker=0)
        cluster.poll(at=5.0, user="alice", label="s1", worker=0)
        cluster.poll(at=5.0, user="alice", label="s1", worker=1)
        cluster.run_until(60.0)
    start = next(op for op in cluster.history.ops if op.op == "start")
    by_worker = {op.worker: op for op in cluster.history.ops if op.op == "status"}
    assert by_worker["w1"].end == 5.0 and by_worker["w1"].reply.status == "scanning"
    # the poll aimed at the busy worker waited until its scan ended
    assert by_worker["w0"].start == 5.0
    assert by_worker["w0"].end == pytest.approx(start.end)
    assert by_worker["w0"].reply.status == "complete"


def test_restarting_the_worker_mid_scan_loses_the_request_and_the_scan_fails() -> None:
    with SimCluster(workers=2, config=ServiceConfig(), seed=0) as cluster:
        cluster.start_scan(at=0.0, user="alice", label="s1", worker=0)
        cluster.restart_worker(at=10.0, label="s1")
        for t in range(11, 80):
            cluster.poll(at=float(t), user="alice", label="s1", worker=1)
        cluster.run_until(80.0)
    ops = cluster.history.ops
    start = next(op for op in ops if op.op == "start")
    assert start.reply.status == "lost" and start.end == 10.0
    assert ops[-1].reply.status == "failed" and ops[-1].reply.reason == "worker lost"
    assert [f.fault for f in cluster.history.faults] == ["worker-restart"]


def test_redis_outage_answers_unavailable_then_recovers() -> None:
    with SimCluster(workers=2, config=ServiceConfig(), seed=0) as cluster:
        cluster.start_scan(at=0.0, user="alice", label="s1", worker=0)
        cluster.redis_outage(at=40.0, duration=10.0)
        cluster.poll(at=45.0, user="alice", label="s1", worker=1)
        cluster.poll(at=55.0, user="alice", label="s1", worker=1)
        cluster.run_until(60.0)
    statuses = [op.reply.status for op in cluster.history.ops if op.op == "status"]
    assert statuses == ["unavailable", "complete"]
    [outage] = cluster.history.faults
    assert (outage.fault, outage.start, outage.end) == ("redis-outage", 40.0, 50.0)


def test_hanging_strategy_is_saved_partial_within_the_budget() -> None:
    config = ServiceConfig()
    with SimCluster(
        workers=2, config=config, seed=0, profile=StrategyProfile(hang=frozenset({5}))
    ) as cluster:
        cluster.start_scan(at=0.0, user="alice", label="s1", worker=0)
        for t in range(20, 200, 10):
            cluster.poll(at=float(t), user="alice", label="s1", worker=1)
        cluster.run_until(200.0)
    start = next(op for op in cluster.history.ops if op.op == "start")
    assert start.reply.status == "partial" and start.reply.done == 5
    assert start.end == pytest.approx(config.scan_budget)
    # heartbeats kept the scan alive while it waited: never marked failed
    assert all(op.reply.status != "failed" for op in cluster.history.ops)


def test_budget_over_timeout_gets_the_worker_killed() -> None:
    config = ServiceConfig(bugs=frozenset({"budget-over-timeout"}))
    with SimCluster(
        workers=2, config=config, seed=0, profile=StrategyProfile(hang=frozenset({5}))
    ) as cluster:
        cluster.start_scan(at=0.0, user="alice", label="s1", worker=0)
        cluster.run_until(200.0)
    start = next(op for op in cluster.history.ops if op.op == "start")
    assert start.reply.status == "error" and start.end == pytest.approx(180.0)
    assert [f.fault for f in cluster.history.faults] == ["worker-timeout"]


def test_cluster_must_be_entered() -> None:
    cluster = SimCluster(workers=1, config=ServiceConfig(), seed=0)
    with pytest.raises(RuntimeError, match="context manager"):
        cluster.run_until(1.0)
