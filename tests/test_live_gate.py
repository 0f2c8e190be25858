"""The live gate: real runs held to the simulation's verdicts, differences named."""

from __future__ import annotations

import pytest

from harness.gate import Cell, GateResult, format_gate, format_matrix
from harness.live.gate import hold_to_simulation, live_limits, plan, run_live_gate
from harness.live.runner import LiveOptions
from harness.runner import simulate
from harness.scenario import Poll, Scenario, Start, load

INCIDENT = Scenario(
    name="incident-short",
    description="the 12 s 404, watched for 60 s",
    duration=60.0,
    steps=(
        Start(at=0.0, user="alice", scan="s1"),
        Poll(scan="s1", start=1.0, until=60.0, every=1.0, fanout=3),
    ),
    catches=("cleanup-ignores-redis",),
)


def _gate(cells: list[Cell]) -> GateResult:
    bugs = tuple(sorted({c.bug for c in cells}))
    return GateResult(seed=0, baseline=[], cells=cells, bugs=bugs, scenarios=("a", "b"))


def test_a_live_verdict_that_differs_from_simulation_is_named() -> None:
    sim = _gate([Cell("a", "x", True, ("isolated",)), Cell("b", "x", False, ())])
    same = hold_to_simulation(_gate([Cell("a", "x", True, ("isolated",))]), sim)
    assert same.mismatches == []
    assert same.passed
    differs = hold_to_simulation(_gate([Cell("a", "x", False, ())]), sim)
    [mismatch] = differs.mismatches
    assert mismatch.describe() == "a / x: simulation isolated; live pass"
    assert not differs.passed
    assert "DIFFERS FROM SIMULATION: a / x" in format_gate(differs)
    assert "- not run" in format_matrix(differs)
    assert "| ESCAPED" in format_matrix(differs)
    assert "| not run" in format_matrix(differs, {"x": "cannot be reproduced live"})


def test_caught_by_other_invariants_than_in_simulation_is_a_mismatch() -> None:
    sim = _gate([Cell("a", "x", True, ("isolated",))])
    live = hold_to_simulation(_gate([Cell("a", "x", True, ("monotonic-reads",))]), sim)
    [mismatch] = live.mismatches
    assert mismatch.describe() == "a / x: simulation isolated; live monotonic-reads"
    assert live.mark("a", "x") == "D"
    assert not live.passed


def test_caught_through_fewer_or_more_invariants_sharing_one_agrees() -> None:
    # A stale memory copy breaks terminal-is-final too only if a read lands after completion.
    both = ("monotonic-reads", "terminal-is-final")
    sim = _gate([Cell("a", "x", True, both), Cell("b", "x", True, ("monotonic-reads",))])
    live = hold_to_simulation(
        _gate([Cell("a", "x", True, ("monotonic-reads",)), Cell("b", "x", True, both)]), sim
    )
    assert live.mismatches == []
    assert live.passed and live.mark("a", "x") == "x"  # caught, not claimed


def test_a_fixed_service_run_failing_live_only_is_a_mismatch() -> None:
    from harness.matrix import baseline_mismatches

    [mismatch] = baseline_mismatches({"a": ("no-server-errors",), "b": ()}, {"a": (), "b": ()})
    assert mismatch.describe() == "a / fixed service: simulation pass; live no-server-errors"


def test_plan_runs_claims_and_falls_back_to_what_simulation_caught() -> None:
    unclaimed = Scenario(name="b", description="", duration=60.0, steps=INCIDENT.steps, catches=())
    sim = _gate(
        [
            Cell("incident-short", "no-user-scope", False, ()),
            Cell("b", "no-user-scope", True, ("isolated",)),
        ]
    )
    pairs = plan([INCIDENT, unclaimed], sim, ["cleanup-ignores-redis", "no-user-scope"])
    assert pairs == [(0, "cleanup-ignores-redis"), (1, "no-user-scope")]


def test_limits_name_a_reason_per_outage_kind() -> None:
    assert set(live_limits(LiveOptions(outage="stop"))) == {"terminal-overwrite"}
    assert "respawned Gunicorn worker" in live_limits(LiveOptions())["terminal-overwrite"]
    assert "socket buffers" in live_limits(LiveOptions(outage="pause"))["lost-write-after-outage"]


@pytest.mark.live
def test_live_gate_matches_simulation(redis_server_binary: str) -> None:
    failover = load("failover-after-completion")[0]
    result = run_live_gate(
        [INCIDENT, failover],
        options=LiveOptions(redis_server=redis_server_binary),
        bugs=("cleanup-ignores-redis", "no-replica-ack"),
    )
    assert result.mismatches == []
    assert result.passed, format_gate(result)
    assert result.caught_by("cleanup-ignores-redis") == ["incident-short"]
    # The failover runs live too: a real primary, replica and Sentinels.
    assert [r.scenario.name for r in result.baseline] == [
        "incident-short",
        "failover-after-completion",
    ]
    assert result.caught_by("no-replica-ack") == ["failover-after-completion"]
    assert result.not_run == {}
    assert simulate(INCIDENT).verdict.passed
