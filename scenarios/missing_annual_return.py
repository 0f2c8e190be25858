"""The database has no `annual_return` column at all (the second incident).

Two users scan against a database created without the optional column. The fixed service
selects only the columns that exist: scans complete, with `annual_return` null in every
opportunity, and no request fails. (`missing-annual-return-mid-scan` drops it under a running
scan instead.)
"""

from harness.scenario import Latest, Poll, Scenario, Start

SCENARIO = Scenario(
    name="missing-annual-return",
    description="annual_return missing from the start: scans complete with the field null",
    workers=3,
    duration=90.0,
    missing_columns=("annual_return",),
    steps=(
        Start(at=0.0, user="alice", scan="s1"),
        Start(at=5.0, user="bob", scan="s2"),
        Poll(scan="s1", start=1.0, until=90.0, every=1.0),
        Poll(scan="s2", start=6.0, until=90.0, every=1.0),
        Latest(user="alice", start=2.0, until=90.0, every=5.0),
    ),
    catches=("select-all-columns",),
)
