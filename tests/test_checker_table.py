"""Every invariant can go red: one hand-made history per failure a client would see.

Each row names the invariants its history must violate, no more and no fewer. Where the
contract states one failure twice (a `latest` that answers 404 is unreachable *and* not the
newest scan), the row names both. The clean rows must pass with nothing unknown.
"""

from __future__ import annotations

import pytest

from harness.checker import INVARIANTS, Checker
from reference_impl import Reply
from tests.histories import (
    ERROR,
    LOST,
    NOT_FOUND,
    OTHER,
    UNAVAILABLE,
    Builder,
    complete,
    failed,
    scanning,
)


def _reads(b: Builder, times: range, reply: Reply, **kw: object) -> Builder:
    for t in times:
        b.read(float(t), reply, **kw)  # type: ignore[arg-type]
    return b


def not_found_while_running() -> Builder:
    b = Builder().start(0.0, 60.0, complete(60.0)).read(5.0, scanning(2))
    return _reads(b, range(10, 31, 2), NOT_FOUND).read(35.0, scanning(5))


def vanishes_after_its_worker_died() -> Builder:
    b = Builder().restart(36.0).start(0.0, 36.0, LOST).read(10.0, scanning(1))
    return _reads(b, range(40, 300, 10), NOT_FOUND)


def latest_404_while_status_works() -> Builder:
    b = _reads(Builder().start(0.0, 28.0, complete(28.0)), range(30, 101, 10), complete(28.0))
    return _reads(b, range(40, 111, 5), NOT_FOUND, op="latest", scan=None)


def newer(at: float, end: float) -> Reply:
    return Reply("complete", owner="alice", done=14, total=14, started_at=at, finished_at=end)


def latest_keeps_the_older_scan() -> Builder:
    b = Builder().start(0.0, 28.0, complete(28.0))
    b.start(50.0, 78.0, newer(50.0, 78.0), scan=OTHER).read(80.0, newer(50.0, 78.0), scan=OTHER)
    return _reads(b, range(100, 121, 5), complete(28.0), op="latest")


def complete_with_strategies_undone() -> Builder:
    stopped = Reply("complete", owner="alice", done=10, total=14, started_at=0.0, finished_at=150.0)
    return Builder().start(0.0, 150.0, stopped).read(160.0, stopped)


def failed_inside_an_outage_after_complete() -> Builder:
    b = Builder().start(0.0, 28.0, complete(28.0)).outage(40.0, 60.0)
    return b.read(45.0, UNAVAILABLE).read(50.0, failed(50.0)).read(70.0, complete(28.0))


def terminal_changes_outside_faults() -> Builder:
    return Builder().start(0.0, 40.0, failed(40.0)).read(41.0, complete(28.0))


def partial_without_reason() -> Builder:
    partial = Reply("partial", owner="alice", done=9, total=14, started_at=0.0, finished_at=150.0)
    return Builder().start(0.0, 150.0, partial)


def scanning_claims_all_done() -> Builder:
    return Builder().start(0.0, 30.0, complete(30.0)).read(10.0, scanning(14))


def progress_goes_back() -> Builder:
    b = Builder().start(0.0, 28.0, complete(28.0))
    return b.read(5.0, scanning(3), worker="w1").read(6.0, scanning(2), worker="w2")


def scanning_after_terminal() -> Builder:
    return Builder().start(0.0, 28.0, complete(28.0)).read(30.0, scanning(13))


def stale_copy_served_in_an_outage() -> Builder:
    # Redis held the result long before the outage: a `scanning` copy is not what it held.
    b = Builder().start(0.0, 28.0, complete(28.0)).read(30.0, complete(28.0)).outage(100.0, 120.0)
    return b.read(110.0, scanning(13))


def scanning_past_the_deadline() -> Builder:
    b = Builder().restart(5.0).start(0.0, 5.0, LOST).read(10.0, scanning(1))
    return b.read(250.0, scanning(1))


def served_after_the_ttl() -> Builder:
    return Builder().start(0.0, 28.0, complete(28.0)).read(345.0, complete(28.0))


def another_users_read() -> Builder:
    b = Builder().start(0.0, 28.0, complete(28.0))
    return b.read(30.0, complete(28.0), user="mallory")


def a_500() -> Builder:
    return Builder().start(0.0, 28.0, complete(28.0)).read(30.0, ERROR)


def killed_by_the_worker_timeout() -> Builder:
    return Builder().start(0.0, 180.0, ERROR).read(10.0, scanning(1))


