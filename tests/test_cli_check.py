"""`scanchaos check`: any history in, the verdict out (0 pass, 1 violated, 2 malformed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from tests.histories import Builder
from tests.test_checker_table import CLEAN, ROWS


def _write(tmp_path: Path, builder: Builder, name: str = "history.jsonl") -> Path:
    path = tmp_path / name
    builder.history.write(path)
    return path


@pytest.mark.parametrize("row", sorted(ROWS))
def test_each_hand_made_failure_exits_1_naming_its_invariant(
    row: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make, expected = ROWS[row]
    assert main(["check", str(_write(tmp_path, make()))]) == 1
    out = capsys.readouterr().out
    for name in expected:
        assert f"VIOLATION {name} " in out
    assert "FAIL" in out.splitlines()[-1]


@pytest.mark.parametrize("row", sorted(CLEAN))
def test_clean_histories_exit_0(
    row: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", str(_write(tmp_path, CLEAN[row]()))]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "PASS"


def test_invariant_option_limits_the_check(tmp_path: Path) -> None:
    make, _ = ROWS["scanning-after-terminal"]
    path = _write(tmp_path, make())
    assert main(["check", str(path), "--invariant", "honest-status"]) == 0
    assert main(["check", str(path), "--invariant", "terminal-is-final"]) == 1


def test_out_writes_the_reports(tmp_path: Path) -> None:
    make, _ = ROWS["latest-keeps-the-older-scan"]
    path = _write(tmp_path, make())
    out = tmp_path / "judged"
    assert main(["check", str(path), "--out", str(out)]) == 1
    for name in ("verdict.json", "summary.md", "report.html", "timeline.png"):
        assert (out / name).is_file(), name
    verdict = json.loads((out / "verdict.json").read_text(encoding="utf-8"))
    assert verdict["outcome"] == "fail"
    assert {v["invariant"] for v in verdict["violations"]} == {"latest-is-newest"}


GOOD_HEADER = json.dumps({"type": "run", "scenario": "mine"})
OP = {
    "type": "op",
    "index": 0,
    "op": "status",
    "user": "alice",
    "worker": "w1",
    "start": 1.0,
    "end": 1.5,
    "reply": {"status": "complete", "done": 14, "total": 14},
}


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ({**OP, "op": "stat"}, "history.jsonl:2: field op: Invalid enum value 'stat'"),
        ({**OP, "start": "1.0"}, "history.jsonl:2: field start: Expected `float`, got `str`"),
        ({**OP, "type": "oops"}, "history.jsonl:2: field type: Invalid value 'oops'"),
        ({k: v for k, v in OP.items() if k != "user"}, "history.jsonl:2: field user: missing"),
        ({**OP, "reply": {"status": "done"}}, "history.jsonl:2: field reply.status:"),
        ({**OP, "end": 0.5}, "history.jsonl:2: field end: 0.5 is before start 1.0"),
        ({**OP, "colour": "red"}, "history.jsonl:2: field colour: unknown field"),
    ],
)
def test_a_malformed_history_is_one_line_and_exit_2(
    line: dict[str, object], says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "history.jsonl"
    path.write_text(GOOD_HEADER + "\n" + json.dumps(line) + "\n", encoding="utf-8")
    assert main(["check", str(path)]) == 2
    captured = capsys.readouterr()
    [message] = captured.err.strip().splitlines()
    assert says in message and str(path) in message
    assert "Traceback" not in captured.err


def test_a_missing_file_and_a_headerless_file_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", str(tmp_path / "nope.jsonl")]) == 2
    path = tmp_path / "history.jsonl"
    path.write_text(json.dumps(OP) + "\n", encoding="utf-8")
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "first record must be 'run'" in err[1]


def test_a_history_cut_off_mid_line_is_judged_and_said_interrupted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make = CLEAN["read-until-its-ttl"]
    text = make().history.dumps()
    path = tmp_path / "history.jsonl"
    path.write_text(text[: len(text) - 40], encoding="utf-8")  # a kill mid-write
    assert main(["check", str(path)]) == 0
    assert "interrupted run: the last line was cut off" in capsys.readouterr().out


def test_a_history_that_shows_no_scan_is_unknown_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "history.jsonl"
    refused = {**OP, "op": "start", "reply": {"status": "bad_request", "reason": "malformed"}}
    path.write_text(GOOD_HEADER + "\n" + json.dumps(refused) + "\n", encoding="utf-8")
    assert main(["check", str(path)]) == 2
    out = capsys.readouterr().out
    assert "cannot judge:" in out and out.splitlines()[-1].startswith("UNKNOWN")


def test_out_may_not_overwrite_the_history_it_checks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make = CLEAN["read-until-its-ttl"]
    path = _write(tmp_path, make())
    assert main(["check", str(path), "--out", str(tmp_path)]) == 2
    assert "holds the history being checked" in capsys.readouterr().err
