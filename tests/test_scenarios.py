"""Each shipped scenario exercises what it says it does (its history shows the situation).

These tests do not judge the service (the checker does that, in the gate); they make sure a
scenario really creates the situation it is named after, so that a pass means something.
"""

from __future__ import annotations

import itertools
from functools import cache

import pytest

from harness.history import History, Operation
from harness.runner import RunResult, simulate
from harness.scenario import Latest, Poll, RestartWorker, Start, available, load


@cache
def fixed(name: str) -> RunResult:
    return simulate(load(name)[0])


def reads(history: History, label: str | None = None) -> list[Operation]:
    return [
        op
        for op in history.ops
        if op.op in ("status", "latest") and (label is None or op.label == label)
    ]


def completion(history: History, label: str) -> float:
    start = next(op for op in history.ops if op.op == "start" and op.label == label)
    assert start.reply.finished_at is not None
    return start.reply.finished_at


@pytest.mark.parametrize("name", list(available()))
def test_every_scenario_loads_and_states_its_claims(name: str) -> None:
    scenario, source = load(name)
    assert scenario.name == name
    assert source.endswith(name.replace("-", "_") + ".py")
    assert scenario.description
    assert scenario.catches, f"{name} claims to catch nothing"


@pytest.mark.parametrize("name", [n for n in available() if n != "post-completion-404"])
def test_new_scenarios_go_through_the_balancer(name: str) -> None:
    # Live mode cannot aim a request at a worker: only faults may name one.
    scenario = load(name)[0]
    for step in scenario.steps:
        if isinstance(step, (Start, Poll)):
            assert step.worker is None, f"{name}: {step} is pinned to a worker"
        assert isinstance(step, (Start, Poll, Latest))


def test_cross_worker_retrieval_is_answered_by_every_worker_incl_fresh_ones() -> None:
    run = fixed("cross-worker-retrieval")
    done = completion(run.history, "s1")
    restarts = {f.target: f.start for f in run.history.faults if f.fault == "worker-restart"}
    assert set(restarts) == {"w1", "w2"}
    served = {
        op.worker
        for op in reads(run.history, "s1")
        if op.reply.status == "complete" and op.start > done
    }
    assert served == {"w0", "w1", "w2"}
    for worker, at in restarts.items():
        after = [o for o in reads(run.history, "s1") if o.worker == worker and o.start > at]
        assert after


def test_worker_restart_mid_scan_kills_the_running_worker_and_the_scan_fails() -> None:
    run = fixed("worker-restart-mid-scan")
    s1 = next(op for op in run.history.ops if op.op == "start" and op.label == "s1")
    restart = next(f for f in run.history.faults if f.fault == "worker-restart")
    assert restart.target == s1.worker
    assert s1.reply.status == "lost"
    assert reads(run.history, "s1")[-1].start > restart.start
    s2 = next(op for op in run.history.ops if op.op == "start" and op.label == "s2")
    assert s2.worker != s1.worker


def test_worker_restart_after_complete_restarts_every_worker_after_completion() -> None:
    run = fixed("worker-restart-after-complete")
    done = completion(run.history, "s1")
    restarts = [f for f in run.history.faults if f.fault == "worker-restart"]
    assert {f.target for f in restarts} == {"w0", "w1", "w2"}
    assert all(f.start > done for f in restarts)
    last_restart = max(f.start for f in restarts)
    assert any(o.start > last_restart for o in reads(run.history, "s1"))
    # A restarted worker has nothing in memory: its first answer comes from Redis.
    for restart in restarts:
        first = next(
            o
            for o in reads(run.history, "s1")
            if o.op == "status" and o.worker == restart.target and o.start > restart.start
        )
        assert first.reply.source == "redis"


@pytest.mark.parametrize("name", ["redis-outage-during-scan", "redis-outage-at-completion"])
def test_outage_scenarios_see_503_while_down_and_the_result_after(name: str) -> None:
    run = fixed(name)
    outage = next(f for f in run.history.faults if f.fault == "redis-outage")
    during = [o for o in reads(run.history, "s1") if outage.start < o.start < outage.end]
    assert any(o.reply.status == "unavailable" for o in during)
    settled = max(outage.end + 5, completion(run.history, "s1") + 1)
    assert any(o.start > settled for o in reads(run.history, "s1"))
    if name == "redis-outage-at-completion":
        assert outage.start < completion(run.history, "s1") < outage.end
    else:
        assert completion(run.history, "s1") > outage.end
        refused = next(op for op in run.history.ops if op.op == "start" and op.label == "s2")
        assert refused.reply.status == "unavailable"


