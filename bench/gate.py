"""Time the whole simulated gate: every scenario on the fixed service plus the full kill matrix.

Prints figures, asserts nothing. Usage:

    .venv/bin/python bench/gate.py            # one process per CPU
    .venv/bin/python bench/gate.py --jobs 1   # in this process

The machine's load average is printed before and after: other work on the same cores slows the
gate down, so the absolute figures are only comparable at a similar load. The figure that
travels is the ratio: the gate's CPU seconds per run over the CPU seconds of one reference run
(post-completion-404 on the fixed service, in this process), timed in the same invocation.
"""

from __future__ import annotations

import argparse
import os
import time

from baseline import cpu_seconds, reference_run

from harness.gate import default_jobs, run_gate
from harness.scenario import available, load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=default_jobs())
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    scenarios = [load(name)[0] for name in available()]
    load_before = os.getloadavg()[0]
    cpu = cpu_seconds()
    began = time.perf_counter()
    result = run_gate(scenarios, seed=args.seed, jobs=args.jobs)
    wall = time.perf_counter() - began
    cpu = cpu_seconds() - cpu
    reference = reference_run()
    runs = len(result.baseline) + len(result.cells)
    print(f"gate: {len(scenarios)} scenarios x (1 fixed + {len(result.bugs)} regressions)")
    print(f"runs: {runs}, jobs: {args.jobs}, cpus: {os.cpu_count()}")
    print(f"wall: {wall:.1f} s, cpu: {cpu:.1f} s, {runs / wall:.1f} runs/s")
    print(f"load average: {load_before:.2f} before, {os.getloadavg()[0]:.2f} after")
    print(
        f"baseline: one post-completion-404 run on the fixed service: "
        f"{reference.cpu:.2f} s CPU, {reference.wall:.2f} s wall"
    )
    print(
        f"ratio: {cpu / runs:.2f} CPU s per run = {cpu / runs / reference.cpu:.2f}x the reference "
        f"run; the whole gate = {cpu / reference.cpu:.0f} reference runs of CPU; "
        f"wall/CPU {wall / cpu:.2f} on {args.jobs} process(es)"
    )
    caught = len(result.bugs) - len(result.escaped)
    print(f"passed: {result.passed}, caught: {caught}/{len(result.bugs)}")
    ops = {r.scenario.name: len(r.history.ops) for r in result.baseline}
    print("fixed-service run per scenario (wall s, operations):")
    for name, seconds in sorted(result.baseline_seconds.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<32} {seconds:6.2f} {ops[name]:6d}")


if __name__ == "__main__":
    main()
