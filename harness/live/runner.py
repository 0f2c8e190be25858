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
from harness.live.job_workers import KillKind
from harness.live.schedule import READ_TIMEOUT, RunCancelled
from harness.live.slack import with_measured_slack
from harness.live.timing import DEFAULT_SCALE, WALL_SLACK, default_slack
from harness.runner import RunResult, drive_journaled, judge, run_info, service_config
from harness.scenario import Scenario
from harness.target import Target, TargetError

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
    #: wall seconds per scenario second; None: the target's (see `scale_for`)
    scale: float | None = None
    redis_server: str | None = None
    outage: OutageKind = "stop"
    #: scenario seconds; None means `default_slack(scale)`
    slack: float | None = None
    #: what a restart of a `[jobs]` target's job worker SIGKILLs (`harness.live.job_workers`)
    kill: KillKind = "worker"

    def scale_for(self, target: Target | None) -> float:
        """The scale given, else 1 for a target whose durations are wall seconds (a job
        queue's timers, which no scale reaches), else `DEFAULT_SCALE`."""
        if self.scale is not None:
            return self.scale
        real = target is not None and target.spec.durations.real
        return 1.0 if real else DEFAULT_SCALE


def run_live(
    scenario: Scenario,
    *,
    bugs: tuple[str, ...] = (),
    seed: int = 0,
    options: LiveOptions | None = None,
    ref: str | None = None,
    cancel: threading.Event | None = None,
    journal: Path | None = None,
    target: Target | None = None,
) -> RunResult:
    """Run `scenario` on a fresh `LiveCluster` of `target` (default: the reference) and check
    its history (in scenario time). Another target's `bugs` are its own regressions.

    Setting `cancel` from another thread stops the run (`RunCancelled`) and the cluster;
    `journal` is a file the history is written to as the run goes (see `History.journal`).
    """
    opts = options or LiveOptions()
    check_live(target)
    factor = opts.scale_for(target)
    config = service_config(scenario, bugs, target, factor)
    slack = opts.slack if opts.slack is not None else default_slack(factor)
    scale = f" --scale {factor:g}" if factor != LiveOptions().scale_for(target) else ""
    scale += f" --kill {opts.kill}" if opts.kill != "worker" else ""
    info = run_info(
        scenario,
        config,
        mode="live",
        seed=seed,
        ref=ref,
        slack=slack,
        options=scale,
        bugs=bugs,
        target=target,
    )
    cluster = LiveCluster(
        workers=scenario.workers,
        config=config,
        scale=factor,
        profile=scenario.profile,
        missing_columns=scenario.missing_columns,
        redis_server=opts.redis_server,
        info=info,
        outage=opts.outage,
        cancel=cancel,
        replicated=scenario.replicated,
        target=target,
        regressions=bugs,
        kill=opts.kill,
    )
    drive_journaled(scenario, cluster, journal)
    history = cluster.history
    if opts.slack is None:
        with_measured_slack(history, factor)
    return judge(scenario, history)


def check_live(target: Target | None) -> None:
    """Refuse a target live mode cannot serve: an in-process `[service]` other than the
    reference (live mode serves the reference's own web app, or a `[wsgi]` app)."""
    if target is not None and target.kind == "service" and not target.is_reference:
        raise TargetError(
            f"{target.ref}: field service: live mode serves an in-process service only for the "
            "reference; give the target a [wsgi] app, or run it with --mode sim"
        )
