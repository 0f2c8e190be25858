"""Redis is down when a scan completes: the final write must reach Redis once it is back.

The outage runs from 20 s to 50 s; the scan (about 28 s) completes inside it, so its final
write fails. The worker keeps the result and writes it again once Redis answers. After the
outage every worker, and every freshly asked one, serves the final result until its TTL; while
Redis is down the others answer 503, never 404 nor 500.
"""

from harness.scenario import Latest, Poll, RedisOutage, Scenario, Start

SCENARIO = Scenario(
    name="redis-outage-at-completion",
    description="Redis down at completion: 503 while down, the final result reaches Redis after",
    workers=3,
    duration=200.0,
    steps=(
        Start(at=0.0, user="alice", scan="s1"),
        Poll(scan="s1", start=1.0, until=200.0, every=1.0, fanout=3),
        Latest(user="alice", start=2.0, until=200.0, every=4.0),
    ),
    faults=(RedisOutage(at=20.0, duration=30.0),),
    catches=("redis-errors-raise", "lost-write-after-outage"),
)
