"""Failover schedules the explorer found against the fixed service in which the failover
comes long after the scan's end: the replica lagged from the start, so the promotion brings back
the scan's running entry, after its result expired or after every worker that held the result
was restarted. What a worker may still serve, and what the checker counts as lost by fault."""

from __future__ import annotations

from harness.runner import simulate
from harness.scenario import (
    Poll,
    RedisFailover,
    RedisOutage,
    ReplicaLag,
    RestartWorker,
    Scenario,
    Start,
)


def test_a_result_no_replica_acknowledged_is_not_served_past_its_expiry() -> None:
    # Found exploring for 600 s (job seed 0, third run): the replica lagged from the start,
    # so the scan's worker kept its `complete` pending (no replica acknowledged it) past the
    # result's expiry. Asked after a failover, it wrote the result again (the write deletes an
    # expired scan's keys) and served it, 318 s after completion. Past its expiry it answers
    # nothing; its deletion stays pending, or the promoted replica's running entry would come
    # back and be judged `failed`.
    scenario = Scenario(
        name="pending-past-expiry",
        description="a result no replica acknowledged, asked for after its expiry",
        workers=3,
        duration=363.5,
        steps=(
            Start(at=0.0, user="alice", scan="s1"),
            Poll(scan="s1", start=346.5, until=362.5, every=4.0, fanout=3),
        ),
        faults=(
            ReplicaLag(at=0.0, duration=346.0),
            RedisFailover(at=345.0, promote_after=1.0, rejoin_after=3.0),
        ),
    )
    result = simulate(scenario)
    assert result.verdict.passed, result.verdict.violations
    statuses = {op.reply.status for op in result.history.ops if op.op == "status"}
    assert statuses == {"unavailable", "not_found"}


def test_a_failover_that_brings_back_an_expired_scan_nobody_holds_is_a_loss_by_fault() -> None:
    # Found exploring for 600 s (job seed 0, fourth run; shrunk by hand to one scan's polls):
    # the replica lagged from the start; s3's worker, holding its `complete` until a replica
    # acknowledged it, was restarted as an outage ended; others served the result from Redis
    # in the outage's grace. Long after, the result expired, and a failover promoted the
    # replica with s3's running entry, which a reader judged `failed`. No one held the
    # result: a loss by fault, and the `failed` is a result recorded anew. The checker had
    # taken the readers in the outage's grace for workers that may have written `complete`.
    scenario = Scenario(
        name="expired-scan-brought-back",
        description="a failover brings back a scan whose holder was restarted long before",
        workers=3,
        duration=363.5,
        steps=(
            Start(at=0.0, user="alice", scan="s1"),
            Start(at=0.0, user="alice", scan="s2"),
            Start(at=0.0, user="alice", scan="s3"),
            Poll(scan="s3", start=188.5, until=188.5, fanout=3),
            Poll(scan="s3", start=346.5, until=362.5, every=4.0, fanout=3),
        ),
        faults=(
            ReplicaLag(at=0.0, duration=346.0),
            RedisOutage(at=185.0, duration=3.0),
            RestartWorker(at=188.0, idle=True),
            RedisFailover(at=345.0, promote_after=1.0, rejoin_after=3.0),
        ),
    )
    result = simulate(scenario)
    assert result.verdict.passed, result.verdict.violations
    [lost] = result.verdict.lost_by_fault
    assert "restarted at 188.0 s" in lost.why
    late = [op.reply.status for op in result.history.ops if op.start > 350.0]
    assert "failed" in late


def test_a_reply_says_which_worker_judged_a_stalled_scan_failed() -> None:
    # Found exploring for 600 s (job seed 0, fifth run; trimmed by hand): a scan orphaned at
    # once in a 40 s outage, the replica lagging from the start. As Redis came back, w0
    # judged it stalled and kept its `failed` for want of a replica's acknowledgement; w2,
    # asked at the same moment, read that from Redis. w0 was restarted at 188 s, and a
    # failover long after brought back the running entry, judged `failed` anew. The checker
    # could not tell the judge from the reader (both answered `failed` at once) and held w2
    # to a copy it never had; the reply now says `source: judged`.
    scenario = Scenario(
        name="judge-and-reader",
        description="one worker judges a stalled scan failed, another reads it at once",
        workers=3,
        duration=363.5,
        steps=(
            Start(at=0.0, user="alice", scan="s1"),
            Poll(scan="s1", start=40.5, until=40.5, fanout=3),
            Poll(scan="s1", start=346.5, until=362.5, every=4.0, fanout=3),
        ),
        faults=(
            RestartWorker(at=0.0, scan="s1"),
            RedisOutage(at=0.0, duration=40.0),
            ReplicaLag(at=0.0, duration=346.0),
            RestartWorker(at=40.0, idle=True),
            RestartWorker(at=188.0, idle=True),
            RedisFailover(at=345.0, promote_after=1.0, rejoin_after=3.0),
        ),
    )
    result = simulate(scenario)
    assert result.verdict.passed, result.verdict.violations
    [lost] = result.verdict.lost_by_fault
    assert "at 188.0 s" in lost.why
    at_once = {(op.worker, op.reply.status, op.reply.source) for op in result.history.ops[1:4]}
    assert ("w0", "failed", "judged") in at_once and ("w2", "failed", "redis") in at_once
