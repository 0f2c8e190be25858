"""The files a run or a gate leaves in its output folder."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from harness.checker import Verdict
from harness.history import History
from harness.report import junit
from harness.report.summary import gate_summary, run_summary

if TYPE_CHECKING:
    from harness.gate import GateResult
    from harness.report.html import RunView

REPORTS_DIR = Path("reports") / "runs"


def default_out_dir(label: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return REPORTS_DIR / f"{stamp}-{label}"


class OutDirError(ValueError):
    """An output folder that cannot be written; the message names it."""


def prepare_out_dir(out: Path) -> Path:
    """Create the output folder `out` now, before anything runs, or say in one line why not."""
    if out.exists() and not out.is_dir():
        raise OutDirError(f"--out {out}: exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutDirError(f"--out {out}: cannot create the folder: {error.strerror}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise OutDirError(f"--out {out}: the folder is not writable")
    return out


def _write_run(
    out: Path,
    history: History,
    verdict: Verdict,
    *,
    description: str,
    seconds: float,
    report: bool,
) -> tuple[list[Path], RunView | None]:
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
    written = [history_path, verdict_path]
    written.append(junit.write(out / "junit.xml", junit.run_suites(history, verdict, seconds)))
    view = None
    if report:
        # imported here: matplotlib costs ~0.5 s to import, and only reports need it
        from harness.report.embed import REPORT_FILE, TIMELINE_FILE
        from harness.report.html import write_report
        from harness.report.schedule import read_schedule

        view = write_report(out, history, verdict, schedule=read_schedule(out))
        written += [out / TIMELINE_FILE, out / REPORT_FILE]
    # Last: the summary links timeline.png only when it is already there.
    summary_path = out / "summary.md"
    summary_path.write_text(
        run_summary(history, verdict, out=out, description=description), encoding="utf-8"
    )
    written.append(summary_path)
    return written, view


def write_run(
    out: Path,
    history: History,
    verdict: Verdict,
    *,
    description: str = "",
    seconds: float = 0.0,
    report: bool = True,
) -> list[Path]:
    """Write `history.jsonl`, `verdict.json`, `junit.xml`, `summary.md` and (with `report`,
    the default) `timeline.png` and `report.html` into `out`; return the paths written."""
    written, _ = _write_run(
        out, history, verdict, description=description, seconds=seconds, report=report
    )
    return written


def write_gate(
    out: Path,
    result: GateResult,
    *,
    refs: dict[str, str] | None = None,
    all_scenarios: bool = True,
    report: bool = True,
) -> list[Path]:
    """Write the gate's reports into `out`: one folder per scenario's fixed-service run (and, for
    a live gate, one per planted-regression run in `regressions/`), then `gate.json` (the kill
    matrix), `junit.xml`, `report.html` and `summary.md`."""
    from harness.report.matrix import KillMatrix

    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    views: list[RunView] = []
    for run in result.baseline:
        paths, view = _write_run(
            out / run.scenario.name,
            run.history,
            run.verdict,
            description=run.scenario.description,
            seconds=result.baseline_seconds.get(run.scenario.name, 0.0),
            report=report,
        )
        written += paths
        if view is not None:
            view.link = f"{run.scenario.name}/report.html"
            views.append(view)
    for (name, bug), cell_run in result.cell_runs.items():
        folder = out / "regressions" / f"{name}--{bug}"
        written += write_run(folder, cell_run.history, cell_run.verdict, report=report)
    matrix = KillMatrix.from_gate(result)
    written.append(matrix.write(out, verdict=result))
    written.append(junit.write(out / "junit.xml", junit.gate_suites(result), "scanchaos gate"))
    if report:
        from harness.report.html import write_gate_report

        written.append(write_gate_report(out, views, matrix))
    summary_path = out / "summary.md"
    summary_path.write_text(
        gate_summary(result, out=out, refs=refs, all_scenarios=all_scenarios), encoding="utf-8"
    )
    written.append(summary_path)
    return written
