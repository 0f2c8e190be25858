"""Failover schedules the explorer found against the fixed service (`scanchaos explore`), each
kept as it was shrunk: what the service or the checker got wrong there, and must not again."""

from __future__ import annotations

import pytest

from harness.runner import simulate
from harness.scenario import (
    Latest,
    Poll,
    RedisFailover,
    RedisOutage,
    ReplicaLag,
    RestartWorker,
    Scenario,
    Start,
)
from reference_impl import StrategyProfile


def test_a_scan_orphaned_before_a_promotion_that_lacked_it_is_listed_as_lost() -> None:
    # Found exploring for 600 s (job seed 0): the worker restarted as the scan began, the
    # replica had lagged since before, and the primary died before any read judged it
    # stalled. Nothing holds the scan after the promotion: lost by fault, not a violation.
    scenario = Scenario(
        name="orphaned-then-promoted",
        description="a scan orphaned at once, its only copy on a primary that dies lagged",
        workers=3,
        duration=142.0,
        steps=(
            Start(at=1.0, user="alice", scan="s1"),
            Poll(scan="s1", start=1.0, until=141.0, every=10.0),
        ),
        faults=(
            ReplicaLag(at=0.0, duration=38.0),
            RestartWorker(at=1.0, scan="s1"),
            RedisFailover(at=37.0, promote_after=1.0, rejoin_after=3.0),
        ),
    )
    result = simulate(scenario)
    assert result.verdict.passed, result.verdict.violations
    [lost] = result.verdict.lost_by_fault
    assert "lacked it" in lost.why
    statuses = [op.reply.status for op in result.history.ops if op.op == "status"]
    assert statuses[:4] == ["scanning"] * 4 and statuses[-1] == "not_found"


def test_an_outage_within_a_failovers_doubt_makes_the_doubt_run_from_its_end() -> None:
    # Found exploring for 600 s (job seed 0): a worker restarted at the promotion noticed the
    # new primary at once; Redis then went down for 10 s, in which nobody could write back
    # what the promotion lost. Its doubt had run out by the end of the outage, and it answered
    # 404 for the running scan its worker had not yet written again.
    scenario = Scenario(
        name="failover-then-outage",
        description="a promotion at the start of an outage, a fresh worker reading after it",
        workers=3,
        duration=30.0,
        steps=(
            Start(at=1.0, user="alice", scan="s1"),
            Poll(scan="s1", start=1.0, until=29.0, every=2.0),
            Poll(scan="s1", start=6.5, until=22.5, every=4.0, fanout=3),
        ),
        faults=(
            ReplicaLag(at=0.0, duration=6.0),
            RedisFailover(at=1.0, rejoin_after=7.0),
            RestartWorker(at=6.0, idle=True),
            RedisOutage(at=6.0, duration=10.0),
        ),
    )
    result = simulate(scenario)
    assert result.verdict.passed, result.verdict.violations
    statuses = {op.reply.status for op in result.history.ops if op.op == "status"}
    assert "not_found" not in statuses and "complete" in statuses


def test_a_worker_started_as_an_outage_in_a_failovers_doubt_ends_doubts_too() -> None:
    # Found exploring for 600 s (job seed 0): as above, but the worker that noticed the
    # promotion restarted again as the outage ended. Its successor, the first to reach Redis
    # after the outage, read the record of a failover noticed 10 s before; the contact stamp
    # tells it that nobody reached Redis since, so it doubts from its own first look.
    scenario = Scenario(
        name="failover-outage-restart",
        description="a promotion, an outage, and a worker started as the outage ends",
        workers=3,
        duration=23.5,
        steps=(
            Start(at=1.0, user="alice", scan="s1"),
            Poll(scan="s1", start=1.0, until=1.0),
            Poll(scan="s1", start=6.5, until=22.5, every=4.0, fanout=3),
            Poll(scan="s1", start=16.5, until=20.5, every=1.0, fanout=3),
        ),
        faults=(
            ReplicaLag(at=0.0, duration=6.0),
            RedisFailover(at=1.0, rejoin_after=7.0),
            RestartWorker(at=6.0, idle=True),
            RedisOutage(at=6.0, duration=10.0),
            RestartWorker(at=16.0, idle=True),
        ),
    )
    result = simulate(scenario)
    assert result.verdict.passed, result.verdict.violations
    statuses = [op.reply.status for op in result.history.ops if op.op == "status"]
    assert "not_found" not in statuses and "scanning" in statuses


