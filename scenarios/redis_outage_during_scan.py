"""Redis is down for 12 s while a scan runs.

The running worker keeps going and defers its writes; the other workers cannot tell the scan's
state and must answer `unavailable` (503), never `not_found` and never 500. A second user tries
to start a scan during the outage and is refused with 503. Once Redis is back, the deferred
progress reaches it and every worker serves the final result.
"""

from harness.scenario import Latest, Poll, RedisOutage, Scenario, Start

SCENARIO = Scenario(
    name="redis-outage-during-scan",
    description="Redis down mid-scan: 503 not 404 or 500 while down, the final result after",
    workers=3,
    duration=150.0,
    steps=(
        Start(at=0.0, user="alice", scan="s1"),
        Start(at=14.0, user="bob", scan="s2"),
        Poll(scan="s1", start=1.0, until=150.0, every=1.0, fanout=2),
        Latest(user="alice", start=2.0, until=150.0, every=3.0),
        Latest(user="bob", start=15.0, until=150.0, every=5.0),
    ),
    faults=(RedisOutage(at=8.0, duration=12.0),),
    catches=("redis-errors-raise",),
)
