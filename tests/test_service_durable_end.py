"""A scan's start request answers only once its terminal result is in Redis.

Found by exploring the moment Redis heals: a scan that completed during an outage was answered
`complete` from the worker's memory alone; a worker started as Redis came back, blind to the
outage, read the old heartbeat and recorded `failed` (worker lost), and compare-and-set then
refused the repaired write, so the client's `complete` turned into `failed`.
"""

from __future__ import annotations

import pytest

from harness.runner import simulate
from harness.scenario import Poll, RedisOutage, RestartWorker, Scenario, Start
from reference_impl import ServiceConfig, StrategyProfile


def _heal_restart() -> Scenario:
    return Scenario(
        name="heal-restart",
        description="a scan completes in an outage; an idle worker restarts as Redis heals",
        workers=3,
        duration=60.0,
        steps=(
            Start(at=0.0, user="alice", scan="s1"),
            Poll(scan="s1", start=41.5, until=45.5, every=1.0, fanout=3),
        ),
        faults=(RedisOutage(at=1.0, duration=40.0), RestartWorker(at=41.0, idle=True)),
        profile=StrategyProfile(seconds=2.0),
    )


def test_the_start_answers_after_redis_is_back_and_every_read_agrees_with_it() -> None:
    result = simulate(_heal_restart(), seed=0)
    start = next(op for op in result.history.ops if op.op == "start")
    assert start.end >= 41.0, "answered while the result was in memory only"
    statuses = {(op.reply.status, op.reply.reason) for op in result.history.ops}
    assert statuses == {(start.reply.status, start.reply.reason)}
    assert result.verdict.violated() == set()


def test_without_the_compare_and_set_the_late_write_lands_on_the_stall_verdict() -> None:
    # The planted regression the guard exists for goes red on the same schedule.
    result = simulate(_heal_restart(), bugs=("terminal-overwrite",), seed=0)
    assert result.verdict.violated() & {"terminal-is-final", "monotonic-reads", "terminates"}


def test_an_outage_past_the_worker_timeout_answers_unavailable_then_the_cleanup_saves_it() -> None:
    cfg = ServiceConfig()
    scenario = Scenario(
        name="long-outage",
        description="a scan completes in an outage that outlasts the worker timeout",
        workers=3,
        duration=320.0,
        steps=(
            Start(at=0.0, user="alice", scan="s1", worker=0),
            # the scan's own worker, once its start has given up, still in the outage
            Poll(scan="s1", start=178.0, until=178.0, every=1.0, worker=0),
            Poll(scan="s1", start=260.0, until=270.0, every=5.0, fanout=3),
        ),
        faults=(RedisOutage(at=1.0, duration=250.0),),
        profile=StrategyProfile(seconds=2.0),
    )
    result = simulate(scenario, seed=0)
    ops = sorted(result.history.ops, key=lambda op: op.start)
    start, inside, *after = ops
    assert start.op == "start"
    assert (start.reply.status, start.reply.reason) == ("unavailable", "result not saved yet")
    assert start.end < cfg.worker_timeout, "the worker timeout would have killed the request"
    assert start.reply.scan_id is not None
    # Its memory holds the result, but Redis does not: not served as complete yet.
    assert (inside.start, inside.worker, inside.reply.status) == (178.0, "w0", "unavailable")
    assert after and {op.reply.status for op in after} == {"complete"}
    assert result.verdict.violated() == set()


@pytest.mark.parametrize("seed", range(5))
def test_the_heal_schedule_holds_for_other_seeds(seed: int) -> None:
    assert simulate(_heal_restart(), seed=seed).verdict.violated() == set()


def test_no_reader_is_told_complete_before_redis_holds_it() -> None:
    # Found by exploring the fixed service: the start gave up at the worker timeout, a poll
    # queued on the scan's worker was answered `complete` from its memory, and a worker started
    # as Redis returned judged the scan stalled: `complete`, then `failed`.
    scenario = Scenario(
        name="memory-only-complete",
        description="a 200 s outage outlives the start; an idle worker restarts at the heal",
        workers=3,
        duration=206.0,
        steps=(
            Start(at=0.0, user="alice", scan="s1"),
            Poll(scan="s1", start=3.5, until=7.5, every=1.0, fanout=3),
            Poll(scan="s1", start=200.5, until=204.5, every=1.0, fanout=3),
        ),
        faults=(RedisOutage(at=0.0, duration=200.0), RestartWorker(at=200.0, idle=True)),
        profile=StrategyProfile(seconds=2.0),
    )
    result = simulate(scenario, seed=0)
    assert not [op for op in result.history.ops if op.end < 200.0 and op.reply.terminal]
    assert result.verdict.violated() == set()


def test_a_verdict_recorded_after_an_outage_outlives_the_deletion_of_an_expired_result() -> None:
    # Found exploring for 600 s (job seed 0, after the fifth run): the scan completed at 28 s
    # in a 360 s outage, its result due to expire at 328 s unseen. As Redis came back a worker
    # judged the running entry Redis still held stalled and showed `failed`; the scan's own
    # worker then repaired its expired result by deleting the scan's keys, verdict and all,
    # and the next read was 404. The deletion is compare-and-set like any write.
    scenario = Scenario(
        name="verdict-after-expired-result",
        description="a stall verdict after a long outage and an expired result's repair",
        workers=3,
        duration=376.5,
        steps=(
            Start(at=0.0, user="alice", scan="s1"),
            Poll(scan="s1", start=360.5, until=375.5, every=1.0, fanout=3),
        ),
        faults=(RedisOutage(at=0.0, duration=360.0),),
    )
    result = simulate(scenario)
    assert result.verdict.passed, result.verdict.violations
    statuses = {op.reply.status for op in result.history.ops if op.op == "status"}
    assert statuses == {"failed"}
    broken = simulate(scenario, bugs=("terminal-overwrite",))
    assert "reachable-until-expiry" in broken.verdict.violated()