def test_a_quiet_entry_a_silent_failover_rolled_back_is_not_judged_stalled() -> None:
    # Found exploring the fixed service for 600 s: two scans ended `partial` while the replica
    # lagged; the promotion rolled them back to `scanning`, and a worker that met the promoted
    # replica without an error judged them stalled and answered `failed` over `partial`. A
    # worker now asks which server is primary before it marks a scan failed.
    scenario = Scenario(
        name="explored-fixed-s1",
        description="two scans end partial as the replica lags; the primary dies",
        workers=3,
        duration=178.5,
        steps=(
            Start(at=0.0, user="alice", scan="s1"),
            Start(at=0.0, user="alice", scan="s2"),
            Poll(scan="s1", start=161.5, until=177.5, every=4.0, fanout=3),
            Poll(scan="s2", start=161.5, until=177.5, every=4.0, fanout=3),
        ),
        faults=(
            ReplicaLag(at=130.0, duration=31.0),
            RedisFailover(at=160.0, promote_after=1.0, rejoin_after=3.0),
        ),
        profile=StrategyProfile(hang=frozenset({0})),
    )
    result = simulate(scenario)
    assert result.verdict.passed, result.verdict.violations
    assert not any(op.reply.status == "failed" for op in result.history.ops)


def test_a_lagging_replica_does_not_hold_the_start_reply() -> None:
    # Found exploring the fixed service: the replica lagged for 121 s while the scan ended, so
    # no replica acknowledged its result, and the start request waited for one until it
    # answered 503 "result not saved yet", with Redis up and the primary holding the result.
    scenario = Scenario(
        name="lag-through-the-end",
        description="the replica lags while the scan ends",
        workers=3,
        duration=189.0,
        steps=(Start(at=0.0, user="alice", scan="s1"),),
        faults=(
            ReplicaLag(at=65.0, duration=121.0),
            RedisFailover(at=185.0, promote_after=1.0, rejoin_after=3.0),
        ),
        profile=StrategyProfile(seconds=12.0),
    )
    result = simulate(scenario)
    assert result.verdict.passed, result.verdict.violations
    [start] = [op for op in result.history.ops if op.op == "start"]
    assert start.reply.status == "partial"


def test_a_rolled_back_scanning_entry_is_not_judged_stalled_after_a_failover() -> None:
    # Found exploring the fixed service: the scan ended `partial` while the replica lagged;
    # the promoted replica held its `scanning` entry of 30 s before, and the first worker to
    # read it judged it stalled and wrote `failed`, which compare-and-set then kept over the
    # owner's `partial`. While a failover is in doubt such an entry reads 503.
    scenario = Scenario(
        name="rolled-back-scanning",
        description="a promotion rolls a scan back to an old scanning entry",
        workers=3,
        duration=166.5,
        steps=(
            Start(at=0.0, user="alice", scan="s1"),
            Poll(scan="s1", start=160.0, until=160.0),
            Poll(scan="s1", start=161.5, until=165.5, fanout=3),
        ),
        faults=(
            ReplicaLag(at=130.0, duration=31.0),
            RedisFailover(at=160.0, promote_after=1.0, rejoin_after=3.0),
        ),
        profile=StrategyProfile(hang=frozenset({0})),
    )
    result = simulate(scenario)
    assert result.verdict.passed, result.verdict.violations
    terminal = {op.reply.status for op in result.history.ops if op.reply.terminal}
    assert terminal == {"partial"}


def test_latest_is_not_answered_from_a_rolled_back_pointer() -> None:
    # Found exploring the fixed service: the promotion lost the user's latest pointer to their
    # newest scan, and `latest` answered an older one before the newest one's worker had
    # written it again. While a failover is in doubt, `latest` reads 503.
    scenario = Scenario(
        name="rolled-back-latest",
        description="a promotion rolls the latest pointer back",
        workers=3,
        duration=7.5,
        steps=(
            Start(at=0.0, user="alice", scan="s1"),
            Start(at=1.0, user="alice", scan="s2"),
            Start(at=1.0, user="alice", scan="s3", worker=1),
            Latest(user="alice", start=2.5, until=6.5),
        ),
        faults=(
            ReplicaLag(at=0.0, duration=2.0),
            RedisFailover(at=1.0, promote_after=1.0, rejoin_after=3.0),
        ),
    )
    result = simulate(scenario)
    assert result.verdict.passed, result.verdict.violations
    latest = [op.reply.status for op in result.history.ops if op.op == "latest"]
    assert "unavailable" in latest


