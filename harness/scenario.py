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
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import pkgutil
from dataclasses import dataclass, field
from pathlib import Path

from reference_impl import BUGS, ServiceConfig, StrategyProfile
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

    Aim it at `worker` (an index) or at the worker running `scan` at that moment.
    """

    at: float
    worker: int | None = None
    scan: str | None = None


@dataclass(frozen=True)
class RedisOutage:
    """Redis refuses every connection from `at` for `duration` seconds."""

    at: float
    duration: float


@dataclass(frozen=True)
class DropColumn:
    """An optional column disappears from the performance table at `at`."""

    at: float
    column: str = "annual_return"


Step = Start | Poll | Latest
Fault = RestartWorker | RedisOutage | DropColumn


@dataclass(frozen=True)
class Scenario:
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


class ScenarioError(ValueError):
    """A scenario that cannot run; the message names the file and the field."""


def _times(obj: Step | Fault) -> list[tuple[str, float]]:
    names = ("at", "start", "until", "duration", "every")
    return [(n, getattr(obj, n)) for n in names if hasattr(obj, n)]


def validate(scenario: Scenario, source: str) -> None:
    """Refuse a scenario that cannot run, with one line naming `source` and the field."""
    from harness.checker import INVARIANTS

    def fail(fld: str, message: str) -> ScenarioError:
        return ScenarioError(f"{source}: {fld}: {message}")

    if not isinstance(scenario, Scenario):
        raise fail(
            "SCENARIO", f"must be a harness.scenario.Scenario, not {type(scenario).__name__}"
        )
    if not math.isfinite(scenario.duration) or scenario.duration <= 0:
        raise fail("duration", f"must be a positive number of seconds, got {scenario.duration}")
    if scenario.workers < 1:
        raise fail("workers", f"must be at least 1, got {scenario.workers}")
    for name in scenario.invariants or ():
        if name not in INVARIANTS:
            raise fail("invariants", f"unknown invariant {name!r}; known: {', '.join(INVARIANTS)}")
    for name in scenario.catches:
        if name not in BUGS:
            raise fail("catches", f"unknown planted regression {name!r}; known: {', '.join(BUGS)}")
    for name in scenario.missing_columns:
        if name not in OPTIONAL_COLUMNS:
            raise fail("missing_columns", f"{name!r} is not an optional column")
    labels: dict[str, Start] = {}
    items: list[tuple[str, Step | Fault]] = [
        (f"steps[{i}]", s) for i, s in enumerate(scenario.steps)
    ] + [(f"faults[{i}]", f) for i, f in enumerate(scenario.faults)]
    for where, item in items:
        if not isinstance(item, (Start, Poll, Latest, RestartWorker, RedisOutage, DropColumn)):
            raise fail(where, f"unknown step or fault {type(item).__name__}")
        for attr, value in _times(item):
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise fail(f"{where}.{attr}", f"must be a non-negative number, got {value!r}")
        if getattr(item, "at", 0) > scenario.duration:
            raise fail(
                f"{where}.at",
                f"{item.at} is after the scenario ends at "  # type: ignore[union-attr]
                f"{scenario.duration}",
            )
        if isinstance(item, (Poll, Latest)):
            if item.every <= 0:
                raise fail(f"{where}.every", f"must be positive, got {item.every}")
            if item.until < item.start:
                raise fail(f"{where}.until", f"{item.until} is before start {item.start}")
            if item.start > scenario.duration:
                raise fail(
                    f"{where}.start",
                    f"{item.start} is after the scenario ends at {scenario.duration}",
                )
            if item.fanout < 1:
                raise fail(f"{where}.fanout", f"must be at least 1, got {item.fanout}")
        if isinstance(item, RedisOutage):
            if item.duration <= 0:
                raise fail(f"{where}.duration", f"must be positive, got {item.duration}")
            if item.at + item.duration > scenario.duration:
                raise fail(f"{where}.duration", "the outage outlasts the scenario")
        if isinstance(item, DropColumn) and item.column not in OPTIONAL_COLUMNS:
            raise fail(
                f"{where}.column",
                f"{item.column!r} is not an optional column ({', '.join(OPTIONAL_COLUMNS)})",
            )
        worker = getattr(item, "worker", None)
        if worker is not None and not 0 <= worker < scenario.workers:
            raise fail(
                f"{where}.worker",
                f"worker index {worker} is out of range "
                f"(the scenario has {scenario.workers} workers: 0-{scenario.workers - 1})",
            )
        if isinstance(item, Start):
            if item.scan in labels:
                raise fail(f"{where}.scan", f"scan name {item.scan!r} is started twice")
            labels[item.scan] = item
    for where, item in items:
        if isinstance(item, RestartWorker) and (item.worker is None) == (item.scan is None):
            raise fail(where, "give exactly one of worker= or scan=")
        scan = getattr(item, "scan", None)
        if scan is not None and scan not in labels:
            raise fail(f"{where}.scan", f"no Start step names a scan {scan!r}")


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
