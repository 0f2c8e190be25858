"""A found schedule as a runnable scenario script (the `harness.scenario` API), and in prose."""

from __future__ import annotations

import json
import shlex
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Any

import harness.scenario as sc
from harness.checker import Violation
from reference_impl import StrategyProfile
from reference_impl.strategies import strategy_names


def _value(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, frozenset):
        return (
            f"frozenset({{{', '.join(_value(v) for v in sorted(value))}}})"
            if value
            else ("frozenset()")
        )
    if isinstance(value, tuple):
        inner = ", ".join(_value(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    return repr(value)


def _call(obj: Any) -> str:
    """`Name(field=value, ...)` naming only the fields that differ from their defaults."""
    args = []
    for f in fields(obj):
        value = getattr(obj, f.name)
        if f.default is not MISSING and value == f.default:
            continue
        args.append(f"{f.name}={_value(value)}")
    return f"{type(obj).__name__}({', '.join(args)})"


def _seconds(value: float) -> str:
    return f"{value:g} s"


def _repeated(item: sc.Poll | sc.Latest) -> str:
    """How a repeated read repeats, as words (empty for a single read)."""
    text = f", {item.fanout} concurrent requests" if item.fanout > 1 else ""
    if item.until > item.start:
        text += f", every {_seconds(item.every)} until {item.until:g} s"
    return text


def describe_item(item: sc.Step | sc.Fault, owners: dict[str, str]) -> str:
    """One step or fault of a scenario, as a reviewer reads it."""
    if isinstance(item, sc.Start):
        where = "through the load balancer" if item.worker is None else f"on worker {item.worker}"
        return f"{item.user} starts scan {item.scan} {where}"
    if isinstance(item, sc.Poll):
        owner = owners.get(item.scan, "?")
        who = owner if item.user in (None, owner) else f"{item.user} (not the owner, {owner})"
        where = "through the load balancer" if item.worker is None else f"on worker {item.worker}"
        return f"{who} polls scan {item.scan} {where}" + _repeated(item)
    if isinstance(item, sc.Latest):
        return f"{item.user} asks for their latest scan" + _repeated(item)
    if isinstance(item, sc.RestartWorker):
        if item.worker is not None:
            who = f"worker {item.worker}"
        elif item.idle:
            who = "a worker running no scan"
        else:
            who = f"the worker running {item.scan}"
        return f"{who} restarts (its memory is lost)"
    if isinstance(item, sc.RedisOutage):
        return (
            f"Redis goes down for {_seconds(item.duration)} (until {item.at + item.duration:g} s)"
        )
    if isinstance(item, sc.ReplicaLag):
        return (
            f"the Redis replica falls behind for {_seconds(item.duration)} "
            f"(until {item.at + item.duration:g} s)"
        )
    if isinstance(item, sc.RedisFailover):
        return (
            f"the Redis primary dies; the replica is promoted at "
            f"{item.at + item.promote_after:g} s, the old primary rejoins as its replica at "
            f"{item.at + item.rejoin_after:g} s"
        )
    assert isinstance(item, sc.DropColumn)
    return f"column {item.column} is dropped from the performance table"


def _time(item: sc.Step | sc.Fault) -> float:
    return item.start if isinstance(item, (sc.Poll, sc.Latest)) else item.at


def describe_profile(profile: StrategyProfile, strategies: int) -> str:
    text = f"each strategy takes {_seconds(profile.seconds)}"
    if profile.hang:
        names = strategy_names(strategies)
        hung = ", ".join(f"{i} ({names[i]})" for i in sorted(profile.hang))
        text += f"; strategies {hung} hang" if len(profile.hang) > 1 else f"; strategy {hung} hangs"
    return text


def describe_scenario(scenario: sc.Scenario) -> list[str]:
    """The scenario step by step, in time order: `at T s: what happens`."""
    owners = {s.scan: s.user for s in scenario.steps if isinstance(s, sc.Start)}
    items: list[sc.Step | sc.Fault] = [*scenario.steps, *scenario.faults]
    lines = [
        f"setup: {scenario.workers} workers; "
        + describe_profile(scenario.profile, scenario.config.strategies)
    ]
    for item in sorted(items, key=_time):
        lines.append(f"at {_time(item):g} s: {describe_item(item, owners)}")
    lines.append(f"end at {scenario.duration:g} s")
    return lines


@dataclass(frozen=True)
class ScriptText:
    """What a script's docstring tells, besides the scenario itself."""

    violations: tuple[Violation, ...]
    bugs: tuple[str, ...]
    cluster_seed: int
    explore_command: str
    replay_command: str
    fixed_command: str


def replay_command(path: Path, bugs: tuple[str, ...], seed: int) -> str:
    parts = ["scanchaos", "run", str(path)]
    for bug in bugs:
        parts += ["--bug", bug]
    if seed:
        parts += ["--seed", str(seed)]
    return shlex.join(parts)


def render_script(scenario: sc.Scenario, text: ScriptText) -> str:
    """The source of a scenario script that plays `scenario` exactly as the explorer did."""
    found = ", ".join(text.bugs) if text.bugs else "the fixed service"
    doc = [
        f"{scenario.name}: a schedule the explorer found and shrunk ({found}).",
        "",
        "What it breaks:",
        *(f"  {v.invariant}: {v.message}" for v in text.violations),
        "",
        "Step by step:",
        *(f"  {line}" for line in describe_scenario(scenario)),
        "",
        f"Found by:  {text.explore_command}",
        f"Cluster seed: {text.cluster_seed}",
        f"Replay:    {text.replay_command}",
        f"Fixed:     {text.fixed_command}",
    ]
    imports = sorted({"Scenario"} | {type(i).__name__ for i in (*scenario.steps, *scenario.faults)})
    items = [
        f"    name={_value(scenario.name)},",
        f"    description={_value(scenario.description)},",
        f"    workers={scenario.workers},",
        f"    duration={scenario.duration!r},",
        "    steps=(",
        *(f"        {_call(s)}," for s in scenario.steps),
        "    ),",
    ]
    if scenario.faults:
        items += ["    faults=(", *(f"        {_call(f)}," for f in scenario.faults), "    ),"]
    profile = scenario.profile != StrategyProfile()
    if profile:
        items.append(f"    profile={_call(scenario.profile)},")
    if scenario.catches:
        items.append(f"    catches={_value(scenario.catches)},")
    body = [
        '"""' + "\n".join(doc).replace('"""', "'''").replace("\\", "\\\\") + '\n"""',
        "",
        f"from harness.scenario import {', '.join(imports)}",
    ]
    if profile:
        body.append("from reference_impl import StrategyProfile")
    body += ["", "SCENARIO = Scenario(", *items, ")", ""]
    return "\n".join(body)
