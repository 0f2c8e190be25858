"""`scanchaos load` before and after the live part: options, Locust commands, the summary."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.checker import Checker
from harness.history import History, RunInfo, Timing
from harness.load.nemesis import NemesisStats
from harness.load.run import (
    LOCUSTFILE,
    LoadOptionError,
    LoadOptions,
    LoadResult,
    false_404s,
    locust_commands,
    reproduce_command,
    summary,
    validate,
)
from harness.load.spec import NemesisSpecError
from reference_impl import Reply, UnknownBugError


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (LoadOptions(users=0), "--users must be at least 1, got 0"),
        (LoadOptions(duration=-1), "--duration must be positive"),
        (LoadOptions(workers=2, scanners=2), "--scanners (2) must be fewer than --workers (2)"),
        (LoadOptions(poll_interval=0), "--poll-interval must be positive"),
    ],
)
def test_bad_options_are_refused_by_name(options: LoadOptions, message: str) -> None:
    with pytest.raises(LoadOptionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        validate(options)


def test_bad_spec_and_bug_are_refused() -> None:
    with pytest.raises(NemesisSpecError):
        validate(LoadOptions(nemesis="kill"))
    with pytest.raises(UnknownBugError):
        validate(LoadOptions(bugs=("no-such-bug",)))


def test_validate_returns_the_plan() -> None:
    planned = validate(LoadOptions(duration=10, nemesis="kill@2s/4s"))
    assert [(f.action, f.at) for f in planned] == [("kill", 2.0), ("kill", 6.0)]


def test_one_locust_process_by_default(tmp_path: Path) -> None:
    (command,) = locust_commands(LoadOptions(out=tmp_path), "http://127.0.0.1:9", 5557)
    assert command[:5] == [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE)]
    assert "--headless" in command and "--master" not in command
    assert command[command.index("--history-dir") + 1] == str(tmp_path / "raw")
    assert command[command.index("--csv") + 1] == str(tmp_path / "locust")


def test_distributed_locust_stays_on_loopback(tmp_path: Path) -> None:
    master, *workers = locust_commands(
        LoadOptions(out=tmp_path, locust_workers=2), "http://127.0.0.1:9", 6001
    )
    assert len(workers) == 2
    assert master[master.index("--master-bind-host") + 1] == "127.0.0.1"
    assert master[master.index("--expect-workers") + 1] == "2"
    for worker in workers:
        assert worker[worker.index("--master-host") + 1] == "127.0.0.1"
        assert worker[worker.index("--master-port") + 1] == "6001"


def test_reproduce_command_names_every_choice() -> None:
    options = LoadOptions(users=5, bugs=("cleanup-ignores-redis",), nemesis="none", seed=3)
    assert reproduce_command(options) == (
        "scanchaos load --users 5 --spawn-rate 10 --duration 30 --workers 4 "
        "--bug cleanup-ignores-redis --nemesis none --seed 3"
    )


def test_false_404s_counts_only_404s_inside_the_ttl() -> None:
    timing = Timing(slack=2.0)
    history = History(RunInfo("load", timing=timing))
    sid = "b" * 32
    done = Reply("complete", scan_id=sid, owner="alice", done=14, total=14, finished_at=28.0)
    history.record("start", user="alice", worker="1", start=0.0, end=28.0, reply=done)
    gone = Reply("not_found", scan_id=sid)
    for at in (40.0, 41.0, 42.0, 400.0):  # the last one is past the TTL: a true 404
        history.record("status", user="alice", worker="2", start=at, end=at + 0.1, reply=gone)
    history.record("status", user="mallory", worker="2", start=50.0, end=50.1, reply=gone)
    verdict = Checker().check(history)
    assert verdict.violated() == {"reachable-until-expiry"}
    assert false_404s(history, verdict) == 3


def test_the_summary_says_when_a_locust_worker_s_records_end_early(tmp_path: Path) -> None:
    history = History(RunInfo("load", timing=Timing()))
    result = LoadResult(history, Checker().check(history), NemesisStats(), 0, tmp_path)
    assert "end early" not in summary(result)
    result.unfinished = 1
    assert "Locust processes whose records end early: 1 (locust.log)" in summary(result)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["load", "--nemesis", "pause/3s+4s"], "--nemesis: 'pause/3s+4s': LENGTH 4 s"),
        (["load", "--nemesis", "meteor@1s"], "unknown fault 'meteor'"),
        (["load", "--users", "0"], "--users must be at least 1"),
        (["load", "--bug", "nope"], "unknown planted regression 'nope'"),
        (["serve", "--bug", "nope"], "unknown planted regression 'nope'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = run_cli(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("scanchaos: error: ")
    assert message in lines[0]
