"""How long rendering a report takes: the timeline, the page, and `scanchaos report` end to end.

Run: .venv/bin/python bench/bench_report.py
Prints figures; asserts nothing. Histories: the incident (1,081 operations) and synthetic ones of
1,000 / 10,000 operations with faults, rendered 5 times each (median shown). Beside each figure,
the ratio that travels: rendering time over the wall time of simulating the incident's run
(post-completion-404 on the fixed service), timed in the same invocation.
"""

from __future__ import annotations

import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from baseline import reference_run

from harness.checker import Checker
from harness.history import History, RunInfo
from harness.report.files import write_run
from harness.report.html import render_html, run_view
from harness.report.rundir import RunRecord
from harness.report.timeline import render_timeline
from harness.runner import simulate
from harness.scenario import load
from reference_impl import Reply

REPEATS = 5


def synthetic(ops: int, seed: int = 1) -> History:
    rng = random.Random(seed)
    history = History(RunInfo("synthetic", workers=4, duration=600.0))
    statuses = ["scanning", "complete", "not_found", "unavailable"]
    for i in range(ops):
        t = rng.uniform(0, 600)
        history.record(
            "status",
            user=f"u{i % 13}",
            worker=f"w{i % 4}",
            start=t,
            end=t + rng.uniform(0, 0.05),
            reply=Reply(rng.choice(statuses), scan_id=f"{i % 9:032x}"),
        )
    history.fault("redis-outage", 100.0, 130.0)
    history.fault("worker-restart", 200.0, 200.0, "w2")
    return history


def median_seconds(action: object) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        action()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    scenario, _ = load("post-completion-404")
    incident = simulate(scenario, bugs=("cleanup-ignores-redis",))
    cases = [
        ("incident", incident.history),
        ("synthetic-1000", synthetic(1000)),
        ("synthetic-10000", synthetic(10000)),
    ]
    unit = reference_run().wall
    print(f"baseline: one simulated post-completion-404 run: {unit:.3f} s wall")
    print(f"{'history':<18}{'ops':>7}{'timeline s':>12}{'page s':>9}{'timeline/run':>14}")
    for name, history in cases:
        verdict = incident.verdict if name == "incident" else Checker().check(history)
        record = RunRecord(history, verdict)
        plot_s = median_seconds(lambda h=history, v=verdict: render_timeline(h, v))
        page_s = median_seconds(lambda r=record: render_html([run_view(r)], title="bench"))
        ratio = f"{plot_s / unit:.2f}x"
        print(f"{name:<18}{len(history.ops):>7}{plot_s:>12.3f}{page_s:>9.3f}{ratio:>14}")
    with tempfile.TemporaryDirectory() as folder:
        write_run(Path(folder), incident.history, incident.verdict, report=False)
        command = [sys.executable, "-m", "harness", "report", folder]
        wall = median_seconds(lambda: subprocess.run(command, check=True, capture_output=True))
    print(
        f"`scanchaos report DIR` on the incident, whole process: {wall:.3f} s (median), "
        f"{wall / unit:.2f}x the simulated run"
    )


if __name__ == "__main__":
    main()
