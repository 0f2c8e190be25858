"""A scan runs on one worker; every other worker, fresh ones included, serves it for its TTL.

Three workers behind the load balancer. One scan; its owner polls it through the balancer three
requests a round, so every free worker answers, until past its TTL. Workers 1 and 2 are restarted
after completion (a fresh worker has no memory and must find the result through Redis), and the
owner also asks for "latest". Every cross-worker defect of the lookup chain shows up as a 404
from a worker that did not run the scan.
"""

from harness.scenario import Latest, Poll, RestartWorker, Scenario, Start

SCENARIO = Scenario(
    name="cross-worker-retrieval",
    description="a result is served by every worker, freshly started ones too, for its whole TTL",
    workers=3,
    duration=345.0,
    steps=(
        Start(at=0.0, user="alice", scan="s1"),
        # Densely around completion and each restart, sparsely in between, densely at the TTL.
        Poll(scan="s1", start=1.0, until=60.0, every=1.0, fanout=3),
        Poll(scan="s1", start=61.0, until=315.0, every=3.0, fanout=3),
        Poll(scan="s1", start=316.0, until=345.0, every=1.0, fanout=3),
        Latest(user="alice", start=2.0, until=320.0, every=5.0),
    ),
    faults=(
        RestartWorker(at=90.0, worker=1),
        RestartWorker(at=200.0, worker=2),
    ),
    catches=(
        "cleanup-ignores-redis",
        "no-redis-fallback",
        "lookup-memory-only",
        "short-lookup-ttl",
    ),
)
