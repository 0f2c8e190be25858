"""Generated schedules become valid scenarios, with the times and targets the actions name."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

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
