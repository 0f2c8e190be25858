"""Every worker is restarted after a scan completed; the result is still served from Redis.

A rolling restart (as a deploy or `--max-requests` does): workers 0, 1 and 2 are killed and
respawned one after another once the scan is complete, and again later, so for most of the TTL
no worker holds the result or its lookup in memory. Every answer has to come from Redis.
"""

from harness.scenario import Latest, Poll, RestartWorker, Scenario, Start

SCENARIO = Scenario(
    name="worker-restart-after-complete",
    description="every worker restarted after completion: the result is still served from Redis",
    workers=3,
    duration=330.0,
    steps=(
        Start(at=0.0, user="alice", scan="s1"),
        Poll(scan="s1", start=1.0, until=180.0, every=1.0, fanout=2),
        Poll(scan="s1", start=182.0, until=325.0, every=3.0, fanout=2),
        Latest(user="alice", start=2.0, until=325.0, every=7.0),
    ),
    faults=(
        RestartWorker(at=35.0, worker=0),
        RestartWorker(at=37.0, worker=1),
        RestartWorker(at=39.0, worker=2),
        RestartWorker(at=150.0, worker=2),
        RestartWorker(at=152.0, worker=1),
        RestartWorker(at=154.0, worker=0),
    ),
    catches=("no-redis-fallback", "lookup-memory-only"),
)
