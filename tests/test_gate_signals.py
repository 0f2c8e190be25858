"""A gate stopped by Ctrl-C or a CI cancel (SIGTERM) leaves no worker process behind."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from tests.waiting import wait_for


def _live(match: Callable[[psutil.Process], bool]) -> list[int]:
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.status() != psutil.STATUS_ZOMBIE and match(proc):
                found.append(proc.pid)
        except (psutil.Error, OSError):
            continue  # gone while we looked
    return found


def _children(pid: int) -> list[int]:
    return _live(lambda proc: proc.ppid() == pid)


def _alive(pid: int) -> bool:
    return bool(_live(lambda proc: proc.pid == pid))


def _group(pgid: int) -> list[int]:
    """Live processes in a process group: a worker forked late and orphaned is still in it."""
    return _live(lambda proc: os.getpgid(proc.pid) == pgid)


def _stop_group(gate: subprocess.Popen[bytes]) -> None:
    """Stop the gate and anything it left in its group, also when the test failed."""
    if gate.poll() is None or _group(gate.pid):
        # The group may empty itself between the look and the kill.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(gate.pid, signal.SIGKILL)
    gate.wait()


def _restore_sigint() -> None:
    # A background job inherits an ignored SIGINT; a terminal's foreground job does not.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.setsid()


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_interrupted_gate_stops_its_workers(tmp_path: Path, how: str) -> None:
    # stderr goes to a file: a process left behind holding a pipe would hang the read instead
    # of failing the check below.
    with (tmp_path / "stderr").open("wb") as err_file:
        gate = subprocess.Popen(
            [sys.executable, "-m", "harness", "gate", "--jobs", "2", "--out", str(tmp_path)],
            stdout=subprocess.DEVNULL,
            stderr=err_file,
            preexec_fn=_restore_sigint,
        )
    try:
        assert wait_for(lambda: len(_children(gate.pid)) >= 2, 30), "no pool started"
        workers = _children(gate.pid)
        if how == "ctrl-c":
            os.killpg(gate.pid, signal.SIGINT)  # the terminal signals the whole group
        else:
            os.kill(gate.pid, signal.SIGTERM)
        assert gate.wait(timeout=30) == 128 + (signal.SIGINT if how == "ctrl-c" else signal.SIGTERM)
        err = (tmp_path / "stderr").read_text()
        assert err.strip() == "scanchaos: interrupted"  # no worker traceback either
        assert wait_for(lambda: not any(_alive(w) for w in workers), 10)
        assert wait_for(lambda: not _group(gate.pid), 10), f"left behind: {_group(gate.pid)}"
    finally:
        _stop_group(gate)


# Run in a fresh process: when the pool's worker-handler thread has started, the gate signals
# itself, so the interrupt lands inside `Pool()`, the moment a loaded machine makes likely. The
# gate must end its pool itself: one left to interpreter exit has its workers killed while its
# handler thread still runs and forks replacements, which outlive the gate.
_SIGNAL_WHILE_POOL_IS_BUILT = """
import os, signal, sys, threading
import multiprocess
from harness.cli import console_main

start = threading.Thread.start

def start_then_signal(thread):
    start(thread)
    if thread.name.endswith("(_handle_workers)"):
        os.kill(os.getpid(), signal.SIGTERM)

threading.Thread.start = start_then_signal
code = console_main()
threads = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
print(f"workers left: {len(multiprocess.active_children())}; threads left: {threads}")
sys.exit(code)
"""


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_interrupt_while_the_pool_is_built_leaves_no_worker(tmp_path: Path) -> None:
    gate_args = ["gate", "--jobs", "2", "--out", str(tmp_path)]
    with (tmp_path / "stdout").open("wb") as out_file, (tmp_path / "stderr").open("wb") as err:
        gate = subprocess.Popen(
            [sys.executable, "-c", _SIGNAL_WHILE_POOL_IS_BUILT, *gate_args],
            stdout=out_file,
            stderr=err,
            preexec_fn=_restore_sigint,
        )
    try:
        assert gate.wait(timeout=60) == 128 + signal.SIGTERM
        assert (tmp_path / "stderr").read_text().strip() == "scanchaos: interrupted"
        assert (tmp_path / "stdout").read_text().strip() == "workers left: 0; threads left: []"
        assert wait_for(lambda: not _group(gate.pid), 10), f"left behind: {_group(gate.pid)}"
    finally:
        _stop_group(gate)
