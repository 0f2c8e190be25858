"""Defects of the fixed service the harness has found and that are not fixed yet.

Each test states what the service should do; it is expected to fail (strictly: once the service
is fixed the test passes, the run goes red, and the test and `docs/explorer.md` must be updated).
"""

from __future__ import annotations

import pytest

from harness.runner import simulate
from harness.scenario import Poll, RedisOutage, RestartWorker, Scenario, Start
from reference_impl import StrategyProfile

#: the case `docs/explorer.md` shows as a script
HEAL_RESTART = Scenario(
    name="heal-restart",
    description="a result told complete in an outage survives a restart at the heal",
    workers=3,
    duration=60.0,
    steps=(
        Start(at=0.0, user="alice", scan="s1"),
        Poll(scan="s1", start=41.5, until=45.5, every=1.0, fanout=3),
    ),
    faults=(RedisOutage(at=1.0, duration=40.0), RestartWorker(at=41.0, idle=True)),
    profile=StrategyProfile(seconds=2.0),
)


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="a worker started as Redis heals marks a scan completed during the outage failed",
)
def test_a_result_told_complete_during_an_outage_survives_a_worker_started_at_the_heal() -> None:
    result = simulate(HEAL_RESTART, seed=0)
    start = next(op for op in result.history.ops if op.op == "start")
    assert start.reply.status == "complete"  # the client was told so during the outage
    # what is red today, and nothing else
    assert result.verdict.violated() <= {"terminal-is-final"}
    assert result.verdict.violated() == set()
