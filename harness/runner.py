"""Runs a scenario in a mode and judges its history: the spine's middle."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, replace
from pathlib import Path

from harness.checker import Checker, Verdict
from harness.cluster import Cluster
from harness.driver import drive
from harness.history import History, RunInfo, Timing
from harness.scenario import Scenario
from harness.sim.cluster import SimCluster, WorkerProbe
from harness.target import Target, reference_target
from reference_impl import ServiceConfig, validate_bugs

__all__ = [
    "RunResult",
    "drive_journaled",
    "judge",
    "reproduce_command",
    "run_info",
    "service_config",
    "simulate",
]


@dataclass
class RunResult:
    scenario: Scenario
    history: History
    verdict: Verdict


def reproduce_command(
    scenario: str,
    bugs: tuple[str, ...],
    seed: int,
    mode: str = "sim",
    target: Target | None = None,
) -> str:
    parts = ["scanchaos", "run", scenario]
    if target is not None and not target.is_reference:
        parts += ["--target", target.ref]
    for bug in bugs:
        parts += ["--bug", bug]
    parts += ["--seed", str(seed)]
    if mode != "sim":
        parts += ["--mode", mode]
    return shlex.join(parts)


def service_config(
    scenario: Scenario, bugs: tuple[str, ...], target: Target | None = None, scale: float = 1.0
) -> ServiceConfig:
    """The configuration `scenario`'s workers run with: the target's durations (see
    `Target.config_for`, which `scale` is for) and, for the reference, its regressions `bugs`.

    Another target's regressions are not the reference's: its factory is told them by name
    (`WorkerParts.regressions`) and the configuration carries none."""
    target = target or reference_target()
    config = target.config_for(scenario, scale)
    if target.is_reference:
        config = replace(config, bugs=validate_bugs(bugs))
    else:
        target.check_regressions(bugs)
    if scenario.replicated and config.redis.replica_acks == 0:
        # A primary with a replica: the service waits for the replica as it would under Sentinel.
        config = replace(config, redis=replace(config.redis, replica_acks=1))
    return config


def run_info(
    scenario: Scenario,
    config: ServiceConfig,
    *,
    mode: str,
    seed: int,
    ref: str | None,
    slack: float = 0.0,
    options: str = "",
    bugs: tuple[str, ...] | None = None,
    target: Target | None = None,
) -> RunInfo:
    """The header of a run's history; `options` are extra flags of its reproduce command;
    `bugs`, the regressions switched on (default: the reference's, in `config`)."""
    bugs = tuple(sorted(config.bugs if bugs is None else bugs))
    command = reproduce_command(ref or scenario.name, bugs, seed, mode, target)
    return RunInfo(
        scenario=scenario.name,
        mode=mode,
        seed=seed,
        bugs=bugs,
        workers=scenario.workers,
        timing=Timing.of(config, slack=slack),
        command=command + options,
    )


def judge(scenario: Scenario, history: History) -> RunResult:
    """The scenario's invariants over the history a run left."""
    return RunResult(scenario, history, Checker(scenario.invariants).check(history))


def simulate(
    scenario: Scenario,
    *,
    bugs: tuple[str, ...] = (),
    seed: int = 0,
    ref: str | None = None,
    probe: WorkerProbe | None = None,
    journal: Path | None = None,
    target: Target | None = None,
) -> RunResult:
    """Run `scenario` on a `SimCluster` of `target`'s service (default: the reference) and
    check its history.

    `ref` is how the user named the scenario (a name or a path), for the reproduce command;
    `probe` is told `(worker, event)` each time the service takes one of its interesting paths;
    `journal`, a file the history is written to as the run goes (see `History.journal`).
    """
    target = target or reference_target()
    config = service_config(scenario, bugs, target)
    cluster = SimCluster(
        workers=scenario.workers,
        config=config,
        seed=seed,
        profile=scenario.profile,
        missing_columns=scenario.missing_columns,
        info=run_info(scenario, config, mode="sim", seed=seed, ref=ref, bugs=bugs, target=target),
        probe=probe,
        factory=target.factory(),
        regressions=frozenset(bugs),
    )
    drive_journaled(scenario, cluster, journal)
    return judge(scenario, cluster.history)


def drive_journaled(scenario: Scenario, cluster: Cluster, journal: Path | None) -> None:
    """Drive `scenario` on `cluster` (started and stopped here), journaling its history."""
    if journal is not None:
        cluster.history.journal(journal)
    try:
        with cluster:
            drive(scenario, cluster)
    finally:
        cluster.history.close_journal()
