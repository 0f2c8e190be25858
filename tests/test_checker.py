"""Each invariant flags a hand-made history that breaks it and passes one that keeps it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from harness.checker import Checker, UnknownInvariantError
from harness.history import Reply
from tests.histories import (
    ERROR,
    LOST,
    NOT_FOUND,
    OTHER,
    SCAN,
    TIMING,
    UNAVAILABLE,
    Builder,
    complete,
    failed,
    scanning,
)


def violated(builder: Builder, invariant: str) -> list[str]:
    verdict = Checker([invariant]).check(builder.history)
    return [v.message for v in verdict.violations if v.invariant == invariant]


def incident(first_404: float) -> Builder:
    b = Builder().start(0.0, 28.0, complete(28.0))
    for t in range(29, 60):
        b.read(float(t), NOT_FOUND if t >= first_404 else complete(28.0))
    return b


# -- reachable-until-expiry --------------------------------------------------------------


def test_reachable_flags_the_incident_with_the_offset_after_completion() -> None:
    verdict = Checker(["reachable-until-expiry"]).check(incident(first_404=40).history)
    [v] = verdict.violations
    assert v.invariant == "reachable-until-expiry"
    assert v.after_completion == pytest.approx(12.0)
    assert v.count == 20
    assert "not_found" in v.message and "12.0 s after completion" in v.message


def test_reachable_passes_when_every_read_returns_the_result() -> None:
    assert violated(incident(first_404=10_000), "reachable-until-expiry") == []


def test_reachable_passes_a_not_found_after_the_ttl() -> None:
    b = Builder().start(0.0, 28.0, complete(28.0)).read(328.5, NOT_FOUND)
    assert violated(b, "reachable-until-expiry") == []


def test_reachable_tolerates_unavailable_inside_a_redis_fault_but_never_not_found() -> None:
    b = Builder().start(0.0, 28.0, complete(28.0)).outage(40.0, 60.0)
    b.read(50.0, UNAVAILABLE)
    assert violated(b, "reachable-until-expiry") == []
    b.read(55.0, NOT_FOUND)
    assert len(violated(b, "reachable-until-expiry")) == 1


def test_after_a_failover_unavailable_is_excused_while_workers_may_still_write_back() -> None:
    # Every worker notices a new primary at its next contact (a cleanup tick, a heartbeat) and
    # doubts a missing key for as long again: up to twice the longer of the two after the
    # rejoin, a read may be 503; never after, never a 404.
    doubt = max(TIMING.cleanup_interval, TIMING.heartbeat_interval)
    b = Builder().start(0.0, 28.0, complete(28.0))
    b.history.fault("redis-failover", 40.0, 50.0, "replica promoted at 45 s lacking 4 key(s)")
    b.read(50.0 + 2 * doubt, UNAVAILABLE)
    assert violated(b, "reachable-until-expiry") == []
    b.read(50.0 + 2 * doubt + TIMING.fault_grace + 0.5, UNAVAILABLE)
    assert len(violated(b, "reachable-until-expiry")) == 1
    # An outage gets no such doubt: nothing it does makes a key go missing.
    o = Builder().start(0.0, 28.0, complete(28.0)).outage(40.0, 50.0)
    o.read(50.0 + TIMING.fault_grace + 0.5, UNAVAILABLE)
    assert len(violated(o, "reachable-until-expiry")) == 1


def test_a_failovers_doubt_runs_from_the_end_of_an_outage_that_follows_it() -> None:
    # The outage keeps the workers from noticing the new primary until it ends.
    doubt = max(TIMING.cleanup_interval, TIMING.heartbeat_interval)
    b = Builder().start(0.0, 28.0, complete(28.0))
    b.history.fault("redis-failover", 30.0, 33.0, "replica promoted at 31 s with every write")
    b.outage(31.0, 41.0)
    b.read(41.0 + TIMING.fault_grace + 2 * doubt, UNAVAILABLE)
    assert violated(b, "reachable-until-expiry") == []
    b.read(41.0 + TIMING.fault_grace + 2 * doubt + 0.5, UNAVAILABLE)
    assert len(violated(b, "reachable-until-expiry")) == 1


def test_reachable_flags_unavailable_outside_a_fault() -> None:
    b = Builder().start(0.0, 28.0, complete(28.0)).read(100.0, UNAVAILABLE)
    assert len(violated(b, "reachable-until-expiry")) == 1


def test_result_lost_by_fault_is_listed_not_violated() -> None:
    b = Builder().outage(20.0, 60.0).start(0.0, 28.0, complete(28.0)).restart(30.0, "w0")
    b.read(70.0, NOT_FOUND)
    verdict = Checker().check(b.history)
    assert verdict.passed
    [lost] = verdict.lost_by_fault
    assert lost.scan_id == SCAN and "restarted at 30.0 s" in lost.why


def test_a_scan_the_promotion_lacked_whose_worker_restarted_is_lost_by_fault() -> None:
    def failover_losing(scan: str) -> Builder:
        b = Builder().start(0.0, 28.0, complete(28.0), worker="w0")
        b.history.fault(
            "redis-failover", 40.0, 50.0, f"replica promoted at 45 s lacking 1 key(s): k:{scan}"
        )
        return b

    b = failover_losing(SCAN).restart(41.0, "w0")
    b.read(70.0, NOT_FOUND)
    verdict = Checker().check(b.history)
    assert verdict.passed, verdict.violations
    [lost] = verdict.lost_by_fault
    assert "lacked it" in lost.why and "restarted at 41.0 s" in lost.why
    # Its worker alive, the scan is its to write again: a 404 is a violation.
    alive = failover_losing(SCAN).read(70.0, NOT_FOUND)
    assert len(violated(alive, "reachable-until-expiry")) == 1
    # A promotion that lacked another scan's keys excuses nothing.
    other = failover_losing("0" * 32).restart(41.0, "w0").read(70.0, NOT_FOUND)
    assert len(violated(other, "reachable-until-expiry")) == 1
    # A replica lagging since before completion lacked the result too, named or not.
    lagged = Builder().start(0.0, 28.0, complete(28.0), worker="w0")
    lagged.history.fault("replica-lag", 20.0, 45.0)
    lagged.history.fault("redis-failover", 40.0, 50.0, "replica promoted at 45 s")
    lagged.restart(41.0, "w0").read(70.0, failed(60.0))
    assert Checker().check(lagged.history).passed
    # Nor when another worker had served the result just before, by id or through `latest`:
    # it held a copy to write back.
    for op in ("status", "latest"):
        held = failover_losing(SCAN).read(35.0, complete(28.0), worker="w2", op=op)
        held.restart(41.0, "w0").read(70.0, NOT_FOUND)
        assert len(violated(held, "reachable-until-expiry")) == 1, op
    # Unless that worker was restarted too before it could.
    both = failover_losing(SCAN).read(35.0, complete(28.0), worker="w2", op="latest")
    both.restart(41.0, "w0").restart(42.0, "w2").read(70.0, NOT_FOUND)
    assert Checker().check(both.history).passed


def test_a_scan_orphaned_long_before_a_promotion_that_lacked_it_is_lost_by_fault() -> None:
    # Its worker restarted as it began, no read judged it stalled before the primary died,
    # and the replica promoted had lagged since before it began: no copy is left anywhere.
    def orphaned(*reads: tuple[float, Reply]) -> Builder:
        b = Builder().start(1.0, 1.0, scanning(0), worker="w0").restart(1.0, "w0")
        b.history.fault("replica-lag", 0.0, 38.0)
        b.history.fault("redis-failover", 37.0, 40.0, "replica promoted at 38 s")
        for at, reply in reads:
            b.read(at, reply, worker="w2")
        return b.read(60.0, NOT_FOUND)

    quiet = Checker().check(orphaned((11.0, scanning(0)), (31.0, scanning(0))).history)
    assert quiet.passed, quiet.violations
    [lost] = quiet.lost_by_fault
    assert "restarted at 1.0 s" in lost.why
    # A reader that judged it failed before the primary died holds that result until a
    # replica acknowledges it: a 404 after is a violation.
    judged = orphaned((11.0, scanning(0)), (33.0, failed(33.0)))
    assert len(violated(judged, "reachable-until-expiry")) == 1
    # So is one after a read that went unanswered: it may have judged the scan.
    unanswered = orphaned((11.0, scanning(0)), (33.0, LOST))
    assert len(violated(unanswered, "reachable-until-expiry")) == 1
    # A restart before the scan was sent destroyed nothing of it.
    early = Builder().restart(0.5, "w0").start(1.0, 1.0, scanning(0), worker="w0")
    early.history.fault("replica-lag", 0.0, 38.0)
    early.history.fault("redis-failover", 37.0, 40.0, "replica promoted at 38 s")
    early.read(60.0, NOT_FOUND)
    assert len(violated(early, "reachable-until-expiry")) == 1


def test_a_reply_the_restarted_worker_gave_as_it_died_kept_nothing() -> None:
    # The scan's worker answered a read with the result at the moment it was restarted, as
    # the primary died with a replica lagging since before the scan: its copy went with it.
    def promoted_after(reader: str) -> Builder:
        b = Builder().start(1.0, 8.0, complete(8.0), worker="w0")
        b.read(29.0, complete(8.0), worker=reader).restart(29.0, "w0")
        b.history.fault("replica-lag", 0.0, 30.0)
        b.history.fault("redis-failover", 29.0, 32.0, "replica promoted at 30 s")
        return b.read(45.0, NOT_FOUND, worker="w1")

    own = Checker().check(promoted_after("w0").history)
    assert own.passed, own.violations
    [lost] = own.lost_by_fault
    assert "restarted at 29.0 s" in lost.why
    # Another worker that served it then keeps a copy to write back: the 404 is a violation.
    assert len(violated(promoted_after("w2"), "reachable-until-expiry")) == 1


def test_a_copy_a_reader_kept_counts_only_if_it_lived_until_the_promotion() -> None:
    # Found exploring for 600 s (job seed 0): a reader's copy of a result, kept a memory TTL
    # (10 s here) from when it read it from Redis, expired after the primary died (40 s) and
    # before the promotion (45 s), when it could have been written back. The scan's worker
    # restarted at 9 s, mid-scan; w1, the first to show it `failed` (it judged it stalled and
    # holds that until a replica acknowledges it), restarted at the promotion.
    def promoted(
        *reads: tuple[float, str | None],
        at: float | None = 45.0,
        judge_restarts: bool = True,
        judge_says: str | None = None,
    ) -> Builder:
        b = Builder().start(1.0, 1.0, scanning(0), worker="w0").restart(9.0, "w0")
        b.history.fault("replica-lag", 0.0, 50.0)
        b.read(12.0, replace(failed(12.0), source=judge_says), worker="w1")
        for when, source in reads:
            b.read(when, replace(failed(12.0), source=source), worker="w2")
        b.history.fault("redis-failover", 40.0, 48.0, "replica promoted", promoted=at)
        if judge_restarts:
            b.restart(45.0, "w1")
        return b.read(60.0, NOT_FOUND, worker="w1")

    def passes(b: Builder) -> bool:
        verdict = Checker().check(b.history)
        return verdict.passed and len(verdict.lost_by_fault) == 1

    assert passes(promoted((34.0, "redis")))  # gone at 44 s
    assert passes(promoted((34.0, "redis"), (39.0, "memory")))  # the copy of 34 s, served
    assert passes(promoted())
    # A copy alive at the promotion could have been written back: each 404 is a violation.
    assert not passes(promoted((36.0, "redis")))
    assert not passes(promoted((34.0, None), (39.0, None)))  # not said: dated to the reply
    assert not passes(promoted((34.0, "redis"), at=None))  # no promotion time: the death
    # The first reply to show it failed after the restart may have judged it: its worker
    # holds that until a replica acknowledges it, expiry or not. A reply that says where it
    # found the result settles it: judged by its worker, or read.
    assert not passes(promoted(judge_restarts=False))
    assert not passes(promoted(judge_restarts=False, judge_says="judged"))
    assert passes(promoted(judge_restarts=False, judge_says="redis"))
    assert not passes(promoted((20.0, "judged")))
    # Any reply that showed it failed while Redis was down may be a judge (each worker judges
    # on its own), unless it says otherwise; so may the first to show a result after an
    # earlier failover (written back), whatever it says.
    assert not passes(promoted((20.0, None)).outage(19.0, 21.0))
    assert passes(promoted((20.0, "memory")).outage(19.0, 21.0))
    assert passes(promoted((20.0, "memory")))
    again = promoted((20.0, "memory"))
    again.history.fault("redis-failover", 18.0, 19.5, "replica promoted", promoted=19.0)
    assert not passes(again)


def test_a_reply_showing_a_finished_scan_after_its_worker_restarted_wrote_nothing() -> None:
    # Found exploring for 600 s (job seed 0, fourth run): the scan completed, its worker was
    # restarted as an outage ended, and other workers served the result from Redis in the
    # outage's grace. No worker but the scan's writes `complete` (a stall is judged `failed`),
    # so those readers held copies for a memory TTL only; a failover 60 s later, its replica
    # lagging since before the completion, lost the scan with nothing left to write it back.
    # (As found, the result had expired before the failover; here it has not.)
    def history(reply: Reply) -> Builder:
        b = Builder().start(0.0, 0.0, scanning(0), worker="w0")
        b.history.fault("replica-lag", 0.0, 251.0)
        b.outage(185.0, 188.0).restart(188.0, "w0")
        b.read(188.5, reply, worker="w1").read(203.5, reply, worker="w2")
        b.history.fault("redis-failover", 250.0, 253.0, "replica promoted", promoted=251.0)
        return b.read(270.0, NOT_FOUND, worker="w1")

    verdict = Checker().check(history(complete(28.0)).history)
    assert verdict.passed and len(verdict.lost_by_fault) == 1, verdict.violations
    # A `failed` shown in the outage's grace may be the reader's own judgement, kept until a
    # replica has it: then the 404 is not excused.
    assert len(violated(history(failed(188.5)), "reachable-until-expiry")) == 1


def test_restart_after_the_repair_window_is_not_an_excuse() -> None:
    b = Builder().outage(20.0, 60.0).start(0.0, 28.0, complete(28.0)).restart(70.0, "w0")
    b.read(75.0, NOT_FOUND)
    assert len(violated(b, "reachable-until-expiry")) == 1


def test_older_progress_read_after_a_result_lost_by_fault_is_not_a_violation() -> None:
    b = Builder().outage(20.0, 60.0).start(0.0, 28.0, complete(28.0)).restart(30.0, "w0")
    b.read(70.0, scanning(5)).read(75.0, failed(75.0))
    verdict = Checker().check(b.history)
    assert verdict.passed and len(verdict.lost_by_fault) == 1
    # Without the restart nothing excuses it: the same reads go backwards.
    b = Builder().outage(20.0, 60.0).start(0.0, 28.0, complete(28.0))
    b.read(70.0, scanning(5)).read(75.0, failed(75.0))
    assert len(violated(b, "monotonic-reads")) == 1


# -- expires-after-ttl --------------------------------------------------------------------


def test_expires_flags_a_result_served_long_after_its_ttl() -> None:
    b = Builder().start(0.0, 28.0, complete(28.0)).read(345.0, complete(28.0))
    [message] = violated(b, "expires-after-ttl")
    assert "should be gone by 340.0 s" in message


def test_a_result_recorded_anew_after_a_loss_by_fault_expires_from_its_own_end() -> None:
    # The outage lost the completed result with its worker; a reader later judged the stalled
    # copy failed at 100 s: that result lives its own TTL, not the lost one's.
    def lost_then(read_at: float) -> Builder:
        b = Builder().outage(20.0, 60.0).start(0.0, 28.0, complete(28.0)).restart(30.0, "w0")
        return b.read(read_at, failed(100.0))

    margin = TIMING.result_ttl + TIMING.memory_ttl + TIMING.cleanup_interval + TIMING.slack
    assert violated(lost_then(28.0 + margin + 5.0), "expires-after-ttl") == []
    assert len(violated(lost_then(100.0 + margin + 5.0), "expires-after-ttl")) == 1


def test_expires_tolerates_memory_ttl_after_the_result_ttl() -> None:
    b = Builder().start(0.0, 28.0, complete(28.0)).read(335.0, complete(28.0))
    b.read(341.0, NOT_FOUND)
    assert violated(b, "expires-after-ttl") == []


# -- monotonic-reads ----------------------------------------------------------------------


def test_monotonic_flags_progress_going_back_across_workers() -> None:
    b = Builder().start(0.0, 28.0, complete(28.0))
    b.read(5.0, scanning(3), worker="w1").read(6.0, scanning(2), worker="w2")
    [message] = violated(b, "monotonic-reads")
    assert "scanning 2/14" in message and "scanning 3/14" in message


def test_monotonic_flags_scanning_after_terminal() -> None:
    b = Builder().start(0.0, 28.0, complete(28.0)).read(30.0, scanning(13))
    assert len(violated(b, "monotonic-reads")) == 1


def test_after_a_failover_the_progress_a_lagging_replica_held_is_tolerated() -> None:
    # The replica stopped receiving writes at 20 s; promoted, it holds the scan at 13/14.
    def failover(lag_from: float | None) -> Builder:
        b = Builder().start(0.0, 28.0, complete(28.0))
        if lag_from is not None:
            b.history.fault("replica-lag", lag_from, 41.0)
        b.history.fault("redis-failover", 40.0, 43.0, "replica promoted at 41 s")
        return b.read(42.0, scanning(13))

    assert violated(failover(lag_from=20.0), "monotonic-reads") == []
    # Without a lag that began before completion, Redis held the result: a stale copy served.
    assert len(violated(failover(lag_from=None), "monotonic-reads")) == 1
    assert len(violated(failover(lag_from=30.0), "monotonic-reads")) == 1


def test_a_terminal_result_that_changes_is_terminal_is_finals_not_monotonics() -> None:
    b = Builder().start(0.0, 40.0, failed(40.0)).read(41.0, complete(28.0))
    assert violated(b, "monotonic-reads") == []
    assert len(violated(b, "terminal-is-final")) == 1


def test_monotonic_ignores_overlapping_reads() -> None:
    b = Builder().read(5.0, scanning(3), end=7.0).read(6.0, scanning(2), end=6.5)
    assert violated(b, "monotonic-reads") == []


def test_monotonic_passes_growing_progress() -> None:
    b = Builder().read(5.0, scanning(2)).read(6.0, scanning(3)).read(7.0, scanning(3))
    assert violated(b, "monotonic-reads") == []


# -- terminates ---------------------------------------------------------------------------


def test_terminates_flags_a_scan_scanning_past_its_deadline() -> None:
    b = Builder().start(0.0, 5.0, LOST).restart(5.0).read(250.0, scanning(3))
    [message] = violated(b, "terminates")
    assert "should be terminal by 187.0 s" in message


def test_terminates_passes_a_dead_worker_scan_marked_failed() -> None:
    b = Builder().start(0.0, 5.0, LOST).restart(5.0).read(40.0, failed(36.0))
    b.read(250.0, failed(36.0))
    assert violated(b, "terminates") == []


def test_terminates_judges_the_owners_reads_not_another_users_not_found() -> None:
    # Found by exploring the fixed service: a scan whose worker was restarted as it began,
    # polled only by another user, who is told `not_found` as `isolated` requires.
    b = Builder().start(0.0, 5.0, LOST).restart(5.0).read(250.0, NOT_FOUND, user="bob")
    assert violated(b, "terminates") == []
    b.read(260.0, NOT_FOUND)  # the owner's own read: gone without ever ending
    [message] = violated(b, "terminates")
    assert "gone without ever ending" in message


def test_terminates_deadline_stretches_by_redis_fault_time() -> None:
    b = Builder().start(0.0, 5.0, LOST).outage(10.0, 60.0).read(200.0, scanning(3))
    assert violated(b, "terminates") == []
    b.read(260.0, scanning(3))
    assert len(violated(b, "terminates")) == 1


# -- isolated ------------------------------------------------------------------------------


def test_isolated_flags_another_users_read() -> None:
    b = Builder().start(0.0, 28.0, complete(28.0)).read(30.0, complete(28.0), user="mallory")
    [message] = violated(b, "isolated")
    assert "user mallory read" in message and "of user alice" in message


def test_isolated_passes_not_found_for_another_user() -> None:
    b = Builder().start(0.0, 28.0, complete(28.0)).read(30.0, NOT_FOUND, user="mallory")
    assert violated(b, "isolated") == []


def test_isolated_flags_latest_returning_someone_elses_scan() -> None:
    b = Builder().read(30.0, complete(28.0, owner="bob"), user="alice", op="latest", scan=OTHER)
    assert len(violated(b, "isolated")) == 1


# -- no-server-errors --------------------------------------------------------------------


def test_no_server_errors_flags_a_500() -> None:
    b = Builder().start(0.0, 3.0, ERROR)
    [message] = violated(b, "no-server-errors")
    assert "HTTP 500" in message


def test_no_server_errors_allows_503_only_inside_a_fault() -> None:
    b = Builder().outage(10.0, 20.0).read(15.0, UNAVAILABLE)
    assert violated(b, "no-server-errors") == []
    b.read(40.0, UNAVAILABLE)
    assert len(violated(b, "no-server-errors")) == 1


def test_no_server_errors_flags_a_dropped_connection_without_a_restart() -> None:
    b = Builder().start(0.0, 10.0, LOST)
    assert len(violated(b, "no-server-errors")) == 1
    b2 = Builder().restart(10.0).start(0.0, 10.0, LOST)
    assert violated(b2, "no-server-errors") == []


# -- saved-before-timeout ----------------------------------------------------------------


def test_saved_before_timeout_flags_a_worker_killed_by_the_timeout() -> None:
    b = Builder().start(0.0, 180.0, ERROR)
    [message] = violated(b, "saved-before-timeout")
    assert "past the 180 s worker timeout" in message


def test_saved_before_timeout_passes_a_partial_saved_within_budget() -> None:
    partial = complete(150.0)
    b = Builder().start(0.0, 150.0, partial)
    assert violated(b, "saved-before-timeout") == []


# -- the checker itself -------------------------------------------------------------------


def test_unknown_invariant_is_refused_with_the_known_names() -> None:
    with pytest.raises(UnknownInvariantError, match="unknown invariant 'fresh'; known: "):
        Checker(["fresh"])


def test_a_violation_carries_its_evidence() -> None:
    history = incident(first_404=40).history
    [v] = Checker().check(history).violations
    ops = [history.ops[i] for i in v.evidence]
    assert [op.reply.status for op in ops] == ["not_found"] * len(ops)
    assert ops[0].start == 40.0 and v.at == 40.0
