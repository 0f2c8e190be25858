"""The regression gate: green on the fixed service, red when a regression escapes or a claim
fails."""

from __future__ import annotations

from pathlib import Path

import pytest
from freezegun import freeze_time

from harness.gate import format_matrix, run_gate
from harness.scenario import available, load
from reference_impl import BUGS
from tests.cli_runs import CliRun, run_cli


def test_full_gate_passes_and_catches_every_regression(full_gate: CliRun) -> None:
    assert full_gate.code == 0, full_gate.out + full_gate.err
    assert f"{len(BUGS)}/{len(BUGS)} planted regressions caught" in full_gate.out
    assert "15/15 planted regressions caught" in full_gate.out
    assert "GATE PASS" in full_gate.out
    assert "ESCAPED" not in full_gate.out
    assert "UNMET CLAIM" not in full_gate.out
    for name in available():
        assert f"[ok  ] {name} (fixed service)" in full_gate.out
        assert (full_gate.folder / name / "history.jsonl").is_file()
    for name in ("summary.md", "junit.xml", "gate.json"):
        assert (full_gate.folder / name).is_file()


def test_the_library_has_every_scenario_the_issue_names() -> None:
    wanted = {
        "post-completion-404",
        "cross-worker-retrieval",
        "worker-restart-mid-scan",
        "worker-restart-after-complete",
        "redis-outage-during-scan",
        "redis-outage-at-completion",
        "ttl-expiry",
        "missing-annual-return",
        "missing-annual-return-mid-scan",
        "stale-progress",
        "user-isolation",
        "budget-vs-worker-timeout",
        "many-users",
    }
    assert wanted <= set(available())
    claimed = {bug for name in available() for bug in load(name)[0].catches}
    assert claimed == set(BUGS)


def test_a_subset_that_misses_regressions_fails_the_gate(tmp_path: Path) -> None:
    # The incident's scenario alone catches the cache-chain regressions, not the others.
    run = run_cli(["gate", "--only", "--scenario", "post-completion-404", "--jobs", "1"], tmp_path)
    assert run.code == 1
    assert "GATE FAIL" in run.out
    for bug in ("no-user-scope", "orphaned-scan", "budget-over-timeout", "select-all-columns"):
        assert f"ESCAPED: planted regression {bug!r} is caught by no scenario" in run.out
    assert "ESCAPED: planted regression 'cleanup-ignores-redis'" not in run.out
    summary = (tmp_path / "summary.md").read_text()
    assert "# Regression gate: FAIL" in summary
    assert "### `no-user-scope`: **ESCAPED** every scenario" in summary
    assert "scanchaos gate --seed 0 --only --scenario post-completion-404" in summary


def test_without_its_only_scenario_a_regression_escapes() -> None:
    # `budget-vs-worker-timeout` is the one scenario with hanging strategies: without it the
    # worker-timeout regression goes unnoticed by every other scenario.
    names = [n for n in available() if n != "budget-vs-worker-timeout"]
    result = run_gate([load(n)[0] for n in names], bugs=("budget-over-timeout",), jobs=2)
    assert result.escaped == ["budget-over-timeout"]
    assert not result.passed
    assert not result.broken_baseline


def test_a_scenario_that_does_not_catch_what_it_claims_fails_the_gate(tmp_path: Path) -> None:
    scenario = tmp_path / "overclaims.py"
    scenario.write_text(
        "from harness.scenario import Poll, Scenario, Start\n"
        "SCENARIO = Scenario(\n"
        '    name="overclaims", description="claims a regression it cannot see",\n'
        "    duration=60.0,\n"
        '    steps=(Start(at=0.0, user="alice", scan="s1"),\n'
        '           Poll(scan="s1", start=1.0, until=60.0)),\n'
        '    catches=("budget-over-timeout",),\n'
        ")\n"
    )
    run = run_cli(["gate", "--only", "--scenario", str(scenario), "--jobs", "1"], tmp_path / "out")
    assert run.code == 1
    assert (
        "UNMET CLAIM: scenario 'overclaims' claims to catch 'budget-over-timeout' but does not"
        in run.out
    )
    assert "[ok  ] overclaims (fixed service)" in run.out


def test_parallel_and_in_process_gates_agree() -> None:
    scenarios = [load(n)[0] for n in ("user-isolation", "worker-restart-mid-scan")]
    bugs = ("no-user-scope", "orphaned-scan", "stale-memory-first")
    one = run_gate(scenarios, bugs=bugs, jobs=1)
    two = run_gate(scenarios, bugs=bugs, jobs=2)
    assert [(c.scenario, c.bug, c.violated) for c in one.cells] == [
        (c.scenario, c.bug, c.violated) for c in two.cells
    ]
    assert [r.history.dumps() for r in one.baseline] == [r.history.dumps() for r in two.baseline]
    assert one.passed and two.passed


def test_matrix_marks_claims_catches_and_misses() -> None:
    scenarios = [load("user-isolation")[0]]
    result = run_gate(scenarios, bugs=("no-user-scope", "orphaned-scan"), jobs=1)
    table = format_matrix(result)
    lines = table.splitlines()
    assert any(line.startswith("no-user-scope") and "  X |" in line for line in lines)
    assert any(line.startswith("orphaned-scan") and "  . | ESCAPED" in line for line in lines)
    assert "1/2 planted regressions caught" in table
    assert "S1   user-isolation" in table


def test_a_pool_is_refused_under_a_frozen_clock() -> None:
    scenarios = [load("user-isolation")[0]]
    with freeze_time("2030-01-01"), pytest.raises(RuntimeError, match="time is frozen"):
        run_gate(scenarios, bugs=("no-user-scope",), jobs=2)


def test_a_scenario_failing_on_the_fixed_service_fails_the_gate(tmp_path: Path) -> None:
    # A deployment whose budget outlasts the worker timeout: the fixed code, misconfigured.
    scenario = tmp_path / "misconfigured.py"
    scenario.write_text(
        "from harness.scenario import Poll, Scenario, Start\n"
        "from reference_impl import ServiceConfig, StrategyProfile\n"
        "SCENARIO = Scenario(\n"
        '    name="misconfigured", description="budget longer than the worker timeout",\n'
        "    duration=240.0,\n"
        "    config=ServiceConfig(scan_budget=200.0, worker_timeout=180.0),\n"
        "    profile=StrategyProfile(hang=frozenset({3})),\n"
        '    steps=(Start(at=0.0, user="alice", scan="s1"),\n'
        '           Poll(scan="s1", start=1.0, until=240.0, every=5.0)),\n'
        '    catches=("no-user-scope",),\n'
        ")\n"
    )
    run = run_cli(["gate", "--only", "--scenario", str(scenario), "--jobs", "1"], tmp_path / "out")
    assert run.code == 1
    assert "[FAIL] misconfigured (fixed service)" in run.out
    assert "VIOLATION saved-before-timeout" in run.out
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "- fixed service: 0/1 scenarios pass (**failing: misconfigured**)" in summary
    assert "### Violations in `misconfigured` (fixed service)" in summary
    assert "`saved-before-timeout`" in summary
    assert "| start | alice |" in summary
    assert f"Reproduce: `scanchaos run {scenario} --seed 0`" in summary
