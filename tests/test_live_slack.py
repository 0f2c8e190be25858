"""The live slack is measured from the run's own history: latency, clock skew, a timer floor."""

from __future__ import annotations

import pytest

from harness.live.slack import TIMER_FLOOR, measure, with_measured_slack
from reference_impl import Reply
from tests.histories import Builder, complete, scanning


def test_slack_is_the_floor_plus_twice_the_read_latency_plus_the_skew() -> None:
    b = Builder().start(
        1.0, 28.0, Reply("complete", done=14, total=14, started_at=0.5, finished_at=28.4)
    )
    for t in range(30, 130):
        b.read(float(t), complete(28.0), end=t + 0.1)
    b.read(200.0, scanning(3), end=203.0)  # one slow read: past the 99th percentile
    parts = measure(b.history, scale=0.05)
    assert parts.latency_p99 == pytest.approx(0.1)
    # began 0.5 s before the request was sent, finished 0.4 s after the answer came
    assert parts.clock_skew == pytest.approx(0.5)
    assert parts.floor == pytest.approx(TIMER_FLOOR / 0.05)
    history = with_measured_slack(b.history, scale=0.05)
    assert history.info.timing.slack == pytest.approx(parts.floor + 0.2 + 0.5)
    assert "read latency p99 0.10 s" in parts.describe()


def test_a_dropped_read_is_not_a_latency() -> None:
    b = Builder().read(10.0, Reply("lost"), end=40.0).read(50.0, scanning(1), end=50.2)
    assert measure(b.history, scale=1.0).latency_p99 == pytest.approx(0.2)