def test_a_scan_written_again_after_a_failover_takes_back_the_latest_pointer() -> None:
    # Found exploring the fixed service: the promotion rolled alice's latest pointer back to
    # her first scan; her newer scans' workers wrote them again, but left a pointer naming
    # another scan alone, so `latest` named the first scan once the doubt had passed.
    scenario = Scenario(
        name="latest-pointer-after-failover",
        description="a promotion rolls the latest pointer back past two newer scans",
        workers=3,
        duration=30.0,
        steps=(
            Start(at=0.0, user="alice", scan="s1"),
            Start(at=5.0, user="alice", scan="s2"),
            Start(at=5.0, user="alice", scan="s3"),
            Latest(user="alice", start=19.5, until=29.5),
        ),
        faults=(
            ReplicaLag(at=0.0, duration=19.0),
            RedisFailover(at=18.0, promote_after=1.0, rejoin_after=11.0),
        ),
    )
    result = simulate(scenario)
    assert result.verdict.passed, result.verdict.violations
    answered = [op for op in result.history.ops if op.op == "latest" and op.reply.scan_id]
    assert answered and answered[-1].label in ("s2", "s3")


def test_a_worker_started_after_a_promotion_does_not_judge_a_rolled_back_scan_stalled() -> None:
    # Found exploring the fixed service: a worker restarted as the replica was promoted met it
    # as the only primary it knew, read the scan's entry of 30 s before (the replica lagged),
    # judged it stalled and wrote `failed` over the `partial` the client had been told.
    scenario = Scenario(
        name="fresh-worker-after-promotion",
        description="an idle worker restarts as the replica is promoted",
        workers=3,
        duration=166.5,
        steps=(
            Start(at=0.0, user="alice", scan="s1"),
            Poll(scan="s1", start=161.5, until=165.5, fanout=3),
        ),
        faults=(
            ReplicaLag(at=130.0, duration=31.0),
            RedisFailover(at=160.0, promote_after=1.0, rejoin_after=3.0),
            RestartWorker(at=161.0, idle=True),
        ),
        profile=StrategyProfile(seconds=12.0),
    )
    result = simulate(scenario)
    assert result.verdict.passed, result.verdict.violations
    terminal = {op.reply.status for op in result.history.ops if op.reply.terminal}
    assert terminal == {"partial"}


def test_a_worker_started_after_a_promotion_learns_from_the_primary_record() -> None:
    # Found exploring the fixed service: an idle worker restarted just after the promotion
    # met the promoted replica first, doubted nothing, and answered 404 for a scan whose
    # registration the promotion lost. The primary record in Redis named the primary before.
    scenario = Scenario(
        name="fresh-worker-missing-key",
        description="an idle worker restarts just after the promotion",
        workers=3,
        duration=7.5,
        steps=(
            Start(at=1.0, user="alice", scan="s1"),
            Latest(user="alice", start=1.0, until=1.0),
            Poll(scan="s1", start=2.5, until=6.5, fanout=3),
        ),
        faults=(
            ReplicaLag(at=0.0, duration=2.0),
            RedisFailover(at=1.0, promote_after=1.0, rejoin_after=3.0),
            RestartWorker(at=2.0, idle=True),
        ),
    )
    result = simulate(scenario)
    assert result.verdict.passed, result.verdict.violations
    assert "not_found" not in {op.reply.status for op in result.history.ops}


def test_a_result_past_its_expiry_leaves_no_older_copy_behind() -> None:
    # Found exploring the fixed service for 600 s: the scan completed in a 200 s outage, its
    # repaired write went to a lagging primary only, and the promotion rolled Redis back to
    # the running entry of before the outage, whose TTL reaches the worker timeout. Past the
    # result's expiry the holder skipped its write, and a reader judged the old entry stalled:
    # `failed` for a scan whose result had expired. The skipped write now deletes the copy.
    scenario = Scenario(
        name="expired-behind-a-rollback",
        description="a promotion rolls back to a running entry that outlives the result",
        workers=3,
        duration=348.5,
        steps=(
            Start(at=0.0, user="alice", scan="s1"),
            Poll(scan="s1", start=331.5, until=347.5, every=4.0, fanout=3),
        ),
        faults=(
            RedisOutage(at=13.0, duration=200.0),
            ReplicaLag(at=210.0, duration=121.0),
            RedisFailover(at=330.0, promote_after=1.0, rejoin_after=3.0),
        ),
    )
    result = simulate(scenario)
    assert result.verdict.passed, result.verdict.violations
    late = [op for op in result.history.ops if op.op == "status" and op.start > 341.0]
    assert late and {op.reply.status for op in late} <= {"not_found", "unavailable"}


