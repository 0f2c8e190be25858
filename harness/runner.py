"""Runs a scenario in a mode and judges its history: the spine's middle."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, replace

from harness.checker import Checker, Verdict
from harness.history import History, RunInfo, Timing
from harness.scenario import Latest, Poll, RedisOutage, RestartWorker, Scenario, Start
from harness.sim.cluster import Probe, SimCluster
from reference_impl import ServiceConfig, validate_bugs


@dataclass
class RunResult:
    scenario: Scenario
    history: History
    verdict: Verdict


def _rounds(start: float, until: float, every: float) -> list[float]:
    count = int((until - start) / every + 1e-9)
    return [round(start + k * every, 6) for k in range(count + 1)]


def reproduce_command(scenario: str, bugs: tuple[str, ...], seed: int, mode: str = "sim") -> str:
    parts = ["scanchaos", "run", scenario]
    for bug in bugs:
        parts += ["--bug", bug]
    parts += ["--seed", str(seed)]
    if mode != "sim":
        parts += ["--mode", mode]
    return shlex.join(parts)


def service_config(scenario: Scenario, bugs: tuple[str, ...]) -> ServiceConfig:
    return replace(scenario.config, bugs=validate_bugs(bugs))


def simulate(
    scenario: Scenario,
    *,
    bugs: tuple[str, ...] = (),
    seed: int = 0,
    ref: str | None = None,
    probe: Probe | None = None,
) -> RunResult:
    """Run `scenario` on a `SimCluster` and check its history.

    `ref` is how the user named the scenario (a name or a path), for the reproduce command;
    `probe` is told `(worker, event)` each time the service takes one of its interesting paths.
    """
    config = service_config(scenario, bugs)
    info = RunInfo(
        scenario=scenario.name,
        mode="sim",
        seed=seed,
        bugs=tuple(sorted(config.bugs)),
        workers=scenario.workers,
        timing=Timing.of(config),
        command=reproduce_command(ref or scenario.name, tuple(sorted(config.bugs)), seed),
    )
    with SimCluster(
        workers=scenario.workers,
        config=config,
        seed=seed,
        profile=scenario.profile,
        missing_columns=scenario.missing_columns,
        info=info,
        probe=probe,
    ) as cluster:
        owners: dict[str, str] = {}
        for step in scenario.steps:
            if isinstance(step, Start):
                owners[step.scan] = step.user
                cluster.start_scan(at=step.at, user=step.user, label=step.scan, worker=step.worker)
        for step in scenario.steps:
            if isinstance(step, Poll):
                user = step.user or owners[step.scan]
                for at in _rounds(step.start, step.until, step.every):
                    cluster.poll(
                        at=at, user=user, label=step.scan, worker=step.worker, fanout=step.fanout
                    )
            elif isinstance(step, Latest):
                for at in _rounds(step.start, step.until, step.every):
                    cluster.latest(at=at, user=step.user, fanout=step.fanout)
        for fault in scenario.faults:
            if isinstance(fault, RestartWorker):
                cluster.restart_worker(
                    at=fault.at, worker=fault.worker, label=fault.scan, idle=fault.idle
                )
            elif isinstance(fault, RedisOutage):
                cluster.redis_outage(at=fault.at, duration=fault.duration)
            else:
                cluster.drop_column(at=fault.at, column=fault.column)
        cluster.run_until(scenario.duration)
    verdict = Checker(scenario.invariants).check(cluster.history)
    return RunResult(scenario, cluster.history, verdict)
