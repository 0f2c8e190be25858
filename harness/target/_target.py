"""`Target`: a validated target file and what the harness asks of it."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from harness.exits import BadInput
from harness.history import Timing
from reference_impl import ServiceConfig
from reference_impl.config import TIMING_FIELDS

if TYPE_CHECKING:
    from harness.scenario import Scenario
    from harness.target._model import TargetFile
    from harness.target.service import ServiceFactory

__all__ = ["REFERENCE_FACTORY", "Target"]

#: the reference service's factory, as its target file names it
REFERENCE_FACTORY = "reference_impl.target:build"


@dataclass(frozen=True)
class Target:
    """A service under test, as its target file describes it (see `harness.target`)."""

    spec: TargetFile
    #: the target file, resolved
    path: Path

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def kind(self) -> Literal["service", "wsgi"]:
        return "service" if self.spec.service is not None else "wsgi"

    @property
    def is_reference(self) -> bool:
        """Is this the reference service (its regressions are the planted catalogue)?"""
        return self.spec.service is not None and self.spec.service.factory == REFERENCE_FACTORY

    @property
    def ref(self) -> str:
        """The target file as a user would name it: relative to the current folder if inside."""
        try:
            return str(self.path.relative_to(Path.cwd()))
        except ValueError:
            return str(self.path)

    def check_regressions(self, names: Sequence[str]) -> None:
        """Refuse a regression this target does not declare (exit 2, the known ones listed)."""
        for name in names:
            if name not in self.regressions:
                known = ", ".join(sorted(self.regressions)) or "none"
                raise BadInput(
                    f"--bug {name}: not a regression of target {self.name!r} ({self.ref}); "
                    f"known: {known}"
                )

    @property
    def regressions(self) -> tuple[str, ...]:
        """The target's own regressions, in the file's order."""
        return tuple(r.name for r in self.spec.regression)

    def durations(self) -> dict[str, float]:
        """Duration name -> seconds, as the service really runs."""
        return {name: float(getattr(self.spec.durations, name)) for name in TIMING_FIELDS}

    def timing(self, *, slack: float = 0.0) -> Timing:
        """The durations the checker judges this target's runs by."""
        return Timing.declared(self.durations(), slack=slack)

    def factory(self) -> ServiceFactory:
        """The in-process factory (`[service] factory`), imported."""
        if self.spec.service is None:
            raise TypeError(f"{self.path}: a [wsgi] target has no in-process factory")
        module, _, attr = self.spec.service.factory.partition(":")
        return cast("ServiceFactory", getattr(importlib.import_module(module), attr))

    def config_for(self, scenario: Scenario, scale: float = 1.0) -> ServiceConfig:
        """The scenario's service configuration with this target's durations and scan length.

        Scenarios are written against the reference's durations; a scenario that set a duration
        of its own (one that differs from the reference default) keeps it, every other duration
        is the target's. Durations that are wall seconds (`durations.real`) become scenario
        seconds at `scale` (wall seconds per scenario second): the service runs them unscaled."""
        base = scenario.config
        defaults = ServiceConfig()
        per = scale if self.spec.durations.real else 1.0
        mine: dict[str, Any] = {
            name: value / per
            for name, value in self.durations().items()
            if getattr(base, name) == getattr(defaults, name)
        }
        return replace(base, strategies=self.spec.strategies, **mine)

    def describe(self) -> str:
        """What the target file declares, as `scanchaos target check` prints it."""
        spec = self.spec
        if spec.service is not None:
            how = f"in-process service {spec.service.factory}"
        else:
            assert spec.wsgi is not None and spec.http is not None
            runs = (
                "runs each scan inside its start request"
                if spec.http.runs_to_end
                else ("answers a start at once while the scan runs elsewhere")
            )
            how = f"WSGI app {spec.wsgi.app} under Gunicorn; {runs}"
            if spec.jobs is not None:
                jobs = spec.jobs
                how += (
                    f"; RQ WorkerPool of {jobs.workers} on queue {jobs.queue!r} (job monitoring "
                    f"{jobs.job_monitoring_interval} s, maintenance {jobs.maintenance_interval} s, "
                    f"worker TTL {jobs.worker_ttl} s)"
                )
        faults = spec.faults
        can = [
            name
            for name, yes in (
                ("worker kill", faults.worker_kill),
                ("Redis outage", faults.redis_outage),
                ("failover and replica lag", faults.replication),
            )
            if yes
        ] + [f"drop column {c}" for c in faults.drop_column]
        durations = ", ".join(f"{n} {v:g} s" for n, v in self.durations().items())
        regressions = ", ".join(self.regressions) or "none"
        return "\n".join(
            (
                f"{self.ref}: target {spec.name!r} is valid",
                f"  service:     {how}, {spec.workers} worker(s), {spec.strategies} strategies",
                f"  durations:   {durations}"
                + (" (wall seconds: live runs do not scale them)" if spec.durations.real else ""),
                f"  faults:      {', '.join(can) or 'none'}",
                f"  regressions: {regressions}",
            )
        )

    def not_applicable(self, scenario: Scenario) -> str | None:
        """Why this target cannot take `scenario`'s faults, or None when it can."""
        from harness.scenario import (
            DropColumn,
            RedisFailover,
            RedisOutage,
            ReplicaLag,
            RestartWorker,
        )

        faults = self.spec.faults
        for fault in scenario.faults:
            if isinstance(fault, RestartWorker) and not faults.worker_kill:
                return "the target cannot have a worker killed (faults.worker_kill = false)"
            if isinstance(fault, RedisOutage) and not faults.redis_outage:
                return "the target cannot take a Redis outage (faults.redis_outage = false)"
            if isinstance(fault, RedisFailover | ReplicaLag) and not faults.replication:
                return "the target does not run against a replica (faults.replication = false)"
            if isinstance(fault, DropColumn) and fault.column not in faults.drop_column:
                return f"the target cannot drop column {fault.column!r} (faults.drop_column)"
        if scenario.missing_columns:
            missing = [c for c in scenario.missing_columns if c not in faults.drop_column]
            if missing:
                return f"the target cannot run without column {missing[0]!r} (faults.drop_column)"
        return None
