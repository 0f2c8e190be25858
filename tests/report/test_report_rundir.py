"""Reading run folders back: the verdict round-trips, bad files get one line naming them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from harness.report.files import write_run
from harness.report.rundir import ReportInputError, RunRecord, read_run, run_folders
from harness.report.schedule import read_schedule


def test_verdict_round_trips(incident: RunRecord, tmp_path: Path) -> None:
    write_run(tmp_path, incident.history, incident.verdict, report=False)
    again = read_run(tmp_path)
    assert again.verdict.to_json() == incident.verdict.to_json()
    assert again.history.dumps() == incident.history.dumps()
    assert again.judgements


def _folder(tmp_path: Path, incident: RunRecord, verdict: object) -> Path:
    write_run(tmp_path, incident.history, incident.verdict, report=False)
    (tmp_path / "verdict.json").write_text(
        verdict if isinstance(verdict, str) else json.dumps(verdict), encoding="utf-8"
    )
    return tmp_path


@pytest.mark.parametrize(
    ("verdict", "message"),
    [
        ("{not json", "verdict.json:1: not JSON"),
        ([], "verdict.json: must hold a JSON object"),
        ({"violations": []}, "verdict.json: field 'invariants' is missing"),
        ({"invariants": [], "violations": []}, "verdict.json: field 'invariants' has a bad value"),
        (
            {"invariants": {}, "violations": [{"invariant": "x", "message": "m", "evidence": []}]},
            "verdict.json: violations[0]: field 'at' is missing",
        ),
        (
            {"invariants": {"a": {"checked": True}}, "violations": []},
            "verdict.json: invariants.a: field 'violations' is missing",
        ),
        (
            {"invariants": {}, "violations": [], "lost_by_fault": [{"scan_id": "s"}]},
            "verdict.json: lost_by_fault[0]: field 'completed' is missing",
        ),
    ],
)
def test_bad_verdict_names_file_and_field(
    incident: RunRecord, tmp_path: Path, verdict: object, message: str
) -> None:
    folder = _folder(tmp_path, incident, verdict)
    with pytest.raises(ReportInputError, match=re.escape(message)):
        read_run(folder)


def test_missing_and_bad_history(tmp_path: Path) -> None:
    with pytest.raises(ReportInputError, match=re.escape("history.jsonl: no such file")):
        read_run(tmp_path)
    (tmp_path / "history.jsonl").write_text('{"type": "op"}\n', encoding="utf-8")
    with pytest.raises(ReportInputError, match=r"history.jsonl:1: field index: missing"):
        read_run(tmp_path)


def test_run_folders(incident: RunRecord, tmp_path: Path) -> None:
    with pytest.raises(ReportInputError, match="no such folder"):
        run_folders(tmp_path / "nope")
    with pytest.raises(
        ReportInputError, match=re.escape("no history.jsonl here or in any subfolder")
    ):
        run_folders(tmp_path)
    for name in ("b", "a"):
        write_run(tmp_path / name, incident.history, incident.verdict, report=False)
    assert run_folders(tmp_path) == [tmp_path / "a", tmp_path / "b"]
    assert run_folders(tmp_path / "a") == [tmp_path / "a"]


def test_schedule_files(tmp_path: Path) -> None:
    assert read_schedule(tmp_path) is None
    (tmp_path / "found.py").write_text("X = 1\n", encoding="utf-8")
    found = read_schedule(tmp_path)
    assert found is not None and found.script_name == "found.py" and found.script == "X = 1\n"
    (tmp_path / "schedule.json").write_text('{"steps": "one"}', encoding="utf-8")
    with pytest.raises(
        ReportInputError, match=re.escape("schedule.json: field 'steps' must be a list")
    ):
        read_schedule(tmp_path)
    (tmp_path / "schedule.json").write_text('{"seed": "x"}', encoding="utf-8")
    with pytest.raises(
        ReportInputError, match=re.escape("schedule.json: field 'seed' must be an integer")
    ):
        read_schedule(tmp_path)
