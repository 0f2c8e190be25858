"""The resilience harness: clusters, faults, histories, the checker, runners and the CLI."""

from harness.checker import INVARIANTS, Checker, Verdict, Violation
from harness.history import FaultEvent, History, Operation, RunInfo, Timing
from harness.runner import RunResult, simulate
from harness.scenario import Scenario, ScenarioError
from harness.sim.cluster import SimCluster

__all__ = [
    "INVARIANTS",
    "Checker",
    "FaultEvent",
    "History",
    "Operation",
    "RunInfo",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "SimCluster",
    "Timing",
    "Verdict",
    "Violation",
    "simulate",
]
