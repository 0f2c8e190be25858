"""A user scans again: `latest` must follow the newest scan, not the one before it.

Alice starts a scan and, once it has finished, starts a second one;
her client finds each through `latest` and polls it. The fixed service moves the latest-scan
pointer to every scan it registers. Under `latest-set-once` the pointer is only set when
absent, so `latest` keeps naming the first scan until it expires, while the second one,
started and finished since, is reachable only by id.
"""

from harness.scenario import Latest, Poll, Scenario, Start

SCENARIO = Scenario(
    name="latest-after-rescan",
    description="after a second scan, latest names the newest scan, not the first one",
    workers=3,
    duration=200.0,
    steps=(
        Start(at=0.0, user="alice", scan="s1"),
        Poll(scan="s1", start=1.0, until=60.0, every=2.0),
        Start(at=60.0, user="alice", scan="s2"),
        Poll(scan="s2", start=61.0, until=200.0, every=2.0),
        Latest(user="alice", start=1.0, until=200.0, every=1.0, fanout=2),
    ),
    catches=("latest-set-once",),
)
