"""A Redis failover after a scan completed, with the replica behind: the result must survive.

The replica stops receiving writes at 0.5 s (paused), before the scan starts; the scan (about
28 s) completes while the primary alone holds it. The owner polls until 32 s and comes back
at 51 s, so no worker still holds a copy read for it (memory keeps one 10 s). The primary dies
at 50 s, the replica is resumed at 52 s, promoted at 55 s with none of the scan's keys, and the
old primary rejoins as its replica at 60 s. A service that counts its terminal write saved only
once a replica acknowledged it (`WAIT`) still holds it as pending and writes it to the new
primary; one that trusts the primary's answer (`no-replica-ack`) has forgotten it, and every
worker answers 404 until the TTL. `unavailable` is tolerated during the failover window only.
"""

from harness.scenario import Latest, Poll, RedisFailover, ReplicaLag, Scenario, Start

SCENARIO = Scenario(
    name="failover-after-completion",
    description="the primary dies after completion with the replica behind: the result survives",
    workers=3,
    duration=340.0,
    steps=(
        Start(at=1.0, user="alice", scan="s1"),
        Poll(scan="s1", start=2.0, until=32.0, every=1.0, fanout=3),
        Poll(scan="s1", start=51.0, until=340.0, every=1.0, fanout=3),
        Latest(user="alice", start=3.0, until=31.0, every=4.0),
        Latest(user="alice", start=51.0, until=340.0, every=4.0),
    ),
    faults=(
        ReplicaLag(at=0.5, duration=51.5),
        RedisFailover(at=50.0, promote_after=5.0, rejoin_after=10.0),
    ),
    catches=("no-replica-ack",),
)
