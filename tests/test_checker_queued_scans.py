"""A start request queued behind another scan on a busy worker: the scan's budget and the
worker timeout run from when the worker took it, not from when the client sent it."""

from __future__ import annotations

from dataclasses import replace

from harness.runner import simulate
from harness.scenario import Latest, Poll, RestartWorker, Scenario, Start
from reference_impl import StrategyProfile

# Strategies of 12 s outrun the 150 s budget: each scan ends partial after about 150 s. Four
# scans on three workers: the fourth waits about 150 s in the queue before it begins.
QUEUED = Scenario(
    name="queued",
    description="more scans than workers, each using its whole budget",
    duration=400.0,
    steps=(
        Start(at=0.0, user="alice", scan="s1", worker=0),
        Start(at=0.0, user="bob", scan="s2", worker=1),
        Start(at=0.0, user="carol", scan="s3", worker=2),
        Start(at=0.0, user="dave", scan="s4", worker=0),
        Poll(scan="s4", start=1.0, until=399.0, every=10.0),
        Latest(user="dave", start=1.0, until=399.0, every=10.0),
    ),
    profile=StrategyProfile(seconds=12.0),
)


def test_a_queued_scan_is_judged_from_when_it_began() -> None:
    result = simulate(QUEUED)
    starts = {op.label: op for op in result.history.ops if op.op == "start"}
    queued = starts["s4"]
    assert queued.reply.status == "partial"
    assert queued.reply.started_at is not None and queued.reply.started_at > 140.0
    assert (
        queued.end - queued.start > 180.0
    )  # longer than the worker timeout, counted by the client
    assert result.verdict.passed, result.verdict.violations


def test_a_queued_scan_that_outruns_the_timeout_is_still_caught() -> None:
    # The last strategy hangs: the fixed service saves each scan partial when its budget ends;
    # under the regression the budget outlasts the worker timeout.
    hanging = replace(QUEUED, profile=StrategyProfile(hang=frozenset({13})))
    assert simulate(hanging).verdict.passed
    result = simulate(hanging, bugs=("budget-over-timeout",))
    queued = next(op for op in result.history.ops if op.op == "start" and op.label == "s4")
    assert queued.reply.status == "error"
    flagged = {
        v.scan_id for v in result.verdict.violations if v.invariant == "saved-before-timeout"
    }
    assert queued.scan_id in flagged


def test_a_worker_restarted_by_a_fault_was_not_killed_by_the_timeout() -> None:
    # The fourth scan begins at about 150 s; its worker is restarted 185 s after the request
    # was sent but only about 35 s into the scan.
    scenario = Scenario(
        name="queued-restart",
        description="a queued scan's worker restarted",
        duration=400.0,
        steps=QUEUED.steps,
        faults=(RestartWorker(at=185.0, worker=0),),
        profile=QUEUED.profile,
    )
    result = simulate(scenario)
    lost = next(op for op in result.history.ops if op.op == "start" and op.label == "s4")
    assert lost.reply.status == "lost"
    assert "saved-before-timeout" not in result.verdict.violated()
    assert result.verdict.passed, result.verdict.violations


def test_an_orphaned_queued_scan_still_fails_terminates() -> None:
    scenario = Scenario(
        name="queued-orphan",
        description="a queued scan's worker restarted under orphaned-scan",
        duration=400.0,
        steps=QUEUED.steps,
        faults=(RestartWorker(at=185.0, worker=0),),
        profile=QUEUED.profile,
    )
    result = simulate(scenario, bugs=("orphaned-scan",))
    assert "terminates" in result.verdict.violated()
