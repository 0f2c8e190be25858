"""Another user can never read a scan, by its id or through "latest".

Alice and Bob each run a scan. Each polls their own scan, and also the other's scan by its id
(a leaked or guessed id) through every worker, while it runs and after it completes; Mallory,
who never started a scan, does the same and asks for her "latest". Every foreign read must be
`not_found`.
"""

from harness.scenario import Latest, Poll, Scenario, Start

SCENARIO = Scenario(
    name="user-isolation",
    description="no user reads another user's scan, by id or through latest",
    workers=3,
    duration=120.0,
    steps=(
        Start(at=0.0, user="alice", scan="a1"),
        Start(at=2.0, user="bob", scan="b1"),
        Poll(scan="a1", start=1.0, until=120.0, every=2.0),
        Poll(scan="b1", start=3.0, until=120.0, every=2.0),
        Poll(scan="a1", user="bob", start=1.5, until=120.0, every=2.0, fanout=2),
        Poll(scan="b1", user="alice", start=3.5, until=120.0, every=2.0, fanout=2),
        Poll(scan="a1", user="mallory", start=4.0, until=120.0, every=3.0, fanout=3),
        Latest(user="mallory", start=4.0, until=120.0, every=3.0),
        Latest(user="bob", start=5.0, until=120.0, every=4.0),
    ),
    catches=("no-user-scope",),
)
