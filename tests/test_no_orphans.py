"""No redis-server or Gunicorn process outlives a live run: finished, interrupted or terminated."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
import redis

from harness.history import UNFINISHED, History
from harness.report.rundir import read_run
from reference_impl.keys import RESULT_PREFIX
from tests.waiting import wait_for

pytestmark = pytest.mark.live

SCANCHAOS = [sys.executable, "-m", "harness"]


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.add(pid)
        except psutil.NoSuchProcess:
            continue
    return alive


def _descendants(pid: int) -> set[int]:
    try:
        return {child.pid for child in psutil.Process(pid).children(recursive=True)}
    except psutil.NoSuchProcess:
        return set()


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run(
    tmp_path: Path, redis_server_binary: str, *, sigint_ignored: bool = False
) -> subprocess.Popen[bytes]:
    """The harness; `sigint_ignored` starts it as a background job of a shell without job
    control (or some CI runners) would: with SIGINT ignored, which Python keeps."""
    with open(tmp_path / "stderr", "wb") as stderr:
        return subprocess.Popen(
            [
                *SCANCHAOS,
                "run",
                "post-completion-404",
                "--mode",
                "live",
                "--redis-server",
                redis_server_binary,
                "--out",
                str(tmp_path / "out"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            preexec_fn=_ignore_sigint if sigint_ignored else None,
        )


def _wait_or_explain(proc: subprocess.Popen[bytes], stderr: Path, timeout: float) -> int:
    """The run's exit code; if it will not end, fail with what each of its threads is doing
    (the harness prints its stacks on SIGUSR1)."""
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGUSR1)
        wait_for(lambda: b"most recent call first" in stderr.read_bytes(), 10)
        pytest.fail(f"the run did not end within {timeout:.0f} s:\n{stderr.read_text()}")


def _wait_for_cluster(proc: subprocess.Popen[bytes]) -> set[int]:
    """Every process of the run's cluster: redis-server, the Gunicorn master and 3 workers."""
    seen: set[int] = set()

    def up() -> bool:
        assert proc.poll() is None, "the run ended before its cluster came up"
        seen.update(_descendants(proc.pid))
        return len(seen) >= 5

    assert wait_for(up, 60), f"the cluster never came up: {seen}"
    return seen


def _wait_for_scan(pids: set[int]) -> None:
    """Midway: wait until the run's scan has written its entry to the run's Redis."""
    server = next(p for p in _alive(pids) if "redis-server" in psutil.Process(p).name())
    listening = [
        c.laddr.port
        for c in psutil.Process(server).net_connections(kind="tcp")
        if c.status == psutil.CONN_LISTEN
    ]
    client = redis.Redis(port=listening[0], socket_timeout=2)
    try:
        assert wait_for(lambda: client.keys(RESULT_PREFIX + "*"), 60, 0.01), (
            "the scan never started"
        )
    finally:
        client.close()


@pytest.mark.parametrize(
    ("sig", "sigint_ignored"),
    [(signal.SIGINT, False), (signal.SIGINT, True), (signal.SIGTERM, False)],
    ids=["SIGINT", "SIGINT-started-ignored", "SIGTERM"],
)
def test_an_interrupted_live_run_leaves_nothing_behind(
    tmp_path: Path, redis_server_binary: str, sig: signal.Signals, sigint_ignored: bool
) -> None:
    proc = _run(tmp_path, redis_server_binary, sigint_ignored=sigint_ignored)
    try:
        pids = _wait_for_cluster(proc)
        _wait_for_scan(pids)
        os.kill(proc.pid, sig)
        code = _wait_or_explain(proc, tmp_path / "stderr", 60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code == 128 + sig
    assert b"interrupted" in (tmp_path / "stderr").read_bytes()
    assert _alive(pids) == set()
    # What the run saw until the signal is on disk, said to be unfinished, and can be judged.
    history = History.read(tmp_path / "out" / "history.jsonl")
    assert history.info.interrupted == UNFINISHED
    assert read_run(tmp_path / "out").verdict.results


def test_a_finished_live_run_leaves_nothing_behind(
    tmp_path: Path, redis_server_binary: str
) -> None:
    proc = _run(tmp_path, redis_server_binary)
    try:
        pids = _wait_for_cluster(proc)
        code = _wait_or_explain(proc, tmp_path / "stderr", 120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code == 0, (tmp_path / "stderr").read_text()
    assert _alive(pids) == set()
