"""The exploration loop: finds planted regressions, shrinks them, is reproducible, and is quiet
on the fixed service."""

from __future__ import annotations

import itertools

from harness.explore import PATHS, Coverage, explore, explore_job, run_schedule
from harness.explore.schedule import Begin, Schedule, Setup, Watch


def test_a_planted_regression_is_found_and_shrunk() -> None:
    job = explore_job(("no-user-scope",), budget=60.0, seed=0)
    assert job.finding is not None
    finding = job.finding
    assert {v.invariant for v in finding.violations} == {"isolated"}
    # A start and a poll by another user is all it takes; the shrinker gets there.
    assert finding.length <= 3
    assert finding.detected_after <= finding.shrunk_after <= job.elapsed
    # The shrunk schedule still fails when played again, and passes on the fixed service.
    assert run_schedule(finding.schedule, ("no-user-scope",))[1].violated() == {"isolated"}
    assert run_schedule(finding.schedule, ())[1].violations == []


def test_the_fixed_service_is_explored_for_the_whole_budget_without_a_violation() -> None:
    job = explore_job((), budget=5.0, seed=0)
    assert job.finding is None
    assert job.elapsed >= 5.0
    assert job.coverage.schedules >= job.rounds >= 1


def test_rounds_run_until_the_budget_is_spent() -> None:
    # A clock that moves one second each time it is read: the budget counts reads, not time.
    # Read at the start, then before each round: rounds begin at 1, 2 and 3 (< 4) seconds.
    ticks = itertools.count()
    job = explore_job(
        (), budget=4.0, seed=0, examples_per_round=2, clock=lambda: float(next(ticks))
    )
    assert job.finding is None
    assert job.rounds == 3
    assert job.coverage.schedules == 6


def test_jobs_run_in_processes_each_with_its_own_seed_and_reproduce_alone() -> None:
    result = explore(("no-user-scope",), budget=60.0, seed=0, jobs=2)
    assert [j.seed for j in result.jobs] == [0, 1]
    assert len(result.findings) == 2
    assert result.coverage.schedules == sum(j.coverage.schedules for j in result.jobs)
    # The same seed explores the same schedules, in a pool process or alone.
    alone = explore_job(("no-user-scope",), budget=60.0, seed=0)
    assert alone.finding is not None
    pooled = result.findings[0]
    assert pooled.schedule == alone.finding.schedule
    assert pooled.detected_at_schedule == alone.finding.detected_at_schedule
    assert pooled.violations == alone.finding.violations


def test_coverage_counts_steps_faults_and_the_service_paths_reached() -> None:
    coverage = Coverage()
    assert coverage.unreached == list(PATHS)
    schedule = Schedule(
        Setup(),
        (
            Begin(gap=0.0, user="alice", worker=0),
            Watch(gap=45.0, scan=0, other_user=False, worker=1, fanout=1, rounds=1, every=1.0),
        ),
    )
    run_schedule(schedule, (), coverage)
    assert coverage.schedules == 1
    assert coverage.steps["start (pinned worker)"] == 1
    assert coverage.steps["poll (pinned worker)"] == 1
    assert coverage.gaps["across stall timeout"] == 1
    # Worker 1 found the result through Redis; worker 0's cleanup kept the mapping.
    assert coverage.paths["redis-fallback"] == 1
    assert coverage.paths["cleanup-kept-mapping"] >= 1
    assert coverage.outcomes["scan complete"] == 1
    assert "orphan-marked-failed" in coverage.unreached
    assert "redis-fallback" not in coverage.unreached