ROWS = {
    "not-found-while-running": (not_found_while_running, {"reachable-until-expiry"}),
    "vanishes-after-its-worker-died": (
        vanishes_after_its_worker_died,
        {"reachable-until-expiry", "terminates"},
    ),
    "latest-404-while-status-works": (
        latest_404_while_status_works,
        {"reachable-until-expiry", "latest-is-newest"},
    ),
    "latest-keeps-the-older-scan": (latest_keeps_the_older_scan, {"latest-is-newest"}),
    "complete-with-strategies-undone": (complete_with_strategies_undone, {"honest-status"}),
    "failed-inside-an-outage": (failed_inside_an_outage_after_complete, {"terminal-is-final"}),
    "terminal-changes": (terminal_changes_outside_faults, {"terminal-is-final"}),
    "partial-without-reason": (partial_without_reason, {"honest-status"}),
    "scanning-claims-all-done": (scanning_claims_all_done, {"honest-status"}),
    "progress-goes-back": (progress_goes_back, {"monotonic-reads"}),
    "scanning-after-terminal": (
        scanning_after_terminal,
        {"monotonic-reads", "terminal-is-final"},
    ),
    "stale-copy-in-an-outage": (
        stale_copy_served_in_an_outage,
        {"monotonic-reads", "terminal-is-final"},
    ),
    "scanning-past-the-deadline": (scanning_past_the_deadline, {"terminates"}),
    "served-after-the-ttl": (served_after_the_ttl, {"expires-after-ttl"}),
    "another-users-read": (another_users_read, {"isolated"}),
    "a-500": (a_500, {"no-server-errors"}),
    "killed-by-the-worker-timeout": (
        killed_by_the_worker_timeout,
        {"saved-before-timeout", "no-server-errors"},
    ),
}


@pytest.mark.parametrize("row", sorted(ROWS))
def test_each_failure_violates_exactly_its_invariants(row: str) -> None:
    make, expected = ROWS[row]
    verdict = Checker().check(make().history)
    assert verdict.violated() == expected, [v.message for v in verdict.violations]
    assert verdict.outcome == "fail"


def test_every_invariant_has_a_row_that_makes_it_fail() -> None:
    covered = set().union(*(expected for _, expected in ROWS.values()))
    assert covered == set(INVARIANTS)


def read_until_its_ttl() -> Builder:
    b = _reads(Builder().start(0.0, 28.0, complete(28.0)), range(30, 321, 10), complete(28.0))
    _reads(b, range(30, 321, 10), complete(28.0), op="latest")
    return b.read(345.0, NOT_FOUND).read(346.0, NOT_FOUND, op="latest", scan=None)


def outage_answered_with_503() -> Builder:
    b = Builder().start(0.0, 28.0, complete(28.0)).read(30.0, complete(28.0)).outage(40.0, 60.0)
    _reads(b, range(41, 60, 2), UNAVAILABLE)
    _reads(b, range(41, 60, 2), UNAVAILABLE, op="latest", scan=None)
    return _reads(b, range(62, 100, 5), complete(28.0))


def completed_during_an_outage() -> Builder:
    # The final write waits for Redis: until it is repaired, Redis still holds older progress.
    b = Builder().read(5.0, scanning(4)).outage(20.0, 40.0).start(0.0, 30.0, complete(30.0))
    b.read(25.0, UNAVAILABLE).read(41.0, scanning(9)).read(45.0, complete(30.0))
    return b


def latest_follows_the_newest() -> Builder:
    b = Builder().start(0.0, 28.0, complete(28.0)).read(30.0, complete(28.0), op="latest")
    b.start(50.0, 78.0, newer(50.0, 78.0), scan=OTHER)
    b.read(52.0, newer(50.0, 78.0), op="latest", scan=OTHER)
    return _reads(b, range(80, 101, 5), newer(50.0, 78.0), op="latest", scan=OTHER)


def orphan_reads_failed() -> Builder:
    b = Builder().restart(36.0).start(0.0, 36.0, LOST).read(10.0, scanning(1))
    return _reads(b, range(70, 250, 10), failed(70.0))


CLEAN = {
    "read-until-its-ttl": read_until_its_ttl,
    "outage-answered-with-503": outage_answered_with_503,
    "completed-during-an-outage": completed_during_an_outage,
    "latest-follows-the-newest": latest_follows_the_newest,
    "orphan-reads-failed": orphan_reads_failed,
}


@pytest.mark.parametrize("row", sorted(CLEAN))
def test_clean_histories_pass(row: str) -> None:
    verdict = Checker().check(CLEAN[row]().history)
    assert verdict.outcome == "pass", [v.message for v in verdict.violations] + verdict.unknown


def test_a_history_whose_starts_were_all_refused_is_unknown_not_a_pass() -> None:
    b = Builder().start(0.0, 0.1, Reply("bad_request", reason="malformed user id"), scan=None)
    verdict = Checker().check(b.history)
    assert verdict.outcome == "unknown" and not verdict.passed
    assert any("bad_request" in reason for reason in verdict.unknown)
    assert any("no scan was started" in reason for reason in verdict.unknown)


def test_an_empty_history_is_unknown() -> None:
    assert Checker().check(Builder().history).outcome == "unknown"
