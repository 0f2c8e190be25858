"""The files a run leaves in its output folder."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from harness.checker import Verdict
from harness.history import History

REPORTS_DIR = Path("reports") / "runs"


def default_out_dir(label: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return REPORTS_DIR / f"{stamp}-{label}"


def write_run(out: Path, history: History, verdict: Verdict, *, report: bool = True) -> list[Path]:
    """Write `history.jsonl` and `verdict.json` into `out`; return the paths written.

    With `report` (the default) also `timeline.png` and `report.html` (see `harness.report.html`).
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
    written = [history_path, verdict_path]
    if report:
        # imported here: matplotlib costs ~0.5 s to import, and only reports need it
        from harness.report.embed import REPORT_FILE, TIMELINE_FILE
        from harness.report.html import write_report

        write_report(out, history, verdict)
        written += [out / TIMELINE_FILE, out / REPORT_FILE]
    return written
