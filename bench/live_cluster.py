"""Live-mode figures: cluster start and stop, worker respawn, Redis restart, one scenario run.

Run: `.venv/bin/python bench/live_cluster.py` (needs redis-server). Prints wall seconds and
the ratios that travel: cluster start and respawn over the start of a bare Python interpreter
(`python -c pass`, timed in the same run), and the live scenario's wall time over its scaled
duration (1.00x would be no overhead at all).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from harness.live.cluster import LiveCluster
from harness.live.runner import DEFAULT_SCALE, run_live
from harness.scenario import load
from reference_impl import ServiceConfig


def _bare_interpreter() -> float:
    walls = []
    for _ in range(5):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        walls.append(time.perf_counter() - t0)
    return statistics.median(walls)


def main() -> None:
    bare = _bare_interpreter()
    print(f"baseline: a bare `python -c pass`: {bare:.3f} s")
    starts, stops, respawns, restarts = [], [], [], []
    for _ in range(3):
        t0 = time.perf_counter()
        cluster = LiveCluster(workers=3, config=ServiceConfig()).__enter__()
        starts.append(time.perf_counter() - t0)
        try:
            victim = cluster.worker_pids()[0]
            t0 = time.perf_counter()
            cluster.kill_worker(victim)
            while victim in cluster.worker_pids():
                time.sleep(0.001)
            cluster.wait_for_workers()
            respawns.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            cluster.stop_redis()
            cluster.start_redis()
            restarts.append(time.perf_counter() - t0)
        finally:
            t0 = time.perf_counter()
            cluster.__exit__(None, None, None)
            stops.append(time.perf_counter() - t0)
    for name, values in (
        ("cluster start (3 workers, ready)", starts),
        ("cluster stop", stops),
        ("worker SIGKILL -> replacement ready", respawns),
        ("redis SHUTDOWN SAVE + restart", restarts),
    ):
        median = statistics.median(values)
        print(
            f"{name:<40} median {median:.3f} s  max {max(values):.3f} s  "
            f"= {median / bare:.1f}x a bare interpreter"
        )
    scenario, _ = load("post-completion-404")
    t0 = time.perf_counter()
    result = run_live(scenario)
    wall = time.perf_counter() - t0
    scaled = scenario.duration * DEFAULT_SCALE
    print(
        f"{'post-completion-404 live (x0.05)':<40} {wall:.1f} s wall for "
        f"{scenario.duration:.0f} scenario s, {len(result.history.ops)} operations, "
        f"{'PASS' if result.verdict.passed else 'FAIL'}; "
        f"{wall / scaled:.2f}x its scaled duration ({scaled:.0f} s)"
    )


if __name__ == "__main__":
    main()
