"""The kill matrix file: written from a gate result, read back, malformed ones refused."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.gate import run_gate
from harness.report.matrix import KillMatrix
from harness.report.rundir import ReportInputError
from harness.scenario import load


def test_from_gate_round_trips(tmp_path: Path) -> None:
    scenario, _ = load("post-completion-404")
    result = run_gate([scenario], bugs=["cleanup-ignores-redis", "no-user-scope"])
    matrix = KillMatrix.from_gate(result)
    assert matrix.caught_by("cleanup-ignores-redis") == ["post-completion-404"]
    assert matrix.escaped == result.escaped == ["no-user-scope"]
    assert matrix.unmet_claims == result.unmet_claims == []
    matrix.write(tmp_path)
    assert KillMatrix.read(tmp_path) == matrix


def test_absent_and_malformed(tmp_path: Path) -> None:
    assert KillMatrix.read(tmp_path) is None
    (tmp_path / "matrix.json").write_text('{"scenarios": [], "bugs": []}', encoding="utf-8")
    with pytest.raises(ReportInputError, match=re.escape("matrix.json: field 'cells' is missing")):
        KillMatrix.read(tmp_path)
    (tmp_path / "matrix.json").write_text(
        '{"scenarios": [], "bugs": [], "cells": [1]}', encoding="utf-8"
    )
    with pytest.raises(ReportInputError, match=re.escape("matrix.json: malformed kill matrix")):
        KillMatrix.read(tmp_path)
