"""The nemesis SPEC: parsing, the concrete plan, and one clear error per mistake."""

from __future__ import annotations

import pytest

from harness.load.spec import (
    FaultRule,
    NemesisSpecError,
    PlannedFault,
    describe,
    parse,
    plan,
)


def test_none_and_empty_mean_no_faults() -> None:
    assert parse("none") == ()
    assert parse("  ") == ()


def test_parses_start_period_length_and_units() -> None:
    assert parse("kill/6s, pause@4/10s+1.5s, restart@15s+500ms, kill-scan@2s") == (
        FaultRule("kill", 6.0, 6.0, 0.0),
        FaultRule("pause", 4.0, 10.0, 1.5),
        FaultRule("restart", 15.0, None, 0.5),
        FaultRule("kill-scan", 2.0, None, 0.0),
    )


def test_redis_faults_default_to_one_second() -> None:
    assert parse("pause@3s") == (FaultRule("pause", 3.0, None, 1.0),)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("boom@1s", "unknown fault 'boom'; known: kill, kill-scan, pause, restart"),
        ("kill", "give @START, /EVERY or both"),
        ("kill@x", "START 'x' is not a time"),
        ("kill@-1", "START '-1' is not a time"),
        ("kill@0", "START must be positive"),
        ("kill@1s+2s", "a kill is instant; drop +LENGTH"),
        ("pause/2s+2s", "LENGTH 2 s must be shorter than EVERY 2 s"),
        ("pause@1s@2s", "START given twice"),
        ("pause@1s;2", "START '1s;2' is not a time"),
        ("pause#1", "expected ACTION[@START][/EVERY][+LENGTH]"),
        ("kill@1s,,pause@2s", "unknown fault ''"),
    ],
)
def test_mistakes_are_named(spec: str, message: str) -> None:
    with pytest.raises(NemesisSpecError) as error:
        parse(spec)
    text = str(error.value)
    assert text.startswith("--nemesis: ")
    assert message in text
    assert "\n" not in text


def test_plan_repeats_until_the_run_ends() -> None:
    planned = plan(parse("kill@1s/4s"), duration=12.0)
    assert [f.at for f in planned] == [1.0, 5.0, 9.0]


def test_period_alone_starts_after_one_period() -> None:
    assert [f.at for f in plan(parse("kill/5s"), duration=16.0)] == [5.0, 10.0, 15.0]


def test_overlapping_redis_faults_are_moved_apart() -> None:
    planned = plan(parse("pause@2s+2s,restart@3s+1s"), duration=20.0)
    assert planned == [PlannedFault("pause", 2.0, 2.0), PlannedFault("restart", 4.5, 1.0)]


def test_kills_may_fall_inside_a_redis_fault() -> None:
    planned = plan(parse("pause@2s+2s,kill@3s"), duration=20.0)
    assert planned == [PlannedFault("pause", 2.0, 2.0), PlannedFault("kill", 3.0)]


def test_a_fault_that_would_outlast_the_run_is_left_out() -> None:
    planned = plan(parse("pause@2s/4s+1s"), duration=10.0)
    # 2-3, 6-7 fit; 10-11 starts at the end; the run ends at 10 and keeps a 0.5 s margin.
    assert [f.at for f in planned] == [2.0, 6.0]
    assert all(f.end <= 10.0 - 0.5 for f in planned)


def test_describe_counts_each_action() -> None:
    planned = plan(parse("kill/3s,pause@1s+1s"), duration=10.0)
    assert describe(planned) == "kill x3, pause x1"
