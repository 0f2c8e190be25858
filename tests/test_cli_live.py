"""`scanchaos run|gate --mode live` from the command line: exit codes and clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main


def _scanchaos(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_missing_redis_server_is_exit_3_with_how_to_install(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path)}
    done = _scanchaos("run", "post-completion-404", "--mode", "live", env=env)
    assert done.returncode == 3
    [line] = done.stderr.strip().splitlines()
    assert "redis-server not found" in line and "apt-get install redis-server" in line
    done = _scanchaos("gate", "--mode", "live", "--redis-server", str(tmp_path / "nope"))
    assert done.returncode == 3
    assert "is not an executable file" in done.stderr


def test_live_options_without_live_mode_are_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "post-completion-404", "--scale", "0.1"]) == 2
    assert "--scale only applies to --mode live" in capsys.readouterr().err


@pytest.mark.live
def test_incident_live_exits_1_with_the_404_about_12_s_after_completion(
    tmp_path: Path, redis_server_binary: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "run",
            "post-completion-404",
            "--mode",
            "live",
            "--bug",
            "cleanup-ignores-redis",
            "--redis-server",
            redis_server_binary,
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 1
    verdict = json.loads((tmp_path / "verdict.json").read_text())
    assert verdict["mode"] == "live"
    [violation] = verdict["violations"]
    assert violation["invariant"] == "reachable-until-expiry"
    assert 9.0 <= violation["after_completion"] <= 16.0
    out = capsys.readouterr().out
    assert "after completion" in out and "--mode live" in out