def test_a_break_while_a_failover_chain_is_excused_joins_the_chain() -> None:
    # Found exploring (detection run, job seed 5): a failover, an outage of 40 s right after
    # it, and 3 s later another of 10 s. The workers, still doubting the failover when the
    # second break began, doubt it again from its end and answer 503; the checker had ended
    # the chain at the first outage's own grace and called those 503s server errors.
    scenario = Scenario(
        name="failover-outage-outage",
        description="a failover, a long outage, and a short one while its doubt runs",
        workers=3,
        duration=62.0,
        steps=(Latest(user="alice", start=54.5, until=60.5, every=1.0, fanout=3),),
        faults=(
            RedisFailover(at=0.0, promote_after=1.0, rejoin_after=3.0),
            RedisOutage(at=1.0, duration=40.0),
            RedisOutage(at=44.0, duration=10.0),
        ),
    )
    result = simulate(scenario)
    assert result.verdict.passed, result.verdict.violations
    replies = [(op.start, op.reply.status) for op in result.history.ops]
    assert (57.5, "unavailable") in replies and replies[-1] == (60.5, "not_found")


def _latest_before_a_lagging_promotion(holder_restart: RestartWorker) -> Scenario:
    return Scenario(
        name="latest-then-promotion",
        description="latest reads of a finished scan, its worker restarted as the primary dies",
        workers=3,
        duration=45.0,
        steps=(
            Start(at=1.0, user="bob", scan="s1", worker=2),
            Latest(user="bob", start=16.0, until=44.0, every=1.0, fanout=3),
        ),
        faults=(
            ReplicaLag(at=0.0, duration=30.0),
            holder_restart,
            RedisFailover(at=29.0, promote_after=1.0, rejoin_after=3.0),
        ),
        profile=StrategyProfile(seconds=1.0),
    )


def test_a_result_served_through_latest_is_written_back_after_a_failover() -> None:
    # Found exploring (detection run, job seeds 7 and 9): the scan's worker restarted as the
    # primary died, the replica having lagged since before the scan. Other workers had just
    # answered bob's `latest` with the result, yet kept no copy (a read by id does), and after
    # the promotion bob's latest read 404. Now they keep it, and write it back.
    result = simulate(_latest_before_a_lagging_promotion(RestartWorker(at=29.0, worker=2)))
    assert result.verdict.passed, result.verdict.violations
    assert not result.verdict.lost_by_fault
    statuses = [op.reply.status for op in result.history.ops if op.op == "latest"]
    assert "not_found" not in statuses and statuses[-1] == "complete"


@pytest.mark.parametrize("restart_at", [37.0, 38.0])
def test_a_worker_started_as_an_outage_begins_does_not_doubt_an_old_failover(
    restart_at: float,
) -> None:
    # Found exploring for 600 s (job seed 1, twice): a worker restarted just as Redis went
    # down (at 37 s its first look, which server is primary, succeeded but counted as no
    # answer; at 38 s it failed). It dated the outage from the beginning of time, took it for
    # one that began while it doubted the failover of long before, and answered 503 for 5 s
    # after Redis came back. An outage it cannot date is judged by the contact stamp instead.
    # As found, alice's start is refused in the first outage, so her polls ask for her latest.
    scenario = Scenario(
        name="first-look-then-outage",
        description="a failover long ago; a worker restarted as an outage begins",
        workers=3,
        duration=50.0,
        steps=(
            Start(at=1.0, user="alice", scan="s1"),
            Latest(user="alice", start=40.5, until=48.5, every=1.0, fanout=3),
        ),
        faults=(
            RedisOutage(at=0.0, duration=3.0),
            RedisFailover(at=1.0, promote_after=1.0, rejoin_after=3.0),
            RestartWorker(at=restart_at, idle=True),
            RedisOutage(at=37.0, duration=3.0),
        ),
    )
    result = simulate(scenario)
    assert not result.verdict.violations, result.verdict.violations
    assert result.verdict.unknown  # nothing was started: nothing else to judge
    answers = {op.reply.status for op in result.history.ops if op.op == "latest"}
    assert answers == {"not_found"}


