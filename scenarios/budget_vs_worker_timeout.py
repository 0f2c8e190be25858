"""Strategies that hang: the scan is saved `partial` before the worker timeout kills it.

The scan's sixth strategy never returns (an upstream call that hangs). The scan budget (150 s)
is shorter than the Gunicorn worker timeout (180 s), so the scan gives up on the strategy at
the budget and saves a `partial` result with what it has; the start request returns before the
master would kill the worker. A second scan, by another user, hangs on its last strategy.
"""

from harness.scenario import Latest, Poll, Scenario, Start
from reference_impl import StrategyProfile

SCENARIO = Scenario(
    name="budget-vs-worker-timeout",
    description="hanging strategies: the scan is saved partial before the worker timeout",
    workers=3,
    duration=260.0,
    profile=StrategyProfile(hang=frozenset({5, 13})),
    steps=(
        Start(at=0.0, user="alice", scan="s1"),
        Start(at=20.0, user="bob", scan="s2"),
        Poll(scan="s1", start=1.0, until=260.0, every=2.0, fanout=2),
        Poll(scan="s2", start=21.0, until=260.0, every=2.0),
        Latest(user="alice", start=2.0, until=260.0, every=10.0),
    ),
    catches=("budget-over-timeout", "complete-on-budget"),
)
