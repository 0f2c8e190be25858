"""summary.md: what ran, the checklist, each violation's evidence, the matrix, how to reproduce."""

from __future__ import annotations

import json
from pathlib import Path

from harness.checker import INVARIANTS, JUDGEMENTS, InvariantResult, LostByFault, Verdict, Violation
from harness.history import History, RunInfo
from harness.report.files import write_run
from harness.report.summary import run_summary
from harness.runner import simulate
from harness.scenario import available, load
from reference_impl import BUGS, Reply
from tests.cli_runs import CliRun, run_cli


def test_failing_run_summary_shows_the_evidence_from_the_history(tmp_path: Path) -> None:
    run = run_cli(["run", "post-completion-404", "--bug", "cleanup-ignores-redis"], tmp_path)
    assert run.code == 1
    summary = (tmp_path / "summary.md").read_text()
    verdict = json.loads((tmp_path / "verdict.json").read_text())
    history = History.read(tmp_path / "history.jsonl")
    assert summary.startswith(
        "# Verification summary: `post-completion-404`: FAIL (1 violation(s))"
    )
    assert "- scenario: `post-completion-404`, mode `sim`, seed 0" in summary
    assert "planted regression(s): `cleanup-ignores-redis`" in summary
    assert "- [ ] `reachable-until-expiry`: **FAIL** (1 violation(s))" in summary
    for name in INVARIANTS:
        if name != "reachable-until-expiry":
            assert f"- [x] `{name}`: pass" in summary
    (violation,) = verdict["violations"]
    assert violation["message"] in summary
    first = history.ops[violation["evidence"][0]]
    row = (
        f"| #{first.index} | status | alice | {first.worker} | {first.start:.3f} s | "
        f"{first.end:.3f} s | `{first.scan_id[:12]}` (s1) | not_found, HTTP 404 |"
        if first.scan_id
        else ""
    )
    assert row and row in summary
    assert f"witnessed by {violation['count']} operation(s)" in summary
    for judgement in JUDGEMENTS:
        assert f"- {judgement}" in summary
    assert "```sh\nscanchaos run post-completion-404 --bug cleanup-ignores-redis --seed 0\n```" in (
        summary
    )


def test_timeline_is_linked_only_when_the_png_exists(tmp_path: Path) -> None:
    scenario = load("redis-outage-during-scan")[0]
    result = simulate(scenario)
    write_run(
        tmp_path / "a",
        result.history,
        result.verdict,
        description=scenario.description,
        report=False,
    )
    without = (tmp_path / "a" / "summary.md").read_text()
    assert "## Timeline" in without
    assert "(no `timeline.png` in this folder)" in without
    assert "\n![timeline](timeline.png)\n" not in without
    write_run(tmp_path / "b", result.history, result.verdict)
    assert (tmp_path / "b" / "timeline.png").stat().st_size > 0
    assert "\n![timeline](timeline.png)\n" in (tmp_path / "b" / "summary.md").read_text()


def test_passing_run_summary_lists_faults_and_no_violations(tmp_path: Path) -> None:
    run = run_cli(["run", "redis-outage-at-completion", "--seed", "3"], tmp_path)
    assert run.code == 0
    summary = (tmp_path / "summary.md").read_text()
    assert summary.startswith("# Verification summary: `redis-outage-at-completion`: PASS")
    assert "- service: reference service, fixed" in summary
    assert "seed 3" in summary
    assert "| redis-outage | - | 20.000 s | 50.000 s |" in summary
    assert "## Violations\n\nNone." in summary
    assert "scanchaos run redis-outage-at-completion --seed 3" in summary


def test_gate_summary_has_the_matrix_checklist_and_command(full_gate: CliRun) -> None:
    summary = (full_gate.folder / "summary.md").read_text()
    names = list(available())
    assert summary.startswith("# Regression gate: PASS")
    assert f"- fixed service: {len(names)}/{len(names)} scenarios pass" in summary
    assert f"- planted regressions caught: {len(BUGS)}/{len(BUGS)}" in summary
    assert "- claims (`catches=`) met: all" in summary
    header = "| regression | " + " | ".join(f"S{i + 1}" for i in range(len(names)))
    assert header in summary
    for bug in BUGS:
        assert f"| `{bug}` |" in summary
        assert f"### `{bug}`\n" in summary
    for i, name in enumerate(names):
        assert f"- S{i + 1}: `{name}`" in summary
    for name in INVARIANTS:
        assert f"- [x] `{name}`: pass in {len(names)} scenario(s)" in summary
    assert "**15/15 planted regressions caught.**" in summary
    assert "```sh\nscanchaos gate --seed 0\n```" in summary
    assert "## Timeline" in summary
    for judgement in JUDGEMENTS:
        assert judgement in summary
    # each scenario's own run summary sits next to it
    assert (
        (full_gate.folder / "many-users" / "summary.md")
        .read_text()
        .startswith("# Verification summary: `many-users`: PASS")
    )


def test_lost_by_fault_and_long_evidence_are_rendered() -> None:
    history = History(RunInfo("synthetic", command="scanchaos run synthetic --seed 0"))
    for i in range(8):
        history.record(
            "status",
            user="alice",
            worker=f"w{i % 3}",
            start=float(i),
            end=float(i) + 0.25,
            reply=Reply("not_found", scan_id="ab" * 16),
            scan_id="ab" * 16,
            label="s1",
        )
    violation = Violation(
        "reachable-until-expiry", "gone too early", 0.25, "ab" * 16, tuple(range(8)), 8, 1.5
    )
    lost = LostByFault("cd" * 16, 12.0, "completed while Redis was down")
    verdict = Verdict(
        [InvariantResult(n, True, int(n == "reachable-until-expiry")) for n in INVARIANTS],
        [violation],
        [lost],
    )
    summary = run_summary(history, verdict)
    assert "### 1. `reachable-until-expiry` at 0.250 s, scan `" + "ab" * 16 + "`" in summary
    assert "- first 1.500 s after the scan completed" in summary
    assert "- first 5 shown; every evidence index is in verdict.json" in summary
    assert "| #4 | status | alice | w1 | 4.000 s | 4.250 s | `abababababab` (s1) |" in summary
    assert "| #5 |" not in summary
    assert "## Lost by fault (listed, not violations)" in summary
    assert f"- scan `{'cd' * 16}`: completed while Redis was down" in summary