def test_a_copy_kept_by_a_worker_restarted_before_it_wrote_back_is_lost_with_it() -> None:
    # Found exploring for 600 s (job seed 0): the scan's worker restarted as it began; a reader
    # judged it stalled and kept its `failed` for want of a replica's acknowledgement; the
    # primary died, and the reader was restarted before it could write it back. Every copy
    # went with an injected fault: lost by fault, not a violation.
    scenario = Scenario(
        name="judged-then-restarted",
        description="a stalled scan judged failed by a worker restarted at the promotion",
        workers=3,
        duration=197.5,
        steps=(
            Start(at=1.0, user="bob", scan="s1"),
            Latest(user="alice", start=1.0, until=1.0),
            Poll(scan="s1", start=1.5, until=196.5, every=5.0),
            Poll(scan="s1", start=38.5, until=54.5, every=4.0, fanout=3),
            Latest(user="bob", start=50.0, until=50.0),
        ),
        faults=(
            ReplicaLag(at=0.0, duration=51.0),
            RestartWorker(at=1.0, scan="s1"),
            RedisFailover(at=37.0, promote_after=1.0, rejoin_after=3.0),
            RestartWorker(at=38.0, idle=True),
            RedisFailover(at=50.0, promote_after=1.0, rejoin_after=3.0),
        ),
    )
    result = simulate(scenario)
    assert result.verdict.passed, result.verdict.violations
    [lost] = result.verdict.lost_by_fault
    assert "which had served it, at 38.0 s" in lost.why
    statuses = [op.reply.status for op in result.history.ops if op.op == "status"]
    assert "failed" in statuses and statuses[-1] == "not_found"


def test_a_readers_copy_that_expired_before_the_promotion_is_lost_with_the_rest() -> None:
    # Found exploring for 600 s (job seed 0): the scan's worker restarted as it began; w0
    # judged it stalled and kept its `failed` for want of a replica's acknowledgement; w1
    # read that result from Redis at 151.5 s and served it from memory at 156.5 s. The primary
    # died at 161 s; w1's copy expired at 161.5 s, before the promotion at 162 s, and w0 was
    # restarted at the promotion: every copy went with a fault. The checker had counted w1's
    # copy as kept (it was served within a memory TTL of the death) and called the 404s after
    # the failover violations; a copy counts if it lived until the promotion, which the
    # failover's record now gives.
    scenario = Scenario(
        name="copy-expired-before-promotion",
        description="a reader's copy expires between the primary's death and the promotion",
        workers=3,
        duration=197.5,
        steps=(
            Latest(user="alice", start=0.0, until=0.0),
            Start(at=1.0, user="bob", scan="s1"),
            Poll(scan="s1", start=1.5, until=196.5, every=5.0),
            Poll(scan="s1", start=162.5, until=178.5, every=4.0, fanout=3),
            Latest(user="bob", start=174.0, until=174.0),
        ),
        faults=(
            ReplicaLag(at=0.0, duration=175.0),
            RestartWorker(at=1.0, scan="s1"),
            RedisFailover(at=161.0, promote_after=1.0, rejoin_after=3.0),
            RestartWorker(at=162.0, idle=True),
            RedisFailover(at=174.0, promote_after=1.0, rejoin_after=3.0),
        ),
    )
    result = simulate(scenario)
    assert result.verdict.passed, result.verdict.violations
    [lost] = result.verdict.lost_by_fault
    assert "which had served it, at 162.0 s" in lost.why
    [first, _] = [f for f in result.history.faults if f.fault == "redis-failover"]
    assert first.promoted == 162.0
    sources = [
        (op.start, op.worker, op.reply.source)
        for op in result.history.ops
        if op.op == "status" and 150.0 <= op.start <= 157.0
    ]
    assert sources == [(151.5, "w1", "redis"), (156.5, "w1", "memory")]
    assert [op.reply.status for op in result.history.ops][-1] == "not_found"
