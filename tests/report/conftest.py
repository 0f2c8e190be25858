"""Fixtures for the report tests: the incident's run, simulated once per session."""

from __future__ import annotations

import pytest

from harness.report.rundir import RunRecord
from harness.runner import simulate
from harness.scenario import load


@pytest.fixture(scope="session")
def incident() -> RunRecord:
    """`scanchaos run post-completion-404 --bug cleanup-ignores-redis`, in memory."""
    scenario, _ = load("post-completion-404")
    result = simulate(scenario, bugs=("cleanup-ignores-redis",), seed=0)
    return RunRecord(result.history, result.verdict)


@pytest.fixture(scope="session")
def fixed() -> RunRecord:
    """The same scenario on the fixed service: it passes."""
    scenario, _ = load("post-completion-404")
    result = simulate(scenario, seed=0)
    return RunRecord(result.history, result.verdict)
