"""`scanchaos explore`: exit codes, the written script replays as its docstring says, bad input."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main


def _docstring_command(script: Path, label: str) -> list[str]:
    match = re.search(rf"^{label}:\s+(scanchaos .+)$", script.read_text(), re.MULTILINE)
    assert match, f"no {label} line in {script}"
    return shlex.split(match.group(1))


def test_a_finding_is_written_as_a_script_that_fails_with_the_bug_and_passes_without(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "explore"
    code = main(["explore", "--bug", "cleanup-ignores-redis", "--budget", "20", "--out", str(out)])
    assert code == 1
    scripts = sorted(out.glob("explored_*.py"))
    assert [s.name for s in scripts] == ["explored_cleanup_ignores_redis_s0.py"]
    script = scripts[0]
    summary = (out / "summary.md").read_text()
    printed = capsys.readouterr().out
    assert "reachable-until-expiry" in summary and "Step by step:" in summary
    assert "## Coverage" in summary and summary.strip() in printed
    assert "-> fails" in summary and "-> passes" in summary

    # The exact commands of the docstring: with the bug it fails, without it passes.
    replay = _docstring_command(script, "Replay")
    assert replay[:4] == ["scanchaos", "run", str(script), "--bug"]
    assert main([*replay[1:], "--out", str(tmp_path / "replay")]) == 1
    fixed = _docstring_command(script, "Fixed")
    assert "--bug" not in fixed
    assert main([*fixed[1:], "--out", str(tmp_path / "fixed")]) == 0

    # And as a program of its own, through the installed entry point.
    run = subprocess.run(
        [sys.executable, "-m", "harness", *replay[1:], "--out", str(tmp_path / "proc")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "VIOLATION reachable-until-expiry" in run.stdout


def test_the_fixed_service_explores_the_budget_and_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "fixed"
    assert main(["explore", "--budget", "4", "--seed", "3", "--out", str(out)]) == 0
    summary = (out / "summary.md").read_text()
    assert "violations found: 0" in summary
    assert not list(out.glob("*.py"))
    assert "service path (probe event)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--budget", "-1"], "--budget: must be a positive number of seconds, got -1.0"),
        (["--budget", "nan"], "--budget: must be a positive number of seconds, got nan"),
        (["--jobs", "0"], "--jobs: must be at least 1, got 0"),
        (["--bug", "no-such-bug"], "unknown planted regression 'no-such-bug'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["explore", *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1
