"""Dropped connections: a poll cut off by an injected worker kill is no read of the result.

On real processes a SIGKILLed worker can take a poll in flight with it; the client gets no
answer at all (`lost`). Inside the fault window that is the fault's doing, outside it a defect.
"""

from __future__ import annotations

from harness.checker import Checker
from harness.history import History, RunInfo
from reference_impl import Reply

SCAN = "a" * 32


def _history(lost_at: float, *, restart_at: float | None) -> History:
    history = History(RunInfo("dropped"))
    done = Reply("complete", scan_id=SCAN, owner="alice", done=14, total=14, finished_at=28.0)
    history.record("start", user="alice", worker="1", start=0.0, end=28.0, reply=done)
    history.record("status", user="alice", worker="2", start=40.0, end=40.1, reply=done)
    lost = Reply("lost", scan_id=SCAN, reason="connection dropped: RemoteDisconnected")
    history.record("status", user="alice", worker="?", start=lost_at, end=lost_at + 0.1, reply=lost)
    history.record("status", user="alice", worker="2", start=60.0, end=60.1, reply=done)
    if restart_at is not None:
        history.fault("worker-restart", restart_at, restart_at, "3")
    return history


def test_a_poll_dropped_by_an_injected_kill_is_no_violation() -> None:
    verdict = Checker().check(_history(50.0, restart_at=50.05))
    assert verdict.passed, verdict.violations


def test_a_dropped_poll_outside_any_fault_is_a_violation() -> None:
    for restart_at in (None, 120.0):
        verdict = Checker().check(_history(50.0, restart_at=restart_at))
        assert verdict.violated() == {"no-server-errors", "reachable-until-expiry"}
