"""Simulated seconds per wall second for the post-completion-404 scenario, and what that costs
against the bare fakeredis round trips the run makes.

    .venv/bin/python bench/sim_speed.py [--repeat N]

Prints the wall time of each run (median of N), operations per second, the speed-up over real
time, and the ratio that travels between machines: a run's wall time over the wall time of the
same number of bare redis-py round trips to an embedded fakeredis, timed in the same process.
Timed outside the frozen clock: freezegun patches perf_counter inside a run.
"""

from __future__ import annotations

import argparse
import statistics
import time

from baseline import bare_round_trips, count_round_trips

from harness.runner import simulate
from harness.scenario import load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--scenario", default="post-completion-404")
    parser.add_argument("--bug", action="append", default=[])
    args = parser.parse_args()
    scenario, _ = load(args.scenario)
    bugs = tuple(args.bug)
    with count_round_trips() as counted:  # also warms imports and caches
        simulate(scenario, bugs=bugs, seed=0)
    trips = counted[0]
    walls = []
    ops = 0
    for seed in range(args.repeat):
        started = time.perf_counter()
        result = simulate(scenario, bugs=bugs, seed=seed)
        walls.append(time.perf_counter() - started)
        ops = len(result.history.ops)
    wall = statistics.median(walls)
    bare = bare_round_trips(trips).wall
    print(
        f"scenario {scenario.name}: {scenario.duration:.0f} simulated s, "
        f"{scenario.workers} workers, {ops} operations, {trips} Redis round trips"
    )
    print(
        f"wall time per run: median {wall * 1000:.1f} ms "
        f"(min {min(walls) * 1000:.1f}, max {max(walls) * 1000:.1f}) over {args.repeat} runs"
    )
    print(f"operations per wall second: {ops / wall:,.0f}")
    print(f"simulated seconds per wall second: {scenario.duration / wall:,.0f}x")
    print(f"baseline: {trips} bare fakeredis round trips: {bare * 1000:.1f} ms")
    print(f"ratio: a run costs {wall / bare:.1f}x its bare fakeredis round trips")


if __name__ == "__main__":
    main()
