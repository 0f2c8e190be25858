"""`annual_return` is dropped from the database while a scan is running.

A migration gone wrong drops the optional column at 9 s, half-way through `s1`; `s2` starts
after the drop. Each worker had already looked at the table's columns, so the next query it
builds names a column that no longer exists. The fixed service notices, looks again once and
reads the column as null: both scans complete, and no request fails.
"""

from harness.scenario import DropColumn, Latest, Poll, Scenario, Start

SCENARIO = Scenario(
    name="missing-annual-return-mid-scan",
    description="annual_return dropped mid-scan: the scan completes with the field null",
    workers=3,
    duration=90.0,
    steps=(
        Start(at=0.0, user="alice", scan="s1"),
        Start(at=12.0, user="bob", scan="s2"),
        Poll(scan="s1", start=1.0, until=90.0, every=1.0),
        Poll(scan="s2", start=13.0, until=90.0, every=1.0),
        Latest(user="bob", start=13.0, until=90.0, every=5.0),
    ),
    faults=(DropColumn(at=9.0, column="annual_return"),),
    catches=("select-all-columns",),
)
