"""The nemesis: runs its plan against a cluster's fault controls and logs every fault window."""

from __future__ import annotations

import threading
from collections.abc import Collection
from pathlib import Path
from typing import Any

from harness.load.nemesis import Nemesis
from harness.load.record import read_folder
from harness.load.spec import PlannedFault, parse, plan


class FakeCluster:
    """The fault controls of a live cluster, recorded; a killed worker is replaced at once."""

    def __init__(self, scanning: dict[int, dict[str, Any]] | None = None) -> None:
        self.pids = [11, 12, 13]
        self.scanning = scanning or {}
        self.calls: list[str] = []
        self.paused = threading.Event()
        self._next = 100

    def worker_pids(self) -> list[int]:
        return list(self.pids)

    def running_scans(self) -> dict[int, dict[str, Any]]:
        return dict(self.scanning)

    def kill_worker(self, pid: int) -> None:
        self.calls.append(f"kill {pid}")
        self.pids.remove(pid)
        self.pids.append(self._next)
        self._next += 1

    def wait_for_workers(self, timeout: float, gone: Collection[int] = ()) -> None:
        assert not set(gone) & set(self.pids), "a killed worker still counted"
        self.calls.append("wait")

    def pause_redis(self) -> None:
        self.calls.append("pause")
        self.paused.set()

    def resume_redis(self) -> None:
        self.calls.append("resume")

    def stop_redis(self) -> None:
        self.calls.append("stop")

    def start_redis(self) -> None:
        self.calls.append("start")

    def wait_for_redis(self, timeout: float) -> None:
        pass  # this fake's Redis answers as soon as it is back


def test_runs_the_plan_and_logs_each_window(tmp_path: Path) -> None:
    cluster = FakeCluster(scanning={12: {"scan_id": "a" * 32}})
    planned = plan(parse("kill@0.01s,pause@0.02s+0.05s,kill-scan@0.03s,restart@0.1s+0.05s"), 5.0)
    nemesis = Nemesis(planned, cluster, tmp_path, seed=3)
    nemesis.start()
    assert nemesis.join(timeout=10.0)
    assert [c.split()[0] for c in cluster.calls] == [
        "kill",
        "wait",
        "pause",
        "resume",
        "kill",
        "wait",
        "stop",
        "start",
    ]
    assert "kill 12" in cluster.calls  # the kill-scan went for the worker running the scan
    faults = read_folder(tmp_path).faults
    assert [f.fault for f in faults] == [
        "worker-restart",
        "redis-outage",
        "worker-restart",
        "redis-outage",
    ]
    assert faults[2].target == "12"
    assert all(f.end - f.start >= 0.05 for f in faults if f.fault == "redis-outage")
    stats = nemesis.stats
    assert stats.done == {"kills": 2, "scan_kills": 1, "pauses": 1, "restarts": 1}
    assert not stats.errors


def test_kill_scan_without_a_running_scan_is_skipped(tmp_path: Path) -> None:
    cluster = FakeCluster()
    nemesis = Nemesis([PlannedFault("kill-scan", 0.01)], cluster, tmp_path)
    nemesis.start()
    assert nemesis.join(timeout=10.0)
    assert cluster.calls == []
    assert nemesis.stats.done == {"skipped": 1}
    assert read_folder(tmp_path).faults == []


def test_stopping_during_a_pause_still_resumes_redis(tmp_path: Path) -> None:
    cluster = FakeCluster()
    planned = [PlannedFault("pause", 0.01, 0.2), PlannedFault("kill", 5.0)]
    nemesis = Nemesis(planned, cluster, tmp_path)
    nemesis.start()
    assert cluster.paused.wait(10.0)
    nemesis.stop()
    assert nemesis.join(timeout=10.0)
    assert cluster.calls == ["pause", "resume"]  # and the kill planned later never happened
    (fault,) = read_folder(tmp_path).faults
    assert fault.end - fault.start >= 0.2


def test_a_failing_control_is_reported_and_the_plan_goes_on(tmp_path: Path) -> None:
    cluster = FakeCluster()
    cluster.pids = []
    nemesis = Nemesis(
        [PlannedFault("kill", 0.01), PlannedFault("pause", 0.02, 0.01)], cluster, tmp_path
    )
    nemesis.start()
    assert nemesis.join(timeout=10.0)
    assert nemesis.stats.errors == ["kill at 0.01 s: no worker to kill"]
    assert cluster.calls == ["pause", "resume"]
