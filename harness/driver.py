"""The one scenario driver: a scenario's steps and faults, as calls on any `Cluster`."""

from __future__ import annotations

import harness.scenario as sc
from harness.cluster import Cluster

__all__ = ["drive", "rounds"]


def rounds(start: float, until: float, every: float) -> list[float]:
    """The times of a repeated step: `start`, then every `every` seconds up to `until`."""
    count = int((until - start) / every + 1e-9)
    return [round(start + k * every, 6) for k in range(count + 1)]


def drive(scenario: sc.Scenario, cluster: Cluster) -> None:
    """Schedule every step and fault of `scenario` on `cluster`, then run it to the end.

    Starts are scheduled first: a poll needs to know the scan's owner.
    """
    owners: dict[str, str] = {}
    for step in scenario.steps:
        if isinstance(step, sc.Start):
            owners[step.scan] = step.user
            cluster.start_scan(at=step.at, user=step.user, label=step.scan, worker=step.worker)
    for step in scenario.steps:
        if isinstance(step, sc.Poll):
            user = step.user or owners[step.scan]
            for at in rounds(step.start, step.until, step.every):
                cluster.poll(
                    at=at, user=user, label=step.scan, worker=step.worker, fanout=step.fanout
                )
        elif isinstance(step, sc.Latest):
            for at in rounds(step.start, step.until, step.every):
                cluster.latest(at=at, user=step.user, fanout=step.fanout)
    for fault in scenario.faults:
        if isinstance(fault, sc.RestartWorker):
            cluster.restart_worker(
                at=fault.at, worker=fault.worker, label=fault.scan, idle=fault.idle
            )
        elif isinstance(fault, sc.RedisOutage):
            cluster.redis_outage(at=fault.at, duration=fault.duration)
        elif isinstance(fault, sc.RedisFailover):
            cluster.redis_failover(
                at=fault.at, promote_after=fault.promote_after, rejoin_after=fault.rejoin_after
            )
        elif isinstance(fault, sc.ReplicaLag):
            cluster.replica_lag(at=fault.at, duration=fault.duration)
        elif isinstance(fault, sc.DropColumn):
            cluster.drop_column(at=fault.at, column=fault.column)
    cluster.run_until(scenario.duration)
