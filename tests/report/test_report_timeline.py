"""The timeline image: its size, and that it shows what happened where it happened.

The pixel checks read the PNG back (Pillow) and use the landmarks the renderer reports (the main
panel's box and time range, each lane's row), so they test the picture a reviewer sees.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from harness.checker import Checker
from harness.checker.model import Context
from harness.history import History, RunInfo
from harness.report.rundir import RunRecord
from harness.report.timeline import (
    HEIGHT_PX,
    OUTAGE_COLOUR,
    STATUS_STYLE,
    WIDTH_PX,
    TimelinePlot,
    render_timeline,
    workers_of,
)
from harness.runner import simulate
from harness.scenario import DropColumn, Poll, RedisOutage, RestartWorker, Scenario, Start
from reference_impl import Reply


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    value = hex_colour.lstrip("#")
    return (int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16))


def _close(a: tuple[int, ...], b: tuple[int, ...], tolerance: int = 10) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=False))


def _image(plot: TimelinePlot) -> Image.Image:
    return Image.open(io.BytesIO(plot.png)).convert("RGB")


def _columns_of(plot: TimelinePlot, lane: str, colour: str) -> list[int]:
    """Pixel columns in the main panel where `colour` appears on `lane`'s row."""
    pixels = np.asarray(_image(plot), dtype=int)
    left, _, right, _ = plot.box
    row = round(plot.lanes[lane])
    band = pixels[row - 2 : row + 3, int(left) + 1 : int(right)]
    hit = (np.abs(band - np.array(_rgb(colour))) <= 10).all(axis=2).any(axis=0)
    return [int(left) + 1 + int(x) for x in np.flatnonzero(hit)]


def _time_of(plot: TimelinePlot, x: float) -> float:
    left, _, right, _ = plot.box
    lo, hi = plot.xlim
    return lo + (x - left) / (right - left) * (hi - lo)


def test_image_has_the_documented_size_and_is_not_blank(incident: RunRecord) -> None:
    plot = render_timeline(incident.history, incident.verdict)
    image = _image(plot)
    assert image.size == (WIDTH_PX, HEIGHT_PX) == (plot.width, plot.height)
    colours = image.getcolors(maxcolors=1 << 24)
    assert colours is not None and len(colours) > 50  # drawn, not a blank canvas


def test_incident_404s_start_about_12_s_after_completion_on_every_worker(
    incident: RunRecord,
) -> None:
    plot = render_timeline(incident.history, incident.verdict)
    (scan,) = Context(incident.history).scans.values()
    done = scan.completion()
    assert done is not None
    red = STATUS_STYLE["not_found"][0]
    assert set(plot.lanes) == {"w0", "w1", "w2"}
    for lane in plot.lanes:
        columns = _columns_of(plot, lane, red)
        assert columns, f"no not_found on {lane}"
        first = _time_of(plot, min(columns))
        # a dot is a few pixels wide: allow its radius (about 1 s at this scale)
        assert 10.0 <= first - done <= 13.0, (lane, first, done)
        assert _time_of(plot, max(columns)) > 350.0  # and they go on to the end
    # the zoom panel marks the violation, and it sits right of where it sits in the whole run
    assert [m.label for m in plot.violations] == ["V1"]
    assert [m.label for m in plot.zoom_violations] == ["V1"]
    assert abs(_time_of(plot, plot.violations[0].x) - 40.0) < 1.0


def test_fixed_service_shows_no_404_before_the_ttl_and_no_zoom(fixed: RunRecord) -> None:
    plot = render_timeline(fixed.history, fixed.verdict)
    (scan,) = Context(fixed.history).scans.values()
    done = scan.completion()
    assert done is not None
    red = STATUS_STYLE["not_found"][0]
    for lane in plot.lanes:
        columns = _columns_of(plot, lane, red)
        assert columns and _time_of(plot, min(columns)) >= done + 300.0 - 1.0
    assert plot.violations == [] and plot.zoom_violations == []
    # one panel: the main panel takes most of the height
    assert plot.box[3] - plot.box[1] > HEIGHT_PX / 2


def test_faults_are_drawn_where_and_when_they_struck() -> None:
    scenario = Scenario(
        name="faults",
        description="an outage, a restart and a dropped column",
        duration=150.0,
        steps=(
            Start(at=0.0, user="alice", scan="s1", worker=0),
            Poll(scan="s1", start=1.0, until=150.0, every=1.0, fanout=2),
        ),
        faults=(
            RedisOutage(at=50.0, duration=20.0),
            RestartWorker(at=100.0, worker=1),
            DropColumn(at=120.0),
        ),
    )
    result = simulate(scenario)
    plot = render_timeline(result.history, result.verdict)
    image = _image(plot)
    # between lanes w0 and w1: background only, so the shading shows through
    gap = round((plot.lanes["w0"] + plot.lanes["w1"]) / 2) + 5
    shaded = tuple(round(0.45 * c + 0.55 * 255) for c in _rgb(OUTAGE_COLOUR))
    assert _close(image.getpixel((round(plot.x_of(57.0)), gap)), shaded)
    assert not _close(image.getpixel((round(plot.x_of(40.0)), gap)), shaded)
    assert not _close(image.getpixel((round(plot.x_of(80.0)), gap)), shaded)
    # the restart is a dark tick on w1's lane only
    below = 22
    x = round(plot.x_of(100.0))
    dark = [
        min(image.getpixel((x + dx, round(plot.lanes[lane]) + below)))  # type: ignore[arg-type]
        for lane in ("w0", "w1")
        for dx in (-1, 0, 1)
    ]
    assert min(dark[3:]) < 80  # w1
    assert min(dark[:3]) > 150  # w0


def test_workers_sort_naturally_and_include_fault_targets() -> None:
    history = History(RunInfo("x", workers=2))
    for name in ("w10", "w2"):
        history.record("status", user="u", worker=name, start=1.0, end=1.0, reply=Reply("complete"))
    history.fault("worker-restart", 5.0, 5.0, "w1")
    assert workers_of(history) == ["w1", "w2", "w10"]
    assert workers_of(History(RunInfo("empty", workers=2))) == ["w0", "w1"]


def test_rendering_is_deterministic(incident: RunRecord) -> None:
    first = render_timeline(incident.history, incident.verdict).png
    assert render_timeline(incident.history, incident.verdict).png == first


def test_empty_history_still_renders() -> None:
    history = History(RunInfo("empty", duration=10.0))
    plot = render_timeline(history, Checker().check(history))
    assert _image(plot).size == (WIDTH_PX, HEIGHT_PX)
