"""A run writes its history as it goes: a run killed at any moment leaves a readable history."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.checker import Checker
from harness.cli import main
from harness.history import UNFINISHED, History, RunInfo
from harness.project import resolve
from harness.report import write_run
from harness.report.rundir import read_run
from harness.runner import simulate
from harness.scenario import Scenario, load
from reference_impl import Reply


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


def test_a_fault_still_open_at_the_kill_lasts_to_the_last_record(tmp_path: Path) -> None:
    # A run killed inside an outage: the journal saw the window open, never close.
    journal = tmp_path / "history.jsonl"
    history = History(RunInfo("killed"))
    history.journal(journal)
    history.fault_begins("redis-outage", 3.0)
    history.record(
        "status", user="alice", worker="0", start=4.0, end=4.5, reply=Reply("unavailable")
    )
    history.fault_begins("worker-restart", 1.0, "2")
    history.fault("worker-restart", 1.0, 1.5, "2")
    read = History.read(journal)
    assert [(f.fault, f.start, f.end, f.target) for f in read.faults] == [
        ("worker-restart", 1.0, 1.5, "2"),
        ("redis-outage", 3.0, 4.5, None),
    ]
    # The journal's own header already said the run did not finish.
    assert read.info.interrupted == UNFINISHED
    # A history written whole has no open windows: an opened window is only a journal line.
    history.fault("redis-outage", 3.0, 5.0)
    history.write(journal)
    assert [f.end for f in History.read(journal).faults] == [1.5, 5.0]


def test_an_open_fault_in_a_history_that_says_nothing_of_a_kill_marks_it_interrupted() -> None:
    from harness.history_format import FaultBegunRecord, RunRecord

    records = [RunRecord(scenario="x"), FaultBegunRecord(fault="redis-outage", start=2.0)]
    history = History.from_records(records)
    assert history.info.interrupted == "a fault was still in progress (redis-outage)"
    assert [(f.fault, f.start, f.end) for f in history.faults] == [("redis-outage", 2.0, 2.0)]


def test_a_window_opened_at_a_time_finer_than_a_microsecond_closes(tmp_path: Path) -> None:
    journal = tmp_path / "history.jsonl"
    history = History(RunInfo("fine"))
    history.journal(journal)
    history.fault_begins("worker-restart", 1.0000004, "2")
    history.fault("worker-restart", 1.0000004, 1.5, "2")
    history.close_journal()
    assert [(f.start, f.end) for f in History.read(journal).faults] == [(1.0, 1.5)]


def test_a_window_opened_without_a_target_is_closed_by_its_record_that_names_one(
    tmp_path: Path,
) -> None:
    # A failover learns what it did (the replica promoted, the keys it lacked) only at its end.
    journal = tmp_path / "history.jsonl"
    history = History(RunInfo("failover"))
    history.journal(journal)
    history.fault_begins("redis-failover", 50.0)
    history.fault_begins("worker-restart", 50.0, "2")
    history.fault("redis-failover", 50.0, 60.0, "replica promoted, lacking 1 key(s): k")
    history.close_journal()
    read = History.read(journal)
    assert [(f.fault, f.end) for f in read.faults] == [
        ("redis-failover", 60.0),
        ("worker-restart", 60.0),  # still open: closed only by a record naming worker 2
    ]
    assert read.info.interrupted == UNFINISHED
