"""Reads of one running scan through different workers never go backwards in progress.

Five workers, two running scans; the owners poll every half second through the balancer, so
consecutive reads land on different workers, each of which may hold an older copy restored
into its memory a few seconds earlier. Redis always has the newest progress: a worker must not
serve its memory copy of a `scanning` entry over it.
"""

from harness.scenario import Poll, Scenario, Start

SCENARIO = Scenario(
    name="stale-progress",
    description="reads of a running scan through different workers never go backwards",
    workers=5,
    duration=80.0,
    steps=(
        Start(at=0.0, user="alice", scan="s1"),
        Start(at=3.0, user="bob", scan="s2"),
        Poll(scan="s1", start=0.5, until=80.0, every=0.5),
        Poll(scan="s2", start=3.5, until=80.0, every=0.5),
    ),
    catches=("stale-memory-first",),
)
