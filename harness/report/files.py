"""The files a run or a gate leaves in its output folder."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from harness.checker import Verdict
from harness.history import History
from harness.report import junit
from harness.report.summary import gate_summary, run_summary

if TYPE_CHECKING:
    from harness.gate import GateResult

REPORTS_DIR = Path("reports") / "runs"


def default_out_dir(label: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return REPORTS_DIR / f"{stamp}-{label}"


def write_run(
    out: Path,
    history: History,
    verdict: Verdict,
    *,
    description: str = "",
    seconds: float = 0.0,
) -> list[Path]:
    """Write `history.jsonl`, `verdict.json`, `junit.xml` and `summary.md` into `out`.

    `summary.md` is written last: it links `timeline.png` if that is already in `out`.
    """
    out.mkdir(parents=True, exist_ok=True)
    history_path = out / "history.jsonl"
    history.write(history_path)
    verdict_path = out / "verdict.json"
    data = {
        "scenario": history.info.scenario,
        "seed": history.info.seed,
        "bugs": list(history.info.bugs),
        "mode": history.info.mode,
        "command": history.info.command,
        **verdict.to_json(),
    }
    verdict_path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    junit_path = junit.write(out / "junit.xml", junit.run_suites(history, verdict, seconds))
    summary_path = out / "summary.md"
    summary_path.write_text(
        run_summary(history, verdict, out=out, description=description), encoding="utf-8"
    )
    return [history_path, verdict_path, junit_path, summary_path]


def write_gate(
    out: Path,
    result: GateResult,
    *,
    refs: dict[str, str] | None = None,
    all_scenarios: bool = True,
) -> list[Path]:
    """Write the gate's reports into `out`: one folder per scenario's fixed-service run, then
    `gate.json` (the kill matrix), `junit.xml` and `summary.md`."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for run in result.baseline:
        written += write_run(
            out / run.scenario.name,
            run.history,
            run.verdict,
            description=run.scenario.description,
            seconds=result.baseline_seconds.get(run.scenario.name, 0.0),
        )
    matrix = {
        "passed": result.passed,
        "seed": result.seed,
        "scenarios": list(result.scenarios),
        "bugs": list(result.bugs),
        "escaped": result.escaped,
        "broken_baseline": result.broken_baseline,
        "unmet_claims": [list(pair) for pair in result.unmet_claims],
        "cells": [
            {
                "scenario": c.scenario,
                "bug": c.bug,
                "caught": c.caught,
                "claimed": c.bug in result.claims.get(c.scenario, ()),
                "violated": list(c.violated),
                "command": c.command,
            }
            for c in result.cells
        ],
    }
    gate_path = out / "gate.json"
    gate_path.write_text(json.dumps(matrix, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    junit_path = junit.write(out / "junit.xml", junit.gate_suites(result), "scanchaos gate")
    summary_path = out / "summary.md"
    summary_path.write_text(
        gate_summary(result, out=out, refs=refs, all_scenarios=all_scenarios), encoding="utf-8"
    )
    return [*written, gate_path, junit_path, summary_path]
