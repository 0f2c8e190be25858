"""Runs a scenario script, unchanged, against a `LiveCluster` with scaled time.

The one driver (`harness.driver.drive`) turns the scenario into calls on the cluster, as in
simulation; `harness.live.schedule` says how a live cluster carries them out. The history is in
scenario seconds; `Timing.slack` (default `default_slack(scale)`) absorbs the real clocks'
noise: process scheduling, request latency and the master's reaping loop.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from harness.live.cluster import LiveCluster
from harness.live.faults import OutageKind
from harness.live.schedule import READ_TIMEOUT, RunCancelled
from harness.live.slack import with_measured_slack
from harness.live.timing import DEFAULT_SCALE, WALL_SLACK, default_slack
from harness.runner import RunResult, drive_journaled, judge, run_info, service_config
from harness.scenario import Scenario

__all__ = [
    "DEFAULT_SCALE",
    "READ_TIMEOUT",
    "WALL_SLACK",
    "LiveOptions",
    "OutageKind",
    "RunCancelled",
    "default_slack",
    "run_live",
]


@dataclass(frozen=True)
class LiveOptions:
    scale: float = DEFAULT_SCALE
    redis_server: str | None = None
    outage: OutageKind = "stop"
    #: scenario seconds; None means `default_slack(scale)`
    slack: float | None = None


def run_live(
    scenario: Scenario,
    *,
    bugs: tuple[str, ...] = (),
    seed: int = 0,
    options: LiveOptions | None = None,
    ref: str | None = None,
    cancel: threading.Event | None = None,
    journal: Path | None = None,
) -> RunResult:
    """Run `scenario` on a fresh `LiveCluster` and check its history (in scenario time).

    Setting `cancel` from another thread stops the run (`RunCancelled`) and the cluster;
    `journal` is a file the history is written to as the run goes (see `History.journal`).
    """
    opts = options or LiveOptions()
    config = service_config(scenario, bugs)
    slack = opts.slack if opts.slack is not None else default_slack(opts.scale)
    scale = f" --scale {opts.scale}" if opts.scale != DEFAULT_SCALE else ""
    info = run_info(scenario, config, mode="live", seed=seed, ref=ref, slack=slack, options=scale)
    cluster = LiveCluster(
        workers=scenario.workers,
        config=config,
        scale=opts.scale,
        profile=scenario.profile,
        missing_columns=scenario.missing_columns,
        redis_server=opts.redis_server,
        info=info,
        outage=opts.outage,
        cancel=cancel,
        replicated=scenario.replicated,
    )
    drive_journaled(scenario, cluster, journal)
    history = cluster.history
    if opts.slack is None:
        with_measured_slack(history, opts.scale)
    return judge(scenario, history)
