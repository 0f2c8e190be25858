"""What an in-process target's factory receives, and what it must build: the public API.

A target file's `[service] factory = "module:function"` names a function that builds one worker's
service from the parts the harness hands it. The simulation calls it once per worker, on
fakeredis in virtual time; everything the service needs that touches the outside (Redis, the
database, ids, the probe) comes in through `WorkerParts`, so the same service runs in every mode.

A minimal factory (the reference's, `reference_impl.target.build`, is this one)::

    from harness.target.service import WorkerParts
    from reference_impl import PerformanceStore, ScanService

    def build(parts: WorkerParts) -> ScanService:
        return ScanService(
            config=parts.config,
            redis_client=parts.redis_client,
            performance=PerformanceStore(parts.engine),
            profile=parts.profile,
            new_id=parts.new_id,
            probe=parts.probe,
        )

The service it returns is a `WorkerService`: `begin_scan` registers a scan and returns its run
(whose `steps()` generator yields one `StrategyCall` per strategy and returns the final reply) or a
reply when it cannot start one; `status`, `latest` and `cleanup` are what a request or the
worker's cleanup loop calls; `connect` is the worker's first contact with Redis.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Protocol

import redis
from sqlalchemy import Engine

from reference_impl import Reply, ServiceConfig, StrategyCall, StrategyOutcome, StrategyProfile

__all__ = ["ServiceFactory", "WorkerParts", "WorkerRun", "WorkerService"]


@dataclass(frozen=True)
class WorkerParts:
    """Everything one worker's service gets from the harness."""

    #: the target's durations (and, for the reference, its planted regressions)
    config: ServiceConfig
    #: this worker's connection to the cluster's Redis
    redis_client: redis.Redis
    #: the strategy database, shared by every worker
    engine: Engine
    #: how long each strategy call takes
    profile: StrategyProfile
    #: new scan ids (seeded in simulation, so a seed gives the same history)
    new_id: Callable[[], str]
    #: told the name of each interesting path the service takes (the explorer's coverage)
    probe: Callable[[str], None]
    #: the target's regressions switched on for this run, by name
    regressions: frozenset[str]
    #: this worker's index in the cluster
    index: int


class WorkerRun(Protocol):
    """A scan a worker has registered and runs inside its start request."""

    @property
    def scan_id(self) -> str: ...

    def steps(self) -> Generator[StrategyCall, StrategyOutcome, Reply]: ...


class WorkerService(Protocol):
    """One worker's scan service, as the harness drives it."""

    def connect(self) -> None: ...

    def begin_scan(self, user_id: str) -> WorkerRun | Reply: ...

    def status(self, user_id: str, scan_id: str) -> Reply: ...

    def latest(self, user_id: str) -> Reply: ...

    def cleanup(self) -> None: ...


#: a target's `[service] factory`
ServiceFactory = Callable[[WorkerParts], WorkerService]