def test_ttl_expiry_reads_every_worker_before_and_after_the_ttl() -> None:
    run = fixed("ttl-expiry")
    ttl = run.history.info.timing.result_ttl
    for label in ("s1", "s2"):
        done = completion(run.history, label)
        ops = reads(run.history, label)
        before = {o.worker for o in ops if done + ttl - 5 < o.start < done + ttl}
        gone = [o for o in ops if o.start > done + ttl + 1]
        assert before == {"w0", "w1", "w2"}
        assert {o.worker for o in gone} == {"w0", "w1", "w2"}


@pytest.mark.parametrize("name", ["missing-annual-return", "missing-annual-return-mid-scan"])
def test_missing_column_scans_complete_with_the_field_null(name: str) -> None:
    run = fixed(name)
    for label in ("s1", "s2"):
        start = next(op for op in run.history.ops if op.op == "start" and op.label == label)
        assert "annual_return" in start.reply.null_fields
    if name.endswith("mid-scan"):
        drop = next(f for f in run.history.faults if f.fault == "drop-column")
        s1 = next(op for op in run.history.ops if op.op == "start" and op.label == "s1")
        assert s1.start < drop.start < (s1.reply.finished_at or 0)


def test_stale_progress_reads_hop_between_workers_while_scanning() -> None:
    run = fixed("stale-progress")
    scanning = [o for o in reads(run.history, "s1") if o.reply.status == "scanning"]
    assert len({o.worker for o in scanning}) >= 3
    hops = sum(1 for a, b in itertools.pairwise(scanning) if a.worker != b.worker)
    assert hops > len(scanning) // 3


def test_user_isolation_probes_foreign_scans_while_running_and_after() -> None:
    run = fixed("user-isolation")
    foreign = [
        o for o in run.history.ops if o.op == "status" and o.label == "a1" and o.user != "alice"
    ]
    assert {o.user for o in foreign} == {"bob", "mallory"}
    done = completion(run.history, "a1")
    assert any(o.start < done for o in foreign) and any(o.start > done for o in foreign)


def test_budget_vs_worker_timeout_saves_partial_before_the_timeout() -> None:
    run = fixed("budget-vs-worker-timeout")
    timing = run.history.info.timing
    for label in ("s1", "s2"):
        start = next(op for op in run.history.ops if op.op == "start" and op.label == label)
        # The budget ran out: the scan ended with strategies left (the checker judges how).
        assert start.reply.done is not None and start.reply.done < (start.reply.total or 0)
        assert start.end - start.start > timing.scan_budget - 1


def test_many_users_has_dozens_of_concurrent_scans_and_mixed_faults() -> None:
    scenario = load("many-users")[0]
    run = fixed("many-users")
    starts = [op for op in run.history.ops if op.op == "start"]
    assert len({op.user for op in starts}) >= 24
    kinds = {f.fault for f in run.history.faults}
    assert {"worker-restart", "redis-outage", "drop-column"} <= kinds
    assert any(isinstance(f, RestartWorker) and f.scan for f in scenario.faults)
    # Scans overlap: at some moment many are running at once.
    spans = [(op.start, op.end) for op in starts]
    busiest = max(sum(1 for a, b in spans if a <= t < b) for t, _ in spans)
    assert busiest >= 8


def test_latest_after_rescan_asks_latest_while_each_scan_is_the_newest() -> None:
    run = fixed("latest-after-rescan")
    first, second = completion(run.history, "s1"), completion(run.history, "s2")
    s2 = next(op for op in run.history.ops if op.op == "start" and op.label == "s2")
    assert first < s2.start < second
    latest = [o for o in run.history.ops if o.op == "latest"]
    assert any(o.start < s2.start for o in latest) and any(o.start > second for o in latest)


def test_stall_race_has_a_fresh_worker_judge_the_scan_before_its_worker_repairs_it() -> None:
    run = fixed("stall-race")
    outage = next(f for f in run.history.faults if f.fault == "redis-outage")
    restart = next(f for f in run.history.faults if f.fault == "worker-restart")
    s1 = next(op for op in run.history.ops if op.op == "start" and op.label == "s1")
    assert restart.target != s1.worker and restart.start == outage.end
    assert outage.end - outage.start > run.history.info.timing.stall_timeout
    judged = [
        o for o in reads(run.history, "s1") if o.worker == restart.target and o.start > outage.end
    ]
    assert judged[0].start - outage.end < 0.01
    assert judged[0].reply.reason == "worker lost"
