"""Shared fixtures: the full gate runs once per test session; several test files read its output."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cli_runs import CliRun, run_cli

#: what an earlier step of the same CI job left in the job summary
EARLIER_STEP = "## An earlier step\n\nits own summary\n"


@dataclass(frozen=True)
class CiFiles:
    """Where the full gate was told to leave its CI files."""

    step_summary: Path
    junit: Path


@pytest.fixture(scope="session")
def full_gate_ci(tmp_path_factory: pytest.TempPathFactory) -> CiFiles:
    folder = tmp_path_factory.mktemp("ci")
    step_summary = folder / "step_summary.md"
    step_summary.write_text(EARLIER_STEP, encoding="utf-8")
    return CiFiles(step_summary, folder / "test-results" / "scanchaos.xml")


@pytest.fixture(scope="session")
def full_gate(tmp_path_factory: pytest.TempPathFactory, full_gate_ci: CiFiles) -> Iterator[CliRun]:
    """`scanchaos gate` over every shipped scenario, on two processes (about 20-40 s), run as a
    GitHub Actions step would: with `GITHUB_STEP_SUMMARY` set and `--junit`."""
    before = os.environ.get("GITHUB_STEP_SUMMARY")
    os.environ["GITHUB_STEP_SUMMARY"] = str(full_gate_ci.step_summary)
    try:
        args = ["gate", "--jobs", "2", "--junit", str(full_gate_ci.junit)]
        run = run_cli(args, tmp_path_factory.mktemp("gate"))
    finally:
        if before is None:
            del os.environ["GITHUB_STEP_SUMMARY"]
        else:
            os.environ["GITHUB_STEP_SUMMARY"] = before
    yield run
