"""The incident: a scan finished 14/14, and 12 s later every poll answered 404.

Three workers. A scan runs on worker 0; every worker polls it once per second until well past
its result TTL. The fixed service serves the result from any worker until completion + TTL.
Under `cleanup-ignores-redis`, worker 0's cleanup drops its memory copy after the memory TTL,
sees no copy in memory and deletes the Redis lookup, and every worker answers 404.
"""

from harness.scenario import Poll, Scenario, Start

SCENARIO = Scenario(
    name="post-completion-404",
    description="a finished scan stays reachable from every worker until its TTL runs out",
    workers=3,
    duration=360.0,
    steps=(
        Start(at=0.0, user="alice", scan="s1", worker=0),
        Poll(scan="s1", start=1.0, until=360.0, every=1.0, fanout=3),
    ),
    catches=("cleanup-ignores-redis",),
)
