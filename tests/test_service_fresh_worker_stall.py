"""A worker started after a scan's worker died judges the orphan by its heartbeat at once: its
own start is not a Redis recovery (found by the explorer on the fixed service)."""

from __future__ import annotations

from harness.runner import simulate
from harness.scenario import Poll, RestartWorker, Scenario, Start
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
