"""Generated schedules become valid scenarios, with the times and targets the actions name."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from harness.explore.engine import run_schedule
from harness.explore.placement import to_scenario
from harness.explore.schedule import (
    AskLatest,
    Begin,
    Drop,
    Outage,
    Restart,
    Schedule,
    Setup,
    Watch,
    gap_class,
    gaps,
    schedules,
)
from harness.scenario import DropColumn, Latest, Poll, RedisOutage, RestartWorker, Start, validate
from reference_impl import ServiceConfig, StrategyProfile


def test_actions_land_at_the_sum_of_their_gaps() -> None:
    schedule = Schedule(
        Setup(seed=7, seconds=0.5, hang=frozenset({3})),
        (
            Begin(gap=0.0, user="alice", worker=1),
            Watch(gap=5.0, scan=0, other_user=False, worker=None, fanout=2, rounds=5, every=2.0),
            Restart(gap=1.0, worker=None, scan=0),
            Begin(gap=13.0, user="bob", worker=None),
            Watch(gap=1.0, scan=3, other_user=True, worker=2, fanout=1, rounds=1, every=1.0),
            AskLatest(gap=0.0, user="carol", fanout=1, rounds=1, every=1.0),
        ),
    )
    scenario = to_scenario(schedule)
    validate(scenario, "<test>")
    assert scenario.steps == (
        Start(at=0.0, user="alice", scan="s1", worker=1),
        Poll(scan="s1", start=5.0, until=13.0, every=2.0, fanout=2),
        Start(at=19.0, user="bob", scan="s2"),
        # scan index 3 modulo two started scans: s2, polled by the next user after its owner
        Poll(scan="s2", start=20.0, until=20.0, every=1.0, user="carol", worker=2),
        Latest(user="carol", start=20.0, until=20.0),
    )
    assert scenario.faults == (RestartWorker(at=6.0, scan="s1"),)
    assert scenario.profile == StrategyProfile(seconds=0.5, hang=frozenset({3}))
    assert scenario.duration == 21.0


def test_overlapping_outages_merge_and_a_column_is_dropped_once() -> None:
    schedule = Schedule(
        Setup(),
        (
            Outage(gap=1.0, duration=10.0),
            Outage(gap=5.0, duration=40.0),
            Drop(gap=0.0, column="annual_return"),
            Drop(gap=1.0, column="annual_return"),
            Outage(gap=100.0, duration=3.0),
        ),
    )
    scenario = to_scenario(schedule)
    validate(scenario, "<test>")
    assert scenario.faults == (
        RedisOutage(at=1.0, duration=45.0),
        DropColumn(at=6.0, column="annual_return"),
        RedisOutage(at=107.0, duration=3.0),
    )
    assert scenario.duration == 111.0


def test_polls_and_restarts_aimed_at_scans_are_dropped_when_none_is_started() -> None:
    schedule = Schedule(
        Setup(),
        (
            Watch(gap=1.0, scan=0, other_user=False, worker=None, fanout=1, rounds=1, every=1.0),
            Restart(gap=1.0, worker=None, scan=2),
        ),
    )
    scenario = to_scenario(schedule)
    assert scenario.steps == () and scenario.faults == ()


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(schedules())
def test_every_generated_schedule_is_a_valid_scenario(schedule: Schedule) -> None:
    validate(to_scenario(schedule), "<generated>")


def test_gaps_cross_each_service_duration() -> None:
    cfg = ServiceConfig()
    classes = {gap_class(g, cfg) for g in gaps(cfg)}
    assert classes == {
        "none",
        "small",
        "across memory TTL + cleanup",
        "across stall timeout",
        "across scan budget",
        "across worker timeout",
        "just under result TTL",
        "across result TTL",
    }


def test_an_outage_healed_by_a_restart_is_retried_the_moment_the_fresh_worker_is_up() -> None:
    # Clients waiting out the 503s retry as the fresh worker is admitted: it asks Redis about
    # the scan before the workers that saw the outage have repaired their writes, which is
    # where a worker blind to the outage judges a running scan stalled.
    schedule = Schedule(
        Setup(), (Begin(gap=0.0, user="alice", worker=None), Outage(2.0, 40.0, "restart"))
    )
    scenario = to_scenario(schedule)
    assert RestartWorker(at=42.0, idle=True) in scenario.faults
    polls = sorted(step.start for step in scenario.steps if isinstance(step, Poll))
    assert polls == [42.001, 42.5, 43.5, 45.5, 49.5, 57.5]
    quiet = to_scenario(Schedule(Setup(), (*schedule.actions[:1], Outage(2.0, 40.0, "retry"))))
    assert min(step.start for step in quiet.steps if isinstance(step, Poll)) == 42.5


@pytest.mark.parametrize("seconds", [0.5, 2.0, 12.0])
def test_every_outage_over_a_running_scan_healed_by_a_restart_sets_the_stall_race(
    seconds: float,
) -> None:
    # The race `terminal-overwrite` loses: the fresh worker marks the scan failed while its
    # own worker, alive through the outage, writes its end on top. For each pace of scan and
    # each small gap before the outage, the explorer's own schedule catches it.
    for gap in (0.0, 1.0, 2.0, 5.0):
        schedule = Schedule(
            Setup(seed=1, seconds=seconds),
            (Begin(gap=0.0, user="alice", worker=None), Outage(gap, 40.0, "restart")),
        )
        _, broken = run_schedule(schedule, ("terminal-overwrite",))
        assert "terminal-is-final" in broken.violated(), (gap, broken.violations)
        _, fixed = run_schedule(schedule, ())
        assert fixed.passed, (gap, fixed.violations)
