"""Run `scanchaos` in this process and keep what it printed."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path

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
