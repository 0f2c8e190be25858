"""Simulated seconds per wall second for the post-completion-404 scenario.

    .venv/bin/python bench/sim_speed.py [--repeat N]

Prints the wall time of each run (median of N), operations per second, and the speed-up over
real time. Timed outside the frozen clock: freezegun patches perf_counter inside a run.
"""

from __future__ import annotations

import argparse
import statistics
import time

from harness.runner import simulate
from harness.scenario import load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--scenario", default="post-completion-404")
    parser.add_argument("--bug", action="append", default=[])
    args = parser.parse_args()
    scenario, _ = load(args.scenario)
    simulate(scenario, bugs=tuple(args.bug), seed=0)  # warm imports and caches
    walls = []
    ops = 0
    for seed in range(args.repeat):
        started = time.perf_counter()
        result = simulate(scenario, bugs=tuple(args.bug), seed=seed)
        walls.append(time.perf_counter() - started)
        ops = len(result.history.ops)
    wall = statistics.median(walls)
    print(
        f"scenario {scenario.name}: {scenario.duration:.0f} simulated s, "
        f"{scenario.workers} workers, {ops} operations"
    )
    print(
        f"wall time per run: median {wall * 1000:.1f} ms "
        f"(min {min(walls) * 1000:.1f}, max {max(walls) * 1000:.1f}) over {args.repeat} runs"
    )
    print(f"operations per wall second: {ops / wall:,.0f}")
    print(f"simulated seconds per wall second: {scenario.duration / wall:,.0f}x")


if __name__ == "__main__":
    main()
