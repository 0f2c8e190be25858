"""Results answer until their TTL, and `not_found` after it, on every worker.

Two scans, polled by every worker (by id, and through "latest") from start to well past
completion + result TTL + memory TTL. Before the TTL every read returns the result; after it,
every read is `not_found`: no worker keeps a zombie copy in memory.
"""

from harness.scenario import Latest, Poll, Scenario, Start

SCENARIO = Scenario(
    name="ttl-expiry",
    description="results answer until completion + TTL and not_found after it, on every worker",
    workers=3,
    duration=420.0,
    steps=(
        Start(at=0.0, user="alice", scan="s1"),
        Start(at=40.0, user="alice", scan="s2"),
        # Every worker, sparsely through the TTL, densely across each expiry (s1 completes at
        # about 28 s, s2 at about 68 s) and sparsely again once both are gone.
        Poll(scan="s1", start=1.0, until=317.0, every=4.0, fanout=3),
        Poll(scan="s1", start=318.0, until=350.0, every=1.0, fanout=3),
        Poll(scan="s1", start=352.0, until=420.0, every=4.0, fanout=3),
        Poll(scan="s2", start=41.0, until=357.0, every=4.0, fanout=2),
        Poll(scan="s2", start=358.0, until=390.0, every=1.0, fanout=3),
        Poll(scan="s2", start=392.0, until=420.0, every=4.0, fanout=3),
        Latest(user="alice", start=1.0, until=420.0, every=5.0, fanout=2),
    ),
    catches=("cleanup-ignores-redis", "short-lookup-ttl"),
)
