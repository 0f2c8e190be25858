"""The timeline of one run: one lane per worker, every read where and when it happened.

Drawn with matplotlib's object API on the Agg canvas (no pyplot, no global state, no display).
The image is always `WIDTH_PX` x `HEIGHT_PX` pixels so that a report, a pull-request summary
and a test all see the same picture. When a violation happened, the lower panel zooms in on
the first one, so that a gap of seconds in a run of minutes is still visible at a glance.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from harness.checker import Verdict, Violation
from harness.history import History
from harness.report.embed import TIMELINE_FILE
from harness.report.legend import OUTAGE_COLOUR, STATUS_STYLE, alert_label, draw_legend
from harness.report.painter import Painter, workers_of

__all__ = [
    "DPI",
    "HEIGHT_PX",
    "OUTAGE_COLOUR",
    "STATUS_STYLE",
    "WIDTH_PX",
    "Mark",
    "TimelinePlot",
    "render_timeline",
    "workers_of",
    "write_timeline",
]

WIDTH_PX, HEIGHT_PX, DPI = 1600, 900, 100


@dataclass(frozen=True)
class Mark:
    """Where something was drawn, in image pixels (origin top left), for image maps and tests."""

    x: float
    y: float
    label: str


@dataclass
class TimelinePlot:
    """A rendered timeline: the PNG and where its landmarks are in it."""

    png: bytes
    width: int
    height: int
    #: the main panel's time range and pixel box (left, top, right, bottom)
    xlim: tuple[float, float]
    box: tuple[float, float, float, float]
    #: pixel row of each worker's lane in the main panel
    lanes: dict[str, float]
    #: one per violation, in the verdict's order, in the main panel
    violations: list[Mark] = field(default_factory=list)
    #: the same marks in the zoom panel, when there is one
    zoom_violations: list[Mark] = field(default_factory=list)

    def x_of(self, t: float) -> float:
        """The pixel column of scenario time `t` in the main panel."""
        left, _, right, _ = self.box
        lo, hi = self.xlim
        return left + (t - lo) / (hi - lo) * (right - left)


def _zoom_window(painter: Painter, duration: float) -> tuple[float, float, Violation] | None:
    if not painter.verdict.violations:
        return None
    first = painter.verdict.violations[0]
    if first.after_completion is not None and first.after_completion > 0:
        done = first.at - first.after_completion
        gap = first.after_completion
        lo, hi = done - max(6.0, 0.6 * gap), first.at + max(10.0, gap)
    else:
        lo, hi = first.at - 15.0, first.at + 15.0
    return max(0.0, lo), min(max(duration, first.at + 1.0), hi), first


def _title(history: History, verdict: Verdict) -> str:
    info = history.info
    bugs = ", ".join(info.bugs) if info.bugs else "none (fixed service)"
    outcome = "PASS" if verdict.passed else f"FAIL: {len(verdict.violations)} violation(s)"
    return (
        f"{info.scenario}  |  mode {info.mode}  |  seed {info.seed}  |  planted regressions: "
        f"{bugs}  |  {outcome}"
    )


def _marks(fig: Figure, ax: Axes, painter: Painter, violations: Sequence[Violation]) -> list[Mark]:
    marks = []
    lo, hi = ax.get_xlim()
    for number, v in enumerate(violations, start=1):
        if not lo <= v.at <= hi:
            continue
        x, y = ax.transData.transform((v.at, painter.lane_of(v)))
        marks.append(Mark(float(x), float(HEIGHT_PX - y), f"V{number}"))
    return marks


def render_timeline(history: History, verdict: Verdict) -> TimelinePlot:
    """Draw the timeline of `history`, judged by `verdict`; return the PNG and its landmarks."""
    fig = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
    FigureCanvasAgg(fig)
    painter = Painter(history, verdict)
    ends = [op.end for op in history.ops] + [f.end for f in history.faults]
    duration = max([history.info.duration, *ends, 1.0])
    fig.suptitle(_title(history, verdict), fontsize=14, fontweight="bold", y=0.985)
    draw_legend(fig, painter.history, painter.verdict, painter.scans, duration)
    zoom = _zoom_window(painter, duration)
    if zoom is None:
        main = fig.add_axes((0.06, 0.08, 0.92, 0.74))
    else:
        main = fig.add_axes((0.06, 0.47, 0.92, 0.36))
    painter.paint(main, 0.0, duration, zoom=False)
    main.set_xlabel("scenario time (s)", fontsize=11)
    main.set_title("whole run: one lane per worker, each read at its time", fontsize=11, loc="left")
    zoom_ax = None
    if zoom is not None:
        lo, hi, first = zoom
        zoom_ax = fig.add_axes((0.06, 0.07, 0.92, 0.31))
        painter.paint(zoom_ax, lo, hi, zoom=True)
        zoom_ax.set_xlabel("scenario time (s)", fontsize=11)
        title = f"zoom on V1 ({first.invariant}) at {first.at:.1f} s"
        if first.after_completion is not None:
            done = first.at - first.after_completion
            title += f": {first.after_completion:.1f} s after the scan completed at {done:.1f} s"
            y = len(painter.lanes) - 0.62
            zoom_ax.annotate(
                "",
                xy=(first.at, y),
                xytext=(done, y),
                arrowprops={"arrowstyle": "<->", "color": "#8B0000", "linewidth": 2},
                zorder=8,
            )
            alert_label(
                zoom_ax,
                f"{first.after_completion:.1f} s",
                ((done + first.at) / 2, y + 0.04),
                13,
                {"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85},
                ha="center",
                va="bottom",
                zorder=8,
            )
        zoom_ax.set_title(title, fontsize=11, loc="left", color="#8B0000")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    x0, y0, x1, y1 = main.get_window_extent().extents
    plot = TimelinePlot(
        png=buffer.getvalue(),
        width=WIDTH_PX,
        height=HEIGHT_PX,
        xlim=(0.0, duration),
        box=(float(x0), float(HEIGHT_PX - y1), float(x1), float(HEIGHT_PX - y0)),
        lanes={
            n: float(HEIGHT_PX - main.transData.transform((0.0, painter.y[n]))[1])
            for n in painter.lanes
        },
        violations=_marks(fig, main, painter, verdict.violations),
        zoom_violations=(
            _marks(fig, zoom_ax, painter, verdict.violations) if zoom_ax is not None else []
        ),
    )
    return plot


def write_timeline(out: Path, history: History, verdict: Verdict) -> TimelinePlot:
    """Render the timeline into `out/timeline.png`."""
    plot = render_timeline(history, verdict)
    (out / TIMELINE_FILE).write_bytes(plot.png)
    return plot
