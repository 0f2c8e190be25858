"""How much a scenario may ask for: checked when it loads, so a typo cannot run for days.

| limit | default | environment variable |
| --- | --- | --- |
| duration | 86,400 scenario seconds (a day) | `SCANCHAOS_MAX_DURATION` |
| operations (1) | 200,000 | `SCANCHAOS_MAX_OPERATIONS` |
| poll rate (2) | 200 | `SCANCHAOS_MAX_POLL_RATE` |
| distinct users | 1,000 | `SCANCHAOS_MAX_USERS` |
| workers | 32 | `SCANCHAOS_MAX_WORKERS` |

(1) client requests in total: each start, and every poll and latest read, fan-out included.
(2) requests per scenario second of all repeating steps together, at their peak.

The defaults are far above what the shipped scenarios use (the largest: 440 s, about 3,000
operations, 3 requests a second, 30 users, 8 workers). Raise one for a single command with its
variable (`SCANCHAOS_MAX_OPERATIONS=1000000 scanchaos run big.py`), or pass `Limits(...)` to
`harness.scenario.validate` from code.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.scenario import Scenario

__all__ = ["ENV", "Limits", "LimitsError", "check_bounds", "operations", "peak_rate"]


class LimitsError(ValueError):
    """An override that is not a positive number; the message names the variable."""


@dataclass(frozen=True)
class Limits:
    """The most a scenario may ask for (see the module docstring); each field is overridden
    by `SCANCHAOS_MAX_<FIELD>` (`ENV`).

    >>> Limits.from_env({"SCANCHAOS_MAX_WORKERS": "64"}).workers
    64.0
    """

    duration: float = 86_400.0
    operations: float = 200_000
    poll_rate: float = 200.0
    users: float = 1_000
    workers: float = 32

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Limits:
        """The defaults, with every override set in the environment."""
        env = os.environ if environ is None else environ
        values: dict[str, float] = {}
        for f in fields(cls):
            text = env.get(ENV[f.name])
            if text is None or text == "":
                continue
            try:
                value = float(text)
            except ValueError:
                value = math.nan
            if not (math.isfinite(value) and value > 0):
                raise LimitsError(f"{ENV[f.name]}: must be a positive number, got {text!r}")
            values[f.name] = value
        return cls(**values)


#: field of `Limits` -> the environment variable that overrides it
ENV = {f.name: f"SCANCHAOS_MAX_{f.name.upper()}" for f in fields(Limits)}


def _rounds(start: float, until: float, every: float) -> int:
    return math.floor((until - start) / every + 1e-9) + 1


def operations(scenario: Scenario) -> int:
    """Client requests the scenario's steps send in all (a `Start` is one)."""
    from harness.scenario import Start

    total = 0
    for step in scenario.steps:
        if isinstance(step, Start):
            total += 1
        else:
            total += _rounds(step.start, step.until, step.every) * step.fanout
    return total


def peak_rate(scenario: Scenario) -> float:
    """The most requests a scenario second that the repeating steps send together."""
    from harness.scenario import Start

    events: list[tuple[float, float]] = []
    for step in scenario.steps:
        if not isinstance(step, Start):
            rate = step.fanout / step.every
            events += [(step.start, rate), (step.until, -rate)]
    peak = current = 0.0
    # Ends before starts at the same instant: back-to-back steps do not overlap.
    for _, change in sorted(events, key=lambda e: (e[0], e[1])):
        current += change
        peak = max(peak, current)
    return peak


def check_bounds(scenario: Scenario, limits: Limits, fail: Callable[[str, str], Exception]) -> None:
    """Raise `fail(field, message)` for the first limit the (otherwise valid) scenario exceeds."""
    users = {s.user for s in scenario.steps if getattr(s, "user", None) is not None}
    # field, limit name, value, limit, what the value is
    checks: list[tuple[str, str, float, float, str]] = [
        ("workers", "workers", scenario.workers, limits.workers, "{:g} workers is too many"),
        ("duration", "duration", scenario.duration, limits.duration, "{:g} s is too long"),
        ("steps", "users", len(users), limits.users, "{:g} distinct users is too many"),
        (
            "steps",
            "operations",
            operations(scenario),
            limits.operations,
            "{:,.0f} operations in total is too many",
        ),
        (
            "steps",
            "poll_rate",
            peak_rate(scenario),
            limits.poll_rate,
            "{:,.1f} requests a scenario second at the peak is too many",
        ),
    ]
    for fld, name, value, limit, what in checks:
        if value > limit:
            raise fail(fld, f"{what.format(value)} (limit {limit:g}; raise it with {ENV[name]})")
