"""`latest` answers the newest of a user's scans Redis still holds (each case found by exploring
the fixed service)."""

from __future__ import annotations

from harness.runner import simulate
from harness.scenario import Latest, Poll, RedisOutage, RestartWorker, Scenario, Start
from reference_impl import StrategyProfile

# Bob's s2 completes at about 28 s and expires at about 328 s; s1, orphaned at 13 s, is judged
# failed later and so expires later. At 330 s his latest is s1, not nothing.
NEWEST_EXPIRES_FIRST = Scenario(
    name="newest-expires-first",
    description="the newest scan expires before an older one that failed later",
    workers=3,
    duration=331.0,
    steps=(
        Start(at=0.0, user="bob", scan="s1"),
        Start(at=0.0, user="bob", scan="s2"),
        Poll(scan="s1", start=13.0, until=17.0),
        Start(at=13.0, user="alice", scan="s3"),
        Start(at=13.0, user="alice", scan="s4"),
        Start(at=13.0, user="alice", scan="s5"),
        Latest(user="bob", start=330.0, until=330.0),
    ),
    faults=(RestartWorker(at=13.0, scan="s1"),),
)

# A scan registered as Redis goes down for 360 s ends (partial, 12 s strategies) in the
# outage; its keys, written once at registration, must outlive the outage.
KEYS_OUTLIVE_AN_OUTAGE = Scenario(
    name="keys-outlive-an-outage",
    description="a scan registered as a 360 s outage begins is found after it",
    workers=3,
    duration=365.5,
    steps=(
        Start(at=0.0, user="alice", scan="s1"),
        Start(at=160.0, user="alice", scan="s2"),
        Poll(scan="s1", start=360.5, until=364.5, fanout=3),
        Latest(user="alice", start=360.5, until=364.5, fanout=3),
    ),
    faults=(RedisOutage(at=0.0, duration=360.0),),
    profile=StrategyProfile(seconds=12.0),
)


def _latest(scenario: Scenario, seed: int) -> list[str | None]:
    result = simulate(scenario, seed=seed)
    assert result.verdict.violated() == set(), result.verdict.violations
    return [op.reply.status for op in result.history.ops if op.op == "latest"]


def test_latest_falls_back_to_an_older_scan_still_stored() -> None:
    assert _latest(NEWEST_EXPIRES_FIRST, seed=2) == ["failed"]


def test_a_scans_keys_outlive_an_outage_that_outlives_their_first_ttl() -> None:
    statuses = _latest(KEYS_OUTLIVE_AN_OUTAGE, seed=0)
    assert statuses and "not_found" not in statuses
