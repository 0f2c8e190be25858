"""`scanchaos run` writes the report; `scanchaos report DIR` re-renders it from the files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main


def test_run_writes_report_and_report_rerenders_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert (
        main(["run", "post-completion-404", "--bug", "cleanup-ignores-redis", "--out", str(out)])
        == 1
    )
    assert {p.name for p in out.iterdir()} >= {"report.html", "timeline.png"}
    first = (out / "timeline.png").read_bytes()
    page = (out / "report.html").read_text(encoding="utf-8")
    (out / "report.html").unlink()
    (out / "timeline.png").unlink()
    capsys.readouterr()
    assert main(["report", str(out)]) == 0
    assert f"wrote {out}/report.html" in capsys.readouterr().out
    assert (out / "timeline.png").read_bytes() == first
    assert (out / "report.html").read_text(encoding="utf-8") == page  # same page from the files
    assert "11.9 s after the scan completed" in (out / "report.html").read_text(encoding="utf-8")


def test_gate_folder_gets_a_page_with_the_matrix(tmp_path: Path) -> None:
    out = tmp_path / "gate"
    main(["gate", "--only", "--scenario", "post-completion-404", "--out", str(out)])
    matrix = json.loads((out / "gate.json").read_text(encoding="utf-8"))
    assert matrix["scenarios"] == ["post-completion-404"]
    assert (out / "post-completion-404" / "timeline.png").is_file()
    page = (out / "report.html").read_text(encoding="utf-8")
    assert 'id="kill-matrix"' in page and 'href="post-completion-404/report.html"' in page


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda d: None, "no such folder"),
        (lambda d: d.mkdir(), "no history.jsonl here or in any subfolder"),
    ],
)
def test_bad_folder_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], setup: object, message: str
) -> None:
    folder = tmp_path / "x"
    setup(folder)  # type: ignore[operator]
    assert main(["report", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and str(folder) in err
