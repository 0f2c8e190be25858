"""Two workers decide a scan's end: the stall judgement races the scan's own late writes.

A scan runs while Redis goes away for 40 s, longer than the stall timeout. As Redis comes back,
an idle worker is restarted (as an orchestrator restarts workers whose health checks failed), so
it has seen no outage. Asked about the scan at once, the fresh worker finds the last heartbeat in
Redis 40 s old, judges the scan's worker dead and records `failed` (worker lost). That worker is
alive, though: its cleanup repairs the writes it deferred and its strategies go on. The fixed
service writes with compare-and-set: a terminal entry in Redis is never overwritten, so the
scan's worker sees the verdict and stops, and every reply keeps saying `failed`. Under
`terminal-overwrite` its late writes land on top: clients see `failed`, then `scanning`, then
`complete`.
"""

from harness.scenario import Poll, RedisOutage, RestartWorker, Scenario, Start
from reference_impl import StrategyProfile

SCENARIO = Scenario(
    name="stall-race",
    description="a stalled scan marked failed by one worker is never overwritten by another",
    workers=3,
    duration=200.0,
    steps=(
        Start(at=0.0, user="alice", scan="s1"),
        Poll(scan="s1", start=1.0, until=19.0, every=3.0),
        # One request to each free worker: the restarted one is among them.
        Poll(scan="s1", start=60.001, until=60.001, fanout=2),
        Poll(scan="s1", start=61.0, until=200.0, every=1.0, fanout=2),
    ),
    faults=(
        RedisOutage(at=20.0, duration=40.0),
        RestartWorker(at=60.0, idle=True),
    ),
    profile=StrategyProfile(seconds=8.0),
    catches=("terminal-overwrite",),
)
