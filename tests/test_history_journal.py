"""A run writes its history as it goes: a run killed at any moment leaves a readable history."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.checker import Checker
from harness.cli import main
from harness.history import UNFINISHED, History
from harness.project import resolve
from harness.report import write_run
from harness.report.rundir import read_run
from harness.runner import simulate
from harness.scenario import Scenario, load


def _scenario(name: str) -> Scenario:
    return load(resolve(name))[0]


def test_the_journal_is_readable_while_the_run_goes(tmp_path: Path) -> None:
    journal = tmp_path / "history.jsonl"
    seen: list[History] = []

    def probe(worker: int, event: str) -> None:
        # A reader looking at the file mid-run, as one would after a SIGKILL there.
        if len(seen) < 5:
            seen.append(History.read(journal))

    result = simulate(_scenario("worker-restart-mid-scan"), probe=probe, journal=journal)
    assert seen, "the service took none of its probed paths"
    assert all(h.info.interrupted == UNFINISHED for h in seen)
    counts = [len(h.ops) for h in seen]
    assert counts == sorted(counts) and counts[-1] < len(result.history.ops)


@pytest.mark.parametrize("name", ["worker-restart-mid-scan", "redis-outage-during-scan"])
def test_a_finished_journal_holds_every_record_and_write_replaces_it(
    tmp_path: Path, name: str
) -> None:
    journal = tmp_path / "history.jsonl"
    result = simulate(_scenario(name), journal=journal)
    written = History.read(journal)
    assert written.info.interrupted == UNFINISHED
    # compared as written: times are stored to the microsecond
    assert [o.to_record() for o in written.ops] == [o.to_record() for o in result.history.ops]
    assert [f.to_record() for f in written.faults] == [f.to_record() for f in result.history.faults]
    assert written.faults
    # An interrupted history lasted as far as its records go.
    assert written.info.duration >= max(op.end for op in written.ops)

    write_run(tmp_path, result.history, result.verdict, report=False)
    final = History.read(journal)
    assert final.info.interrupted is None
    assert journal.read_text(encoding="utf-8") == result.history.dumps()
    assert not journal.with_name("history.jsonl.partial").exists()


def test_a_journal_cut_anywhere_is_judged_and_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = tmp_path / "full.jsonl"
    result = simulate(_scenario("redis-outage-during-scan"), journal=journal)
    data = journal.read_bytes()
    lines = data.count(b"\n")
    for cut in (len(data) // 7, len(data) // 3, len(data) // 2 + 3, len(data) - 1):
        folder = tmp_path / f"cut-{cut}"
        folder.mkdir()
        (folder / "history.jsonl").write_bytes(data[:cut])
        # No verdict.json: the run was killed before it judged itself; the report judges it.
        run = read_run(folder)
        assert run.history.info.interrupted == UNFINISHED
        assert len(run.history.ops) + len(run.history.faults) < lines
        assert run.verdict == Checker().check(run.history)
        assert main(["check", str(folder / "history.jsonl")]) in (0, 1)
        out = capsys.readouterr().out
        assert f"interrupted run: {UNFINISHED}" in out
    assert result.verdict.passed
