"""A gate stopped by Ctrl-C or a CI cancel (SIGTERM) leaves no worker process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.waiting import wait_for


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_interrupted_gate_stops_its_workers(tmp_path: Path, how: str) -> None:
    def restore_sigint() -> None:
        # A background job inherits an ignored SIGINT; a terminal's foreground job does not.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.setsid()

    gate = subprocess.Popen(
        [sys.executable, "-m", "harness", "gate", "--jobs", "2", "--out", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=restore_sigint,
    )
    try:
        assert wait_for(lambda: len(_children(gate.pid)) >= 2, 30, 0.05), "no pool started"
        workers = _children(gate.pid)
        if how == "ctrl-c":
            os.killpg(gate.pid, signal.SIGINT)  # the terminal signals the whole group
        else:
            os.kill(gate.pid, signal.SIGTERM)
        _, err = gate.communicate(timeout=30)
        assert gate.returncode == 130
        assert err.decode().strip().splitlines()[-1] == "scanchaos: interrupted"
        assert wait_for(lambda: not any(_alive(w) for w in workers), 10, 0.05)
    finally:
        if gate.poll() is None:
            os.killpg(gate.pid, signal.SIGKILL)
            gate.wait()
