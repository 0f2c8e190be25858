"""Load statistics come from the history's start and end times alone."""

from __future__ import annotations

import io
import math

from PIL import Image

from harness.history import History, RunInfo
from harness.report.loadplot import (
    LOAD_HEIGHT_PX,
    LOAD_WIDTH_PX,
    is_load_run,
    load_stats,
    render_load,
)
from reference_impl import Reply


def _history() -> History:
    """60 s, 10 answers a second; latency 10 ms, 100 ms during an outage at 20-30 s; 404s late."""
    history = History(RunInfo("load", mode="load", duration=60.0))
    for i in range(600):
        t = i / 10
        slow = 20.0 <= t < 30.0
        status = "unavailable" if slow else ("not_found" if t >= 50.0 else "complete")
        history.record(
            "status",
            user=f"u{i % 7}",
            worker=f"w{i % 3}",
            start=t,
            end=t + (0.1 if slow else 0.01),
            reply=Reply(status),
        )
    history.fault("redis-outage", 20.0, 30.0)
    return history


def test_counts_throughput_and_latency() -> None:
    stats = load_stats(_history())
    assert stats.total == 600
    assert stats.counts == {"complete": 400, "unavailable": 100, "not_found": 100}
    assert stats.bin_width == 0.5
    answered = sum(sum(series) for series in stats.throughput.values()) * stats.bin_width
    assert math.isclose(answered, 600)
    # 10 answers a second in the steady middle of the run, all of them complete
    middle = stats.edges.index(10.0)
    assert stats.throughput["complete"][middle] == 10.0
    assert math.isclose(stats.p50_ms[middle], 10.0)
    during = stats.edges.index(25.0)
    assert math.isclose(stats.p95_ms[during], 100.0)
    assert stats.throughput["not_found"][stats.edges.index(55.0)] == 10.0
    assert math.isclose(stats.overall_p50_ms, 10.0)
    assert math.isclose(stats.overall_p99_ms, 100.0)


def test_empty_history() -> None:
    stats = load_stats(History(RunInfo("none", mode="load")))
    assert stats.total == 0 and stats.edges == []


def test_figure_size_and_mode() -> None:
    history = _history()
    image = Image.open(io.BytesIO(render_load(history)))
    assert image.size == (LOAD_WIDTH_PX, LOAD_HEIGHT_PX)
    assert is_load_run(history)
    assert not is_load_run(History(RunInfo("sim")))
