"""How fast the explorer finds each planted regression, with nothing telling it where to look.

For each of the planted regressions, explore with that one regression switched on, once per seed,
and print the time to first detection (the first failing schedule, before shrinking; median over
the seeds), the shrunk schedule's length (steps + faults of the written script) and how many
schedules it took. Then explore the fixed service for a while and print schedules per second.
The ratio that travels: detection time in simulated post-completion-404 runs (one timed in the
same invocation), and schedules explored per reference run's worth of wall time.

    .venv/bin/python bench/explore_detection.py                 # 5 seeds, 60 s budget each
    .venv/bin/python bench/explore_detection.py --seeds 1 --budget 30 --bug no-user-scope
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from baseline import reference_run

from harness.explore import explore_job
from reference_impl import BUGS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budget", type=float, default=60.0, help="seconds per (bug, seed)")
    parser.add_argument("--rate-budget", type=float, default=30.0, help="fixed-service seconds")
    parser.add_argument("--bug", action="append", default=[], help="only these (repeatable)")
    args = parser.parse_args(argv)
    bugs = args.bug or list(BUGS)

    unit = reference_run().wall
    print(f"seeds 0-{args.seeds - 1}, budget {args.budget:g} s per run, one process")
    print(f"baseline: one simulated post-completion-404 run: {unit:.3f} s wall")
    header = (
        f"| {'planted regression':<24} | found | median detection (s) | in reference runs "
        "| max detection (s) | median schedules | shrunk steps (median / max) | invariants |"
    )
    print(header)
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    missed = 0
    for bug in bugs:
        times: list[float] = []
        counts: list[int] = []
        lengths: list[int] = []
        invariants: set[str] = set()
        for seed in range(args.seeds):
            job = explore_job((bug,), args.budget, seed)
            if job.finding is None:
                continue
            f = job.finding
            times.append(f.detected_after)
            counts.append(f.detected_at_schedule)
            lengths.append(f.length)
            invariants |= {v.invariant for v in f.violations}
        found = len(times)
        missed += found < args.seeds
        if times:
            row = (
                f"{statistics.median(times):.1f} | {statistics.median(times) / unit:.0f} | "
                f"{max(times):.1f} | "
                f"{statistics.median(counts):.0f} | "
                f"{statistics.median(lengths):.0f} / {max(lengths)} | "
                f"{', '.join(sorted(invariants))}"
            )
        else:
            row = "- | - | - | - | - | -"
        print(f"| {bug:<24} | {found}/{args.seeds} | {row} |", flush=True)

    started = time.monotonic()
    job = explore_job((), args.rate_budget, 0)
    elapsed = time.monotonic() - started
    print()
    print(
        f"fixed service: {job.coverage.schedules} schedules in {elapsed:.1f} s "
        f"({job.coverage.schedules / elapsed:.1f} schedules/s, "
        f"{job.coverage.schedules / elapsed * unit:.2f} per reference run), "
        f"{'a violation' if job.finding else 'no violation'}"
    )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
