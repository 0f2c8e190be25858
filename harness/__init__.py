"""The resilience harness: clusters, faults, histories, the checker, runners and the CLI.

The names below are imported on first use, not with the package: a Locust process imports
`harness.load.record` and must not pay for (or drag in) the simulation.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "INVARIANTS": "harness.checker",
    "Checker": "harness.checker",
    "Verdict": "harness.checker",
    "Violation": "harness.checker",
    "FaultEvent": "harness.history",
    "History": "harness.history",
    "Operation": "harness.history",
    "RunInfo": "harness.history",
    "Timing": "harness.history",
    "RunResult": "harness.runner",
    "simulate": "harness.runner",
    "Scenario": "harness.scenario",
    "ScenarioError": "harness.scenario",
    "SimCluster": "harness.sim.cluster",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'harness' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
