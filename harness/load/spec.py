"""The nemesis schedule of a load run, written as a short SPEC on the command line.

    SPEC   = "none" | FAULT { "," FAULT }
    FAULT  = ACTION [ "@" TIME ] [ "/" TIME ] [ "+" TIME ]
    ACTION = "kill" | "kill-scan" | "pause" | "restart" | "failover" | "lag"
    TIME   = a number of seconds, optionally suffixed "s" or "ms" (wall-clock, from the load start)

- `kill`: SIGKILL one Gunicorn worker (chosen at random, seeded); the master respawns it.
- `kill-scan`: the same, aimed at a worker running a scan (skipped when none is): its scan must
  end `failed` (worker lost) and stay reachable as such.
- `pause`: SIGSTOP redis-server for `+LENGTH` (default 1 s), then SIGCONT.
- `restart`: stop redis-server (it keeps its data on disk), start it again after `+LENGTH`.
- `failover`: SIGKILL the Redis primary; the Sentinels promote its replica; the old primary
  rejoins as the new one's replica `+LENGTH` after the kill (default 5 s), or once the
  promotion is done if that takes longer. Runs the cluster as a primary, a replica and three
  Sentinels, and the service waiting for a replica's acknowledgement of its terminal writes.
- `lag`: the replica receives no writes for `+LENGTH` (default 1 s), then catches up.
- `@START`: the first time it happens; `/EVERY`: repeat every EVERY seconds. Give at least one;
  with only `/EVERY` the first one happens at EVERY.

Example: `kill/6s,pause@4s/10s+1.5s,restart@15s+1s` kills a worker every 6 s, pauses Redis for
1.5 s at 4, 14, 24... s, and restarts Redis once at 15 s; `failover@10s/20s` fails the primary
over at 10, 30, 50... s. Redis faults never overlap: one that
falls inside another is moved to just after it. A fault that would not end before the run does
is left out, so every fault is over (and Redis is up) when the users stop.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

Action = Literal["kill", "kill-scan", "pause", "restart", "failover", "lag"]
ACTIONS: tuple[Action, ...] = ("kill", "kill-scan", "pause", "restart", "failover", "lag")
INSTANT: tuple[Action, ...] = ("kill", "kill-scan")
#: the faults that need a primary and a replica under Sentinel
REPLICATION: tuple[Action, ...] = ("failover", "lag")

#: the schedule `scanchaos load` uses unless told otherwise
DEFAULT_SPEC = "kill@3s/7s,kill-scan@6s/9s,pause@5s/11s+1s,restart@13s/17s+1s"

DEFAULT_LENGTH = 1.0
#: seconds from a failover's kill to the old primary's rejoin, unless `+LENGTH` says
DEFAULT_FAILOVER_LENGTH = 5.0
#: the gap kept between two Redis faults moved apart, and before the run's end
GAP = 0.5

_FAULT = re.compile(r"^(?P<action>[a-z][a-z-]*)(?P<rest>.*)$")
_PART = re.compile(r"([@/+])([^@/+]*)")
_TIME = re.compile(r"^(?P<number>\d+(?:\.\d*)?|\.\d+)(?P<unit>s|ms)?$")


class NemesisSpecError(ValueError):
    """A SPEC that cannot run; the message names the option and the offending part."""


@dataclass(frozen=True)
class FaultRule:
    """One FAULT of the SPEC."""

    action: Action
    start: float
    every: float | None = None
    length: float = 0.0


@dataclass(frozen=True)
class PlannedFault:
    """One fault at a concrete time, seconds after the load starts."""

    action: Action
    at: float
    length: float = 0.0

    @property
    def end(self) -> float:
        return self.at + self.length


def _time(text: str, fault: str, what: str) -> float:
    match = _TIME.match(text)
    if match is None:
        raise NemesisSpecError(
            f"--nemesis: {fault!r}: {what} {text!r} is not a time (seconds, e.g. 5, 1.5s, 500ms)"
        )
    value = float(match["number"]) / (1000.0 if match["unit"] == "ms" else 1.0)
    if not math.isfinite(value) or value <= 0:
        raise NemesisSpecError(f"--nemesis: {fault!r}: {what} must be positive, got {text!r}")
    return value


def parse(spec: str) -> tuple[FaultRule, ...]:
    """Parse a SPEC into rules; raise `NemesisSpecError` naming the part that is wrong."""
    text = spec.strip()
    if text in ("", "none"):
        return ()
    rules = []
    for raw in text.split(","):
        fault = raw.strip()
        match = _FAULT.match(fault)
        if match is None or match["action"] not in ACTIONS:
            name = match["action"] if match else fault
            raise NemesisSpecError(
                f"--nemesis: {fault!r}: unknown fault {name!r}; known: {', '.join(ACTIONS)}"
            )
        action: Action = match["action"]
        rest = match["rest"]
        parts = _PART.findall(rest)
        if "".join(sign + value for sign, value in parts) != rest:
            raise NemesisSpecError(
                f"--nemesis: {fault!r}: expected ACTION[@START][/EVERY][+LENGTH]"
            )
        seen: dict[str, float] = {}
        names = {"@": "START", "/": "EVERY", "+": "LENGTH"}
        for sign, value in parts:
            if sign in seen:
                raise NemesisSpecError(f"--nemesis: {fault!r}: {names[sign]} given twice")
            seen[sign] = _time(value, fault, names[sign])
        if "@" not in seen and "/" not in seen:
            raise NemesisSpecError(
                f"--nemesis: {fault!r}: give @START, /EVERY or both (e.g. {action}@5s/10s)"
            )
        if action in INSTANT and "+" in seen:
            raise NemesisSpecError(f"--nemesis: {fault!r}: a kill is instant; drop +LENGTH")
        default = DEFAULT_FAILOVER_LENGTH if action == "failover" else DEFAULT_LENGTH
        length = 0.0 if action in INSTANT else seen.get("+", default)
        every = seen.get("/")
        if every is not None and length >= every:
            raise NemesisSpecError(
                f"--nemesis: {fault!r}: LENGTH {length:g} s must be shorter than EVERY {every:g} s"
            )
        rules.append(FaultRule(action, seen.get("@", every or 0.0), every, length))
    return tuple(rules)


def plan(rules: tuple[FaultRule, ...], duration: float) -> list[PlannedFault]:
    """Every fault of the run, in order; Redis faults moved apart, late ones left out."""
    raw: list[PlannedFault] = []
    for rule in rules:
        at = rule.start
        while at < duration:
            raw.append(PlannedFault(rule.action, round(at, 6), rule.length))
            if rule.every is None:
                break
            at += rule.every
    raw.sort(key=lambda f: (f.at, f.action))
    planned: list[PlannedFault] = []
    redis_free = 0.0
    for fault in raw:
        if fault.action not in INSTANT:
            if fault.at < redis_free:
                fault = PlannedFault(fault.action, round(redis_free, 6), fault.length)
            if fault.end > duration - GAP:
                continue
            redis_free = fault.end + GAP
        planned.append(fault)
    planned.sort(key=lambda f: (f.at, f.action))
    return planned


def describe(planned: list[PlannedFault]) -> str:
    """A one-line count of the plan, for the run's header."""
    counts = {action: sum(1 for f in planned if f.action == action) for action in ACTIONS}
    return ", ".join(f"{action} x{n}" for action, n in counts.items() if n)
