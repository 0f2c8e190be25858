"""The `Cluster` protocol: what a scenario can do to a cluster, whatever runs it.

`SimCluster` (virtual time, one process) and `LiveCluster` (real processes, scaled wall time)
both implement it, so one driver (`harness.driver.drive`) turns any scenario into calls on
either. Calls schedule an action at a scenario time; `run_until` carries the schedule out and
leaves every client operation and every fault window in `history`.

A fault window means one thing in every mode: from the moment the fault is injected until the
system is whole again (a restart until the replacement worker is ready, an outage until Redis
answers). An instant fault (a dropped column) has `end == start`.
"""

from __future__ import annotations

from typing import Protocol, Self

from harness.history import History

__all__ = ["Cluster"]


class Cluster(Protocol):
    """A cluster of scan-service workers that a scenario drives; see the module docstring."""

    @property
    def history(self) -> History: ...

    def __enter__(self) -> Self:
        """Start the cluster: a `with` block holds it for one run."""

    def __exit__(self, *exc: object) -> None:
        """Stop everything the cluster started, also when the block raised."""

    def start_scan(self, *, at: float, user: str, label: str, worker: int | None = None) -> None:
        """`user` starts a scan, named `label` by the scenario, on `worker` (any free one)."""

    def poll(
        self, *, at: float, user: str, label: str, worker: int | None = None, fanout: int = 1
    ) -> None:
        """`fanout` concurrent status reads of the scan named `label`, as `user`."""

    def latest(self, *, at: float, user: str, worker: int | None = None, fanout: int = 1) -> None:
        """`fanout` concurrent reads of `user`'s latest scan."""

    def restart_worker(
        self, *, at: float, worker: int | None = None, label: str | None = None, idle: bool = False
    ) -> None:
        """Kill a worker (by index, the one running `label` then, or with `idle` the first one
        running no scan then) and let it be replaced."""

    def redis_outage(self, *, at: float, duration: float) -> None:
        """Redis is unreachable from `at` for `duration` scenario seconds."""

    def redis_failover(self, *, at: float, promote_after: float, rejoin_after: float) -> None:
        """The primary dies at `at`; the replica is promoted `promote_after` later with what it
        had received; the old primary rejoins as its replica `rejoin_after` after `at`."""

    def replica_lag(self, *, at: float, duration: float) -> None:
        """The replica receives no writes from `at` for `duration`, then catches up."""

    def drop_column(self, *, at: float, column: str) -> None:
        """An optional column disappears from the performance table."""

    def run_until(self, end: float) -> None:
        """Carry out everything scheduled up to scenario time `end`."""
