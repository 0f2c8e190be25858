"""What a CI job picks up: `--junit PATH` and the GitHub job summary."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from harness.cli import main
from harness.report.ci import STEP_SUMMARY_LIMIT, step_text
from tests.cli_runs import CliRun, run_cli
from tests.conftest import EARLIER_STEP, CiFiles


def test_the_gate_appends_its_summary_to_the_job_summary(
    full_gate: CliRun, full_gate_ci: CiFiles
) -> None:
    text = full_gate_ci.step_summary.read_text(encoding="utf-8")
    assert text.startswith(EARLIER_STEP)
    appended = text[len(EARLIER_STEP) :]
    assert appended.startswith("# Regression gate: PASS\n")
    summary = (full_gate.folder / "summary.md").read_text(encoding="utf-8")
    assert "## Kill matrix" in appended and "## Kill matrix" in summary
    # the job page has no files beside it: pictures become the artefact paths
    assert "](post-completion-404/timeline.png)" in summary
    assert "](post-completion-404/timeline.png)" not in appended
    assert f"`{full_gate.folder.as_posix()}/post-completion-404/timeline.png`" in appended
    assert f"appended {full_gate.folder / 'summary.md'} to the job summary" in full_gate.out


def test_the_gate_writes_junit_where_it_is_told(full_gate: CliRun, full_gate_ci: CiFiles) -> None:
    assert full_gate_ci.junit.read_bytes() == (full_gate.folder / "junit.xml").read_bytes()
    assert f"wrote {full_gate_ci.junit}" in full_gate.out


def test_run_takes_junit_and_appends_to_the_job_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    step_summary = tmp_path / "summary-file"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
    junit = tmp_path / "results" / "run.xml"
    args = ["run", "post-completion-404", "--bug", "cleanup-ignores-redis", "--junit", str(junit)]
    run = run_cli(args, tmp_path / "out")
    assert run.code == 1
    assert "<failure" in junit.read_text(encoding="utf-8")
    text = step_summary.read_text(encoding="utf-8")
    assert "reachable-until-expiry" in text
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert text == step_text(summary, tmp_path / "out").rstrip("\n") + "\n\n"


def test_without_the_variable_nothing_is_appended(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    run = run_cli(["run", "user-isolation"], tmp_path / "out")
    assert run.code == 0
    assert "job summary" not in run.out


def test_a_junit_path_that_is_a_folder_is_refused_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["run", "user-isolation", "--junit", str(tmp_path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert (
        err
        == f"scanchaos: error: --junit: {tmp_path} is a folder; give a file path, e.g. junit.xml\n"
    )
    assert not out.exists()


def test_an_oversized_summary_is_cut_under_the_limit() -> None:
    text = step_text("x" * (STEP_SUMMARY_LIMIT + 10), Path("out"))
    assert len(text.encode()) < STEP_SUMMARY_LIMIT + 200
    assert text.endswith("(cut: the whole summary is `out/summary.md`)\n")


def test_links_to_other_sites_and_anchors_are_kept() -> None:
    text = "[docs](https://example.org/x) [here](#evidence) [report](report.html)"
    assert step_text(text, Path("r")) == (
        "[docs](https://example.org/x) [here](#evidence) "
        "report (`r/report.html` in the report folder)"
    )


def test_the_live_gate_junit_names_each_difference_from_simulation() -> None:
    from harness.gate import run_gate
    from harness.live.gate import hold_to_simulation
    from harness.report import junit
    from harness.scenario import load

    sim = run_gate([load("user-isolation")[0]], bugs=("no-user-scope", "orphaned-scan"), jobs=1)
    # A live gate in which no-user-scope went unnoticed: a difference, named in the JUnit.
    live = replace(sim, cells=[replace(c, caught=False, violated=()) for c in sim.cells])
    result = hold_to_simulation(live, sim, {"orphaned-scan": "needs a scan whose worker dies"})
    suites = {s.name: s for s in junit.gate_suites(result)}
    failures = [c.failure for s in suites.values() for c in s.cases if c.failure is not None]
    assert any(f[1] == "differs-from-simulation" for f in failures)
    assert not result.passed


def test_check_takes_junit_with_or_without_an_output_folder(tmp_path: Path) -> None:
    recorded = run_cli(["run", "post-completion-404", "--bug", "cleanup-ignores-redis"], tmp_path)
    assert recorded.code == 1
    alone = tmp_path / "ci" / "check.xml"
    assert main(["check", str(tmp_path / "history.jsonl"), "--junit", str(alone)]) == 1
    assert "reachable-until-expiry" in alone.read_text(encoding="utf-8")
    beside = tmp_path / "ci" / "check-out.xml"
    out = tmp_path / "checked"
    args = ["check", str(tmp_path / "history.jsonl"), "--out", str(out), "--junit", str(beside)]
    assert main(args) == 1
    assert beside.read_bytes() == (out / "junit.xml").read_bytes()
