"""How a worker judges a scan stalled: by its heartbeat, not counting the Redis breaks the
worker saw (each case found by the explorer on the fixed service)."""

from __future__ import annotations

from harness.runner import simulate
from harness.scenario import Poll, RedisOutage, RestartWorker, Scenario, Start
from reference_impl import StrategyProfile

# The scan's worker dies at 36 s; nobody reads the scan until worker 1, restarted at 196 s (a
# routine restart), is asked at 197 s, past the 187 s by which the scan must be terminal.
ORPHAN_READ_BY_A_NEW_WORKER = Scenario(
    name="orphan-read-by-a-new-worker",
    description="an orphaned scan read by a worker restarted long after the orphan's worker died",
    duration=260.0,
    steps=(
        Start(at=0.0, user="bob", scan="s1", worker=0),
        Poll(scan="s1", start=197.0, until=197.0, worker=1),
    ),
    faults=(RestartWorker(at=36.0, worker=0), RestartWorker(at=196.0, worker=1)),
    profile=StrategyProfile(seconds=12.0),
)


def test_a_new_worker_reports_an_orphan_as_failed() -> None:
    for seed in range(3):
        result = simulate(ORPHAN_READ_BY_A_NEW_WORKER, seed=seed)
        read = next(op for op in result.history.ops if op.op == "status")
        assert (read.reply.status, read.reply.reason) == ("failed", "worker lost")
        assert result.verdict.passed, result.verdict.violations


def test_under_orphaned_scan_the_new_worker_still_says_scanning() -> None:
    result = simulate(ORPHAN_READ_BY_A_NEW_WORKER, bugs=("orphaned-scan",))
    assert result.verdict.violated() == {"terminates"}


# The scan's worker dies at once; nobody reads the scan until just after a 3 s outage that
# begins at 185 s, past the 189 s by which it must be terminal. A worker that restarted its
# stall clock at the heal said `scanning` for 30 s more.
ORPHAN_READ_AFTER_A_SHORT_OUTAGE = Scenario(
    name="orphan-read-after-a-short-outage",
    description="an orphan read right after a short outage long after its worker died",
    duration=194.0,
    steps=(
        Start(at=0.0, user="alice", scan="s1"),
        Poll(scan="s1", start=188.5, until=192.5, every=1.0, fanout=3),
    ),
    faults=(RestartWorker(at=0.0, scan="s1"), RedisOutage(at=185.0, duration=3.0)),
    profile=StrategyProfile(seconds=2.0),
)


def test_heartbeats_missed_before_an_outage_still_count() -> None:
    for seed in range(3):
        result = simulate(ORPHAN_READ_AFTER_A_SHORT_OUTAGE, seed=seed)
        reads = [op for op in result.history.ops if op.op == "status"]
        assert reads and {(op.reply.status, op.reply.reason) for op in reads} == {
            ("failed", "worker lost")
        }
        assert result.verdict.passed, result.verdict.violations


# The scan's worker dies at 1 s; worker 0 restarts at 186 s as a 3 s outage begins, so its first
# Redis contact fails and it cannot date the break. Asked at 189.5 s, past the 188 s by which
# the scan must be terminal, it excused all earlier silence and said `scanning`.
ORPHAN_READ_BY_A_WORKER_BORN_IN_AN_OUTAGE = Scenario(
    name="orphan-read-by-a-worker-born-in-an-outage",
    description="an orphan read by a worker whose first Redis contact failed",
    duration=194.5,
    steps=(
        Start(at=0.0, user="alice", scan="s1"),
        Poll(scan="s1", start=189.5, until=193.5, fanout=3),
    ),
    faults=(
        RestartWorker(at=1.0, scan="s1"),
        RestartWorker(at=186.0, worker=0),
        RedisOutage(at=186.0, duration=3.0),
    ),
    profile=StrategyProfile(seconds=2.0),
)


def test_no_scan_outlives_the_worker_timeout_even_for_a_worker_blind_to_the_break() -> None:
    for seed in (39, 0, 1):
        result = simulate(ORPHAN_READ_BY_A_WORKER_BORN_IN_AN_OUTAGE, seed=seed)
        reads = [op for op in result.history.ops if op.op == "status"]
        assert reads and {op.reply.status for op in reads} <= {"failed", "unavailable"}
        assert ("failed", "worker lost") in {(op.reply.status, op.reply.reason) for op in reads}
        assert result.verdict.passed, result.verdict.violations
