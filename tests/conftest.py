"""Shared fixtures: the full gate runs once per test session; several test files read its output."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.cli import main


@dataclass(frozen=True)
class CliRun:
    code: int
    out: str
    err: str
    folder: Path


def run_cli(args: list[str], folder: Path) -> CliRun:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([*args, "--out", str(folder)])
    return CliRun(code, out.getvalue(), err.getvalue(), folder)


@pytest.fixture(scope="session")
def full_gate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CliRun]:
    """`scanchaos gate` over every shipped scenario, on two processes (about 20-40 s)."""
    yield run_cli(["gate", "--jobs", "2"], tmp_path_factory.mktemp("gate"))
