"""The declarative scenario API: steps at scenario times, repeated polls, faults, expectations.

A scenario script is a module that exports one `SCENARIO`:

>>> from harness.scenario import Scenario, Start, Poll
>>> SCENARIO = Scenario(
...     name="example",
...     description="one scan, polled by every worker until past its TTL",
...     duration=60.0,
...     steps=(Start(at=0.0, user="alice", scan="s1"),
...            Poll(scan="s1", start=1.0, until=60.0, every=1.0, fanout=3)),
... )
>>> validate(SCENARIO, "example.py")

Times are scenario seconds. Polls go through the load balancer (a free worker answers) unless
pinned with `worker=`; `fanout=N` sends N concurrent requests per round.

Steps (`steps=`): `Start` (a user starts a scan, named in the scenario), `Poll` (status of a
named scan, repeated; `user=` another user to probe isolation), `Latest` (a user's latest
scan, repeated). Faults (`faults=`): `RestartWorker` (by index, or the worker running a named
scan at that moment), `RedisOutage` (a window), `RedisFailover` (the primary dies, the
replica is promoted with what it had), `ReplicaLag` (the replica falls behind), `DropColumn`
(an optional column disappears);
`missing_columns=` lacks columns from the start and `profile=StrategyProfile(hang=...)` makes
strategies hang. `invariants=` limits the check (all by default) and `catches=` names the planted
regressions the scenario is meant to catch: the gate fails if it does not catch one of them.

Scenarios are meant to run unchanged in live mode too, where a request cannot be aimed at a
worker: prefer polls and starts through the balancer and aim faults with `RestartWorker(scan=)`
or a worker index. `load()` refuses a scenario that cannot run (`validate`), with one line
naming the file and the field: also one that asks for more than `harness.limits` allows (its
duration, operations, poll rate, users or workers; the limits and how to raise them are there),
or names a user id the service would refuse.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import pkgutil
import re
from dataclasses import dataclass, field
from pathlib import Path

from harness.limits import Limits, LimitsError, check_bounds
from reference_impl import BUGS, ServiceConfig, StrategyProfile
from reference_impl.keys import user_id_problem
from reference_impl.performance import OPTIONAL_COLUMNS


@dataclass(frozen=True)
class Start:
    """`user` starts a scan, named `scan` in the scenario, on `worker` (any free one if None)."""

    at: float
    user: str
    scan: str
    worker: int | None = None


@dataclass(frozen=True)
class Poll:
    """Status of `scan` every `every` seconds from `start` to `until`, `fanout` requests a round.

    `user` defaults to the scan's owner; set it to another user to probe isolation.
    """

    scan: str
    start: float
    until: float
    every: float = 1.0
    fanout: int = 1
    user: str | None = None
    worker: int | None = None


@dataclass(frozen=True)
class Latest:
    """`user` asks for their latest scan every `every` seconds from `start` to `until`."""

    user: str
    start: float
    until: float
    every: float = 1.0
    fanout: int = 1


@dataclass(frozen=True)
class RestartWorker:
    """Kill a worker (its memory is lost) and start a fresh one in its place.

    Aim it at `worker` (an index), at the worker running `scan` at that moment, or, with
    `idle=True`, at the lowest-numbered worker running no scan then (as an orchestrator
    restarts workers whose health checks failed, whichever the balancer gave the scans).
    """

    at: float
    worker: int | None = None
    scan: str | None = None
    idle: bool = False


@dataclass(frozen=True)
class RedisOutage:
    """Redis refuses every connection from `at` for `duration` seconds."""

    at: float
    duration: float


@dataclass(frozen=True)
class RedisFailover:
    """The Redis primary dies at `at` and Sentinel promotes the replica, with only the writes
    it had received.

    The replica is promoted `promote_after` seconds later (Sentinel's down-after and election)
    and the dead primary rejoins as its replica `rejoin_after` seconds after `at`; the fault
    window lasts until then, when Redis is whole again. A scenario with a failover or a
    `ReplicaLag` runs against a primary with one replica, and the service counts a terminal
    write saved only once the replica acknowledged it (`RedisSettings.replica_acks`).
    """

    at: float
    promote_after: float = 5.0
    rejoin_after: float = 10.0


@dataclass(frozen=True)
class ReplicaLag:
    """The replica receives no writes from `at` for `duration` seconds (paused, or its link
    slow), then catches up, unless the primary died meanwhile. Clients see nothing of it
    until a `RedisFailover` promotes the lagging replica."""

    at: float
    duration: float


@dataclass(frozen=True)
class DropColumn:
    """An optional column disappears from the performance table at `at`."""

    at: float
    column: str = "annual_return"


Step = Start | Poll | Latest
Fault = RestartWorker | RedisOutage | RedisFailover | ReplicaLag | DropColumn


@dataclass(frozen=True)
class Scenario:
    """A scenario: steps and faults at scenario times, the invariants to check, its claims."""

    name: str
    description: str
    duration: float
    steps: tuple[Step, ...]
    faults: tuple[Fault, ...] = ()
    workers: int = 3
    #: invariants to check; None means all of them
    invariants: tuple[str, ...] | None = None
    #: planted regressions this scenario is meant to catch
    catches: tuple[str, ...] = ()
    config: ServiceConfig = field(default_factory=ServiceConfig)
    profile: StrategyProfile = field(default_factory=StrategyProfile)
    #: optional columns missing from the database from the start
    missing_columns: tuple[str, ...] = ()

    @property
    def replicated(self) -> bool:
        """Whether the scenario runs against a primary and a replica (it breaks replication)."""
        return any(isinstance(f, (RedisFailover, ReplicaLag)) for f in self.faults)


class ScenarioError(ValueError):
    """A scenario that cannot run; the message names the file and the field."""


def _times(obj: Step | Fault) -> list[tuple[str, float]]:
    names = ("at", "start", "until", "duration", "every", "promote_after", "rejoin_after")
    return [(n, getattr(obj, n)) for n in names if hasattr(obj, n)]


_STEP_TYPES: tuple[type, ...] = (Start, Poll, Latest)
_FAULT_TYPES: tuple[type, ...] = (RestartWorker, RedisOutage, RedisFailover, ReplicaLag, DropColumn)
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


def _kind(item: object) -> str:
    return repr(item) if isinstance(item, str) else type(item).__name__


def validate(scenario: Scenario, source: str, limits: Limits | None = None) -> None:
    """Refuse a scenario that cannot run, with one line naming `source` and the field.

    Checked: the scenario's name, duration and worker count; invariant names, planted
    regression names (`catches`) and optional column names; every step and fault is of a known
    kind and in its list (steps: Start, Poll, Latest; faults: RestartWorker, RedisOutage,
    RedisFailover, ReplicaLag, DropColumn); no time is negative or after the scenario ends;
    worker indices are in range; every scan a step or fault names is started exactly once;
    hanging strategies exist; user ids are ones the service takes; nothing exceeds `limits`
    (default: `Limits.from_env()`).
    """
    from harness.checker import INVARIANTS

    def fail(fld: str, message: str) -> ScenarioError:
        return ScenarioError(f"{source}: {fld}: {message}")

    if not isinstance(scenario, Scenario):
        raise fail(
            "SCENARIO", f"must be a harness.scenario.Scenario, not {type(scenario).__name__}"
        )
    if not isinstance(scenario.name, str) or not _NAME.match(scenario.name):
        raise fail(
            "name",
            f"must be lower-case letters, digits and dashes (it names files), got "
            f"{scenario.name!r}",
        )
    if (
        not isinstance(scenario.duration, (int, float))
        or not math.isfinite(scenario.duration)
        or scenario.duration <= 0
    ):
        raise fail("duration", f"must be a positive number of seconds, got {scenario.duration}")
    if not isinstance(scenario.workers, int) or scenario.workers < 1:
        raise fail("workers", f"must be at least 1, got {scenario.workers}")
    for fld in ("invariants", "catches", "missing_columns"):
        value = getattr(scenario, fld)
        if value is not None and not isinstance(value, (tuple, list, frozenset, set)):
            raise fail(fld, f"must be a tuple of names, not a {type(value).__name__}")
    if scenario.invariants is not None and not scenario.invariants:
        raise fail("invariants", "give at least one invariant (or leave it None for all)")
    for name in scenario.invariants or ():
        if name not in INVARIANTS:
            raise fail("invariants", f"unknown invariant {name!r}; known: {', '.join(INVARIANTS)}")
    for name in scenario.catches:
        if name not in BUGS:
            raise fail("catches", f"unknown planted regression {name!r}; known: {', '.join(BUGS)}")
    for name in scenario.missing_columns:
        if name not in OPTIONAL_COLUMNS:
            raise fail("missing_columns", f"{name!r} is not an optional column")
    for index in sorted(scenario.profile.hang):
        if not 0 <= index < scenario.config.strategies:
            raise fail(
                "profile.hang",
                f"strategy index {index} is out of range "
                f"(the scan runs {scenario.config.strategies}: 0-{scenario.config.strategies - 1})",
            )
    for i, step in enumerate(scenario.steps):
        if not isinstance(step, _STEP_TYPES):
            known = ", ".join(t.__name__ for t in _STEP_TYPES)
            raise fail(f"steps[{i}]", f"unknown step {_kind(step)}; known: {known}")
    for i, fault in enumerate(scenario.faults):
        if not isinstance(fault, _FAULT_TYPES):
            known = ", ".join(t.__name__ for t in _FAULT_TYPES)
            raise fail(f"faults[{i}]", f"unknown fault {_kind(fault)}; known: {known}")
    labels: dict[str, Start] = {}
    items: list[tuple[str, Step | Fault]] = [
        (f"steps[{i}]", s) for i, s in enumerate(scenario.steps)
    ] + [(f"faults[{i}]", f) for i, f in enumerate(scenario.faults)]
    for where, item in items:
        for attr, value in _times(item):
            if (
                not isinstance(value, (int, float))
                or isinstance(value, bool)
                or not math.isfinite(value)
                or value < 0
            ):
                raise fail(f"{where}.{attr}", f"must be a non-negative number, got {value!r}")
        for attr in ("at", "start", "until"):
            value = getattr(item, attr, None)
            if value is not None and value > scenario.duration:
                raise fail(
                    f"{where}.{attr}",
                    f"{value} is after the scenario ends at {scenario.duration}",
                )
        if isinstance(item, (Poll, Latest)):
            if item.every <= 0:
                raise fail(f"{where}.every", f"must be positive, got {item.every}")
            if item.until < item.start:
                raise fail(f"{where}.until", f"{item.until} is before start {item.start}")
            if not isinstance(item.fanout, int) or item.fanout < 1:
                raise fail(f"{where}.fanout", f"must be at least 1, got {item.fanout}")
        if isinstance(item, (RedisOutage, ReplicaLag)):
            if item.duration <= 0:
                raise fail(f"{where}.duration", f"must be positive, got {item.duration}")
            what = "outage" if isinstance(item, RedisOutage) else "lag"
            if item.at + item.duration > scenario.duration:
                raise fail(
                    f"{where}.duration",
                    f"the {what} ends at {item.at + item.duration}, after the scenario ends at "
                    f"{scenario.duration}",
                )
        if isinstance(item, RedisFailover):
            if item.promote_after <= 0:
                raise fail(f"{where}.promote_after", f"must be positive, got {item.promote_after}")
            settle = scenario.config.cleanup_interval
            if item.rejoin_after < item.promote_after + settle:
                raise fail(
                    f"{where}.rejoin_after",
                    f"{item.rejoin_after} must be at least the cleanup interval ({settle:g} s) "
                    f"after promote_after {item.promote_after}: workers write again what the "
                    f"promoted replica lacks within one interval, and the window covers it",
                )
            if item.at + item.rejoin_after > scenario.duration:
                raise fail(
                    f"{where}.rejoin_after",
                    f"the failover ends at {item.at + item.rejoin_after}, after the scenario "
                    f"ends at {scenario.duration}",
                )
        if isinstance(item, DropColumn) and item.column not in OPTIONAL_COLUMNS:
            raise fail(
                f"{where}.column",
                f"{item.column!r} is not an optional column ({', '.join(OPTIONAL_COLUMNS)})",
            )
        worker = getattr(item, "worker", None)
        if worker is not None and (
            not isinstance(worker, int) or not 0 <= worker < scenario.workers
        ):
            raise fail(
                f"{where}.worker",
                f"worker index {worker} is out of range "
                f"(the scenario has {scenario.workers} workers: 0-{scenario.workers - 1})",
            )
        user = getattr(item, "user", None)
        if isinstance(item, (Start, Latest)) or user is not None:
            problem = user_id_problem(user)
            if problem is not None:
                raise fail(f"{where}.user", f"the service would refuse it: {problem}")
        if isinstance(item, Start):
            if item.scan in labels:
                raise fail(f"{where}.scan", f"scan name {item.scan!r} is started twice")
            labels[item.scan] = item
    for where, item in items:
        if isinstance(item, RestartWorker) and (
            (item.worker is not None) + (item.scan is not None) + bool(item.idle) != 1
        ):
            raise fail(where, "give exactly one of worker=, scan= or idle=True")
        scan = getattr(item, "scan", None)
        if scan is not None and scan not in labels:
            raise fail(f"{where}.scan", f"no Start step names a scan {scan!r}")
    try:
        bounds = limits or Limits.from_env()
    except LimitsError as error:
        raise ScenarioError(f"{source}: {error}") from None
    check_bounds(scenario, bounds, fail)


def _module_name(name: str) -> str:
    return name.replace("-", "_")


def available() -> dict[str, str]:
    """Scenario name -> module name, for every scenario script shipped in `scenarios/`."""
    import scenarios

    found = {}
    for info in pkgutil.iter_modules(scenarios.__path__):
        if info.name.startswith("_") or info.name == "locustfile":
            continue
        found[info.name.replace("_", "-")] = f"scenarios.{info.name}"
    return dict(sorted(found.items()))


def load(name_or_path: str) -> tuple[Scenario, str]:
    """Load a scenario by name (`post-completion-404`) or path; validated, with its source."""
    path = Path(name_or_path)
    if name_or_path.endswith(".py") or path.exists():
        if not path.is_file():
            raise ScenarioError(f"{name_or_path}: no such scenario file")
        spec = importlib.util.spec_from_file_location(f"_scenario_{path.stem}", path)
        if spec is None or spec.loader is None:
            raise ScenarioError(f"{name_or_path}: cannot be loaded as a Python module")
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception as error:
            raise ScenarioError(f"{name_or_path}: failed to load: {error}") from None
        source = str(path)
    else:
        known = available()
        if name_or_path not in known:
            raise ScenarioError(
                f"{name_or_path}: unknown scenario; known: {', '.join(known)} (or give a path)"
            )
        module = importlib.import_module(known[name_or_path])
        source = module.__file__ or name_or_path
    scenario = getattr(module, "SCENARIO", None)
    if scenario is None:
        raise ScenarioError(f"{source}: SCENARIO: the module exports no SCENARIO")
    validate(scenario, source)
    return scenario, source
