"""The load test for real: Locust, redis-server and Gunicorn on 127.0.0.1, a nemesis, one checker.

Each run is a `scanchaos` (or `locust`) subprocess, so Locust's gevent never reaches this process
and a run that hangs is stopped with its whole process tree. Loads are kept small (a few users,
0.1 s between a user's requests) so that the runs hold on a busy 2-core machine.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from harness.history import History
from harness.load.record import read_folder
from harness.load.run import LOCUSTFILE

pytestmark = pytest.mark.live

LIGHT = ["--users", "8", "--spawn-rate", "8", "--poll-interval", "0.1"]


class Proc:
    """A subprocess whose whole tree is stopped at the end of the test, whatever happened."""

    def __init__(self, command: list[str], cwd: Path) -> None:
        self.popen = subprocess.Popen(
            command,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.output: list[str] = []

    def descendants(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.popen.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def commands(self) -> str:
        """The command lines of the tree's running processes, joined (one that has just
        exited, a worker the nemesis killed say, is a zombie with no command line left)."""
        lines = []
        for proc in self.descendants():
            try:
                lines.append(" ".join(proc.cmdline()))
            except psutil.Error:
                continue
        return " ".join(lines)

    def finish(self, timeout: float) -> int:
        out, _ = self.popen.communicate(timeout=timeout)
        self.output.append(out)
        return self.popen.returncode

    def read_until(self, pattern: str, timeout: float) -> str:
        """Read output lines until one matches `pattern` (a deadline, not a sleep)."""
        assert self.popen.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.popen.stdout.readline()
            if not line:
                break
            self.output.append(line)
            if re.search(pattern, line):
                return line
        raise AssertionError(f"no line matching {pattern!r} in: {''.join(self.output)}")

    @property
    def text(self) -> str:
        return "".join(self.output)

    def kill_tree(self) -> None:
        if self.popen.poll() is None:
            tree = self.descendants()
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(60)
            except subprocess.TimeoutExpired:
                for proc in [*tree, psutil.Process(self.popen.pid)]:
                    proc.kill()
                self.popen.wait()
        # A test that failed before `finish` leaves the pipe open: closed here, not by the
        # garbage collector in whatever test runs next (a ResourceWarning failing that test).
        if self.popen.stdout is not None:
            self.popen.stdout.close()


def alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    """Those still running (a zombie waiting to be reaped has stopped)."""
    found = []
    for proc in processes:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except psutil.NoSuchProcess:
            continue
    return found


@pytest.fixture
def procs() -> Iterator[list[Proc]]:
    started: list[Proc] = []
    yield started
    for proc in reversed(started):
        proc.kill_tree()


def scanchaos(
    procs: list[Proc], tmp_path: Path, redis: str, *args: str, timeout: float = 240.0
) -> tuple[int, str, dict[str, Any]]:
    out = tmp_path / "out"
    command = [sys.executable, "-m", "harness", "load", "--out", str(out)]
    proc = Proc([*command, "--redis-server", redis, *args], tmp_path)
    procs.append(proc)
    code = proc.finish(timeout)
    verdict = json.loads((out / "verdict.json").read_text()) if code in (0, 1) else {}
    return code, proc.text, verdict


def test_fixed_service_passes_under_load_and_nemesis(
    procs: list[Proc], tmp_path: Path, redis_server_binary: str
) -> None:
    code, text, verdict = scanchaos(
        procs, tmp_path, redis_server_binary, "--duration", "25", "--workers", "4", *LIGHT
    )
    assert code == 0, text
    assert verdict["passed"] is True
    out = tmp_path / "out"
    history = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    ops = [r for r in history if r["type"] == "op"]
    faults = {r["fault"] for r in history if r["type"] == "fault"}
    assert faults == {"worker-restart", "redis-outage"}
    assert sum(1 for o in ops if o["op"] == "status") > 300
    assert sum(1 for o in ops if o["op"] == "start" and o["reply"]["status"] == "complete") >= 3
    # The nemesis broke things the checker had to excuse: 503s during Redis faults.
    assert any(o["reply"]["status"] == "unavailable" for o in ops)
    for name in ("locust_stats.csv", "locust.html", "locust.log"):
        assert (out / name).stat().st_size > 0
    assert "locust's own verdict (exit code): 0" in text
    assert re.search(r"\[load +\d+\.\d/25 s\] [1-9][\d,]* requests", text)


def test_fixed_service_passes_load_through_sentinel_failovers(
    procs: list[Proc], tmp_path: Path, redis_server_binary: str
) -> None:
    code, text, verdict = scanchaos(
        procs,
        tmp_path,
        redis_server_binary,
        "--duration",
        "20",
        "--workers",
        "3",
        "--nemesis",
        "lag@1s+1s,failover@4s/10s",
        *LIGHT,
    )
    assert code == 0, text
    assert verdict["passed"] is True
    history = History.read(tmp_path / "out" / "history.jsonl")
    assert history.info.interrupted is None
    failovers = [f for f in history.faults if f.fault == "redis-failover"]
    assert len(failovers) == 2 and [f.fault for f in history.faults].count("replica-lag") == 1
    for failover in failovers:
        assert failover.target is not None and " promoted " in failover.target
        assert failover.end > failover.start
    assert "2 failovers, 1 replica lags as planned" in text


def test_the_incident_fails_the_load_run_and_counts_its_404s(
    procs: list[Proc], tmp_path: Path, redis_server_binary: str
) -> None:
    code, text, verdict = scanchaos(
        procs,
        tmp_path,
        redis_server_binary,
        "--duration",
        "12",
        "--workers",
        "3",
        "--bug",
        "cleanup-ignores-redis",
        "--nemesis",
        "none",
        *LIGHT,
    )
    assert code == 1, text
    assert {v["invariant"] for v in verdict["violations"]} == {"reachable-until-expiry"}
    # The 404 comes after the memory TTL and a cleanup tick: about 12 s after completion.
    first = min(v["after_completion"] for v in verdict["violations"])
    assert 8.0 < first < 20.0
    match = re.search(r"false 404s \(.*\): ([\d,]+)", text)
    assert match is not None and int(match[1].replace(",", "")) > 0, text
    assert "locust's own verdict (exit code): 1" in text


def test_distributed_locust_with_two_workers(
    procs: list[Proc], tmp_path: Path, redis_server_binary: str
) -> None:
    code, text, verdict = scanchaos(
        procs,
        tmp_path,
        redis_server_binary,
        "--duration",
        "12",
        "--workers",
        "4",
        "--locust-workers",
        "2",
        "--nemesis",
        "kill@4s",
        *LIGHT,
    )
    assert code == 0, text
    raw = read_folder(tmp_path / "out" / "raw")
    # One file per Locust worker, written by the master from the worker's batches, both complete.
    assert raw.files == raw.finished == 2
    log = (tmp_path / "out" / "locust.log").read_text()
    assert len(re.findall(r"scanchaos: received [1-9]\d* records .* \(complete", log)) == 2
    assert verdict["passed"] is True
    assert "locust's own verdict (exit code): 0" in text


def test_plain_locust_against_serve_exits_1_on_the_incident(
    procs: list[Proc], tmp_path: Path, redis_server_binary: str
) -> None:
    serve = Proc(
        [
            sys.executable,
            "-m",
            "harness",
            "serve",
            "--bug",
            "cleanup-ignores-redis",
            "--redis-server",
            redis_server_binary,
        ],
        tmp_path,
    )
    procs.append(serve)
    url = re.search(r"http://127\.0\.0\.1:\d+", serve.read_until(r"^serving ", 60.0))
    assert url is not None
    tree = serve.descendants()
    assert tree  # Gunicorn and redis-server
    history = tmp_path / "locust-history"
    locust = Proc(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(LOCUSTFILE),
            "--host",
            url[0],
            "--headless",
            "-u",
            "6",
            "-r",
            "6",
            "-t",
            "8s",
            "--history-dir",
            str(history),
        ],
        tmp_path,
    )
    procs.append(locust)
    assert locust.finish(120.0) == 1, locust.text
    verdict = json.loads((history / "verdict.json").read_text())
    assert "reachable-until-expiry" in {v["invariant"] for v in verdict["violations"]}
    # Ctrl-C stops the cluster: nothing it started is left behind.
    serve.popen.send_signal(signal.SIGINT)
    assert serve.finish(60.0) == 130
    assert not alive(tree)


def test_ctrl_c_stops_locust_the_nemesis_and_the_cluster(
    procs: list[Proc], tmp_path: Path, redis_server_binary: str
) -> None:
    load = Proc(
        [
            sys.executable,
            "-m",
            "harness",
            "load",
            "--duration",
            "120",
            "--out",
            str(tmp_path / "out"),
            "--redis-server",
            redis_server_binary,
            *LIGHT,
        ],
        tmp_path,
    )
    procs.append(load)
    load.read_until(r"[1-9][\d,]* requests", 90.0)
    tree = load.descendants()
    names = load.commands()
    assert "locust" in names and "gunicorn" in names and "redis-server" in names
    load.popen.send_signal(signal.SIGINT)
    assert load.finish(90.0) == 130
    assert not alive(tree)
