"""Dozens of users scanning at once on eight workers, with faults mixed in.

Thirty users start scans over the first 90 s (a worker running a scan serves nothing else, so
starts and polls queue behind busy workers, as on Gunicorn sync workers). Each owner polls their
scan through the balancer and asks for "latest"; a few users probe others' scan ids. Meanwhile
the worker running one scan dies, Redis goes down twice (once while many scans are running and
completing), `annual_return` is dropped, and workers are restarted after completions. The run
lasts past every result's TTL, so expiry is checked under load too.
"""

from harness.scenario import (
    DropColumn,
    Latest,
    Poll,
    RedisOutage,
    RestartWorker,
    Scenario,
    Start,
    Step,
)

USERS = 30
DURATION = 440.0


def _steps() -> tuple[Step, ...]:
    steps: list[Step] = []
    for i in range(USERS):
        user, scan, at = f"user{i:02d}", f"u{i:02d}", float(3 * i)
        steps.append(Start(at=at, user=user, scan=scan))
        steps.append(Poll(scan=scan, start=at + 1.0 + (i % 3) * 0.3, until=DURATION, every=5.0))
        if i % 4 == 0:
            steps.append(Latest(user=user, start=at + 2.0, until=DURATION, every=10.0))
        if i % 7 == 3:
            # a foreign id, probed while it runs and after
            steps.append(
                Poll(scan=f"u{i - 1:02d}", user=user, start=at + 1.5, until=DURATION, every=9.0)
            )
    return tuple(steps)


SCENARIO = Scenario(
    name="many-users",
    description="thirty concurrent users on eight workers with restarts, outages, a dropped column",
    workers=8,
    duration=DURATION,
    steps=_steps(),
    faults=(
        RestartWorker(at=21.0, scan="u05"),
        DropColumn(at=40.0, column="annual_return"),
        RedisOutage(at=55.0, duration=15.0),
        RestartWorker(at=110.0, worker=3),
        RestartWorker(at=112.0, worker=6),
        RedisOutage(at=150.0, duration=6.0),
        RestartWorker(at=200.0, worker=0),
    ),
    catches=(
        "cleanup-ignores-redis",
        "no-redis-fallback",
        "lookup-memory-only",
        "redis-errors-raise",
        "orphaned-scan",
        "no-user-scope",
        "select-all-columns",
    ),
)
