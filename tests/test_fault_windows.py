"""One fault record: the simulation, the live runner and the load nemesis record a worker restart
the same way (a window from the kill until the replacement is ready), and the checker reads it."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from harness.checker.model import Context
from harness.history import FaultEvent, History, Operation, RunInfo, Timing
from harness.live.client import Exchange, call
from harness.live.cluster import LiveCluster
from harness.live.runner import LiveOptions, default_slack, run_live
from harness.load.nemesis import Nemesis
from harness.load.record import OpRecorder, ServiceInfo, merge, read_folder
from harness.load.spec import parse, plan
from harness.runner import simulate
from harness.scenario import Poll, RestartWorker, Scenario, Start
from tests.histories import SHORT
from tests.waiting import wait_for

RESTART = Scenario(
    name="restart-short",
    description="the worker running a scan is killed mid-scan",
    duration=60.0,
    steps=(
        Start(at=0.0, user="alice", scan="s1"),
        Poll(scan="s1", start=1.0, until=60.0, every=2.0),
    ),
    faults=(RestartWorker(at=10.0, scan="s1"),),
    config=SHORT,
)
SCALE = 0.05


def _restart_and_its_victim(history: History) -> tuple[FaultEvent, Operation]:
    [restart] = [f for f in history.faults if f.fault == "worker-restart"]
    [start] = [op for op in history.ops if op.op == "start"]
    return restart, start


def _nemesis_history(cluster: LiveCluster, folder: Path) -> History:
    """One scan started by hand, its worker killed by the nemesis, merged as a load run is."""
    timing = Timing.of(SHORT, slack=default_slack(SCALE))
    recorder = OpRecorder(folder, ServiceInfo(scale=SCALE, timing=timing))
    answers: list[Exchange] = []
    client = threading.Thread(
        target=lambda: answers.append(
            call(cluster.port, "POST", "/scans", user="alice", timeout=30.0)
        )
    )
    client.start()
    running = wait_for(cluster.running_scans, timeout=10.0)
    assert running, "the scan never started"
    [(pid, scan)] = running.items()
    nemesis = Nemesis(plan(parse("kill-scan@0.01s"), 1.0), cluster, folder)
    nemesis.start()
    assert nemesis.join(timeout=30.0)
    client.join(timeout=30.0)
    [answer] = answers
    recorder.record(
        "start",
        user="alice",
        worker=str(pid),
        start=answer.sent,
        end=answer.answered,
        reply=answer.reply,
        scan_id=str(scan["scan_id"]),
    )
    recorder.close()
    info = RunInfo("nemesis", mode="load", workers=2, timing=timing)
    return merge(read_folder(folder), info, cluster.clock.from_wall)


@pytest.mark.live
def test_sim_live_and_nemesis_record_a_restart_as_one_window(
    redis_server_binary: str, tmp_path: Path
) -> None:
    sim = simulate(RESTART).history
    live = run_live(RESTART, options=LiveOptions(redis_server=redis_server_binary)).history
    with LiveCluster(
        workers=2, config=SHORT, scale=SCALE, redis_server=redis_server_binary
    ) as cluster:
        before = set(cluster.worker_pids())
        load = _nemesis_history(cluster, tmp_path / "raw")
        replacement = set(cluster.worker_pids()) - before
    assert len(replacement) == 1  # the window closed once the master's replacement was up
    for history in (sim, live, load):
        restart, start = _restart_and_its_victim(history)
        assert restart.target == start.worker  # the worker running the scan was the one killed
        assert restart.start <= restart.end
        assert start.reply.status == "lost"
        # The checker reads the one window: the request that died with the worker is excused.
        assert Context(history).restarted(start.worker, start.end)
    # Only real processes take time to be replaced; the simulation replaces a worker at once.
    assert _restart_and_its_victim(sim)[0].end == _restart_and_its_victim(sim)[0].start
    for history in (live, load):
        restart, _ = _restart_and_its_victim(history)
        assert restart.end > restart.start
