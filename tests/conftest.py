"""Shared fixtures: the full gate runs once per test session; several test files read its output."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cli_runs import CliRun, run_cli


@pytest.fixture(scope="session")
def full_gate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CliRun]:
    """`scanchaos gate` over every shipped scenario, on two processes (about 20-40 s)."""
    yield run_cli(["gate", "--jobs", "2"], tmp_path_factory.mktemp("gate"))
