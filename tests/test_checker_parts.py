"""A history judged in parts, one process each, gets the verdict judging it whole gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.checker import Checker
from harness.checker._parts import part_history, plan_parts
from harness.cli import main
from tests.histories import (
    ERROR,
    NOT_FOUND,
    OTHER,
    SCAN,
    Builder,
    complete,
    scanning,
)

CAROL = "c" * 32
DAVE = "d" * 32


def _many_users() -> Builder:
    """Four users, and a violation of most invariants: some on one scan, some spanning a user's
    scans, some on operations that name no scan at all."""
    b = Builder()
    b.start(0.0, 1.0, complete(28.0))  # alice
    b.start(0.5, 1.5, scanning(0, owner="bob"), user="bob", scan=OTHER)
    b.start(1.0, 2.0, scanning(0, owner="carol"), user="carol", worker="w2", scan=CAROL)
    b.start(90.0, 91.0, scanning(0, owner="dave"), user="dave", worker="w0", scan=DAVE)
    b.read(10.0, scanning(5, owner="bob"), user="bob", scan=OTHER)
    b.read(12.0, scanning(3, owner="bob"), user="bob", scan=OTHER)  # monotonic-reads
    b.read(13.0, ERROR, user="carol", scan=CAROL)  # no-server-errors, on a scan
    b.read(14.0, scanning(4, owner="carol"), user="alice", scan=CAROL)  # isolated
    b.read(30.0, complete(28.0))
    b.read(40.0, NOT_FOUND)  # reachable-until-expiry
    # Two users' errors that name no scan: one violation between them, however split.
    b.read(41.0, ERROR, user="bob", scan=None)
    b.read(42.0, ERROR, user="carol", scan=None)
    # A `latest` that names no scan is the owner's scan's to answer for.
    b.read(45.0, NOT_FOUND, user="alice", scan=None, op="latest")
    # dave's result completes in an outage and its worker restarts before the repair.
    b.outage(100.0, 110.0)
    b.read(106.0, complete(105.0, owner="dave"), user="dave", worker="w0", scan=DAVE)
    b.restart(107.0, worker="w0")
    b.read(200.0, NOT_FOUND, user="dave", scan=DAVE)
    return b


def test_two_and_three_processes_give_the_verdict_of_one_in_the_same_order() -> None:
    history = _many_users().history
    one = Checker().check(history)
    assert len({v.invariant for v in one.violations}) >= 4
    assert any(v.scan_id is None for v in one.violations)
    assert one.lost_by_fault
    for jobs in (2, 3):
        verdict = Checker().check(history, jobs=jobs)
        assert verdict.violations == one.violations
        assert verdict == one


def test_a_part_holds_each_owner_whole_and_part_0_every_operation_naming_no_scan() -> None:
    history = _many_users().history
    plan = [plan_parts(history, 2).part(op) for op in history.ops]
    assert set(plan) == {0, 1}
    by_user: dict[str, set[int]] = {}
    for op, part in zip(history.ops, plan, strict=True):
        owner = "alice" if op.scan_id == SCAN else op.user if op.scan_id is None else None
        if owner is not None:
            by_user.setdefault(owner, set()).add(part)
    assert all(len(parts) == 1 for parts in by_user.values())
    # bob's and carol's errors that name no scan fall in different parts: part 0 judges both.
    errors = [
        part for op, part in zip(history.ops, plan, strict=True) if op.reply.status == "error"
    ]
    assert set(errors) == {0, 1}
    unscoped = [op.index for op in history.ops if op.scan_id is None]
    parts = [part_history(history, plan_parts(history, 2), n).ops for n in (0, 1)]
    assert set(unscoped) <= {op.index for op in parts[0]}
    assert {op.index for op in parts[0]} | {op.index for op in parts[1]} == set(range(len(plan)))


def test_check_jobs_prints_what_one_process_prints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "history.jsonl"
    _many_users().history.write(path)
    assert main(["check", str(path)]) == 1
    one = capsys.readouterr().out
    assert main(["check", str(path), "--jobs", "2"]) == 1
    assert capsys.readouterr().out == one
    assert main(["check", str(path), "--jobs", "0"]) == 2
    assert "--jobs: must be at least 1" in capsys.readouterr().err
