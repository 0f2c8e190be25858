"""The worker running a scan dies mid-scan; the scan must end `failed`, never hang `scanning`.

Three workers, two scans started together, so they run on two different workers. At 11 s the
worker running `s1` is killed and respawned (its memory, and the scan's generator, are gone).
Nothing will ever write `s1` again: the fixed service reads its stalled heartbeat as `failed`
(worker lost) after the stall timeout. `s2` runs to completion untouched and must stay
reachable. Both owners poll through the balancer until well past the scan budget.
"""

from harness.scenario import Latest, Poll, RestartWorker, Scenario, Start

SCENARIO = Scenario(
    name="worker-restart-mid-scan",
    description="the worker running a scan dies: it ends failed (worker lost), others unharmed",
    workers=3,
    duration=260.0,
    steps=(
        Start(at=0.0, user="alice", scan="s1"),
        Start(at=0.0, user="bob", scan="s2"),
        Poll(scan="s1", start=1.0, until=260.0, every=2.0, fanout=2),
        Poll(scan="s2", start=1.5, until=260.0, every=2.0),
        Latest(user="alice", start=3.0, until=260.0, every=10.0),
    ),
    faults=(RestartWorker(at=11.0, scan="s1"),),
    catches=("orphaned-scan",),
)
