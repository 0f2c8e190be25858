"""Fault windows indexed by time answer what a walk over every window answers."""

from __future__ import annotations

import random

from harness.checker._windows import Windows


def test_meeting_is_the_walk_over_every_window_in_the_order_given() -> None:
    rng = random.Random(7)
    for _ in range(200):
        count = rng.randrange(0, 12)
        begins = [rng.uniform(0, 100) for _ in range(count)]
        ends = [b + rng.choice([0.0, rng.uniform(0, 30)]) for b in begins]
        windows = Windows(list(range(count)), begins, ends)
        for _ in range(20):
            begin = rng.uniform(-10, 130)
            end = begin + rng.choice([0.0, rng.uniform(0, 20)])
            walk = [i for i in range(count) if begins[i] <= end and ends[i] >= begin]
            assert windows.meeting(begin, end) == walk
            assert windows.meets(begin, end) == bool(walk)


def test_a_moment_on_the_edge_of_a_window_meets_it() -> None:
    windows = Windows(["outage"], [10.0], [20.0])
    assert windows.meeting(20.0, 25.0) == ["outage"]
    assert windows.meeting(5.0, 10.0) == ["outage"]
    assert windows.meeting(20.000001, 25.0) == []
