"""`reap` stops only what is really a killed run's: never a reused pid, never a live run's."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from harness.live import leftovers
from harness.live.leftovers import ProcessEntry, RunRecord, reap
from tests.waiting import wait_for

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(SLEEPER)
    # the entry must describe it after exec, not the forked copy of this interpreter
    assert wait_for(lambda: psutil.Process(proc.pid).cmdline() == SLEEPER, 10)
    yield proc
    proc.kill()
    proc.wait()


def _entry(pid: int, what: str, **change: object) -> ProcessEntry:
    proc = psutil.Process(pid)
    entry = ProcessEntry(pid, proc.create_time(), tuple(proc.cmdline()), what, proc.exe())
    return ProcessEntry(**{**entry.__dict__, **change})  # type: ignore[arg-type]


def _dead_harness() -> ProcessEntry:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    entry = ProcessEntry(proc.pid, 1.0, ("gone",), "harness")
    proc.wait()
    return entry


def test_a_recorded_process_of_a_dead_harness_is_stopped(
    sleeper: subprocess.Popen[bytes],
) -> None:
    run = RunRecord("t-1", _dead_harness(), [_entry(sleeper.pid, "sleeper")])
    result = reap(run)
    assert [e.pid for e in result.stopped] == [sleeper.pid]
    # reap waited for it (and, as its parent here, collected its exit status)
    assert not psutil.pid_exists(sleeper.pid)
    assert result.line().startswith("the killed run of harness pid ")
    assert "stopped 1 process(es) (sleeper (pid " in result.line()


def test_a_pid_now_naming_another_process_is_left_alone(
    sleeper: subprocess.Popen[bytes],
) -> None:
    reused = _entry(
        sleeper.pid, "sleeper", create_time=psutil.Process(sleeper.pid).create_time() - 60
    )
    other_program = _entry(sleeper.pid, "sleeper", cmdline=("redis-server",), exe="/nowhere")
    for entry in (reused, other_program):
        result = reap(RunRecord("t-2", _dead_harness(), [entry]))
        assert result.stopped == ()
        assert sleeper.poll() is None
        assert result.line().startswith("nothing left by the run of harness pid ")


def test_the_processes_of_a_harness_that_still_runs_are_left_alone(
    sleeper: subprocess.Popen[bytes],
) -> None:
    import os

    me = _entry(os.getpid(), "harness")
    result = reap(RunRecord("t-3", me, [_entry(sleeper.pid, "sleeper")]))
    assert result.still_running and result.stopped == ()
    assert sleeper.poll() is None


def test_a_process_carrying_the_token_is_stopped_though_never_recorded(tmp_path: Path) -> None:
    import os

    env = {**os.environ, leftovers.TOKEN_ENV: "t-4-token"}
    child = subprocess.Popen(SLEEPER, env=env)
    try:
        assert wait_for(lambda: psutil.Process(child.pid).cmdline() == SLEEPER, 10)
        result = reap(RunRecord("t-4-token", _dead_harness(), []))
        assert [e.pid for e in result.stopped] == [child.pid]
        assert not psutil.pid_exists(child.pid)
    finally:
        child.kill()
        child.wait()


def test_a_record_round_trips_through_its_file(tmp_path: Path) -> None:
    run = RunRecord(
        "t-5", _dead_harness(), [ProcessEntry(7, 2.5, ("a", "b"), "x", "/bin/a")], ["/tmp/f"]
    )
    path = tmp_path / "processes.json"
    path.write_text(run.to_json(), encoding="utf-8")
    assert RunRecord.read(path) == run


def test_the_temporary_folders_of_a_dead_harness_are_removed(tmp_path: Path) -> None:
    folder = tmp_path / "scanchaos-live-x"
    (folder / "redis").mkdir(parents=True)
    (folder / "gunicorn.log").write_text("log", encoding="utf-8")
    gone = tmp_path / "scanchaos-live-already-removed"
    result = reap(RunRecord("t-6", _dead_harness(), [], [str(folder), str(gone)]))
    assert not folder.exists()
    assert result.removed == (str(folder),)
    assert result.line().endswith(f"left things behind: removed 1 folder(s) ({folder})")


def test_the_temporary_folders_of_a_running_harness_are_left_alone(tmp_path: Path) -> None:
    import os

    folder = tmp_path / "scanchaos-live-y"
    folder.mkdir()
    result = reap(RunRecord("t-7", _entry(os.getpid(), "harness"), [], [str(folder)]))
    assert result.still_running and folder.is_dir()


def test_a_record_without_folders_reads_as_one_with_none(tmp_path: Path) -> None:
    # Records written before folders were recorded carry no `folders` field.
    path = tmp_path / "processes.json"
    path.write_text(
        '{"token": "t-8", "harness": {"pid": 1, "create_time": 0, "cmdline": [], "what": "h"},'
        ' "processes": []}',
        encoding="utf-8",
    )
    assert RunRecord.read(path).folders == []
