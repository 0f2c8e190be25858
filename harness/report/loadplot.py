"""Load runs: throughput and latency over time with the nemesis windows shaded, outcome counts.

Everything is computed from the history alone (each operation's start, end and reply), so a load
history recorded by Locust users goes through the same code as any other. Times are scenario
seconds, like the rest of the history; latencies are shown in scenario milliseconds.
"""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from harness.history import History
from harness.report.timeline import DPI, OUTAGE_COLOUR, STATUS_STYLE

LOAD_FILE = "load.png"
LOAD_WIDTH_PX, LOAD_HEIGHT_PX = 1600, 800
#: about this many time bins, whatever the run's length
TARGET_BINS = 120


def is_load_run(history: History) -> bool:
    """Load runs get the throughput/latency section (other modes' ops take no time to speak of)."""
    return history.info.mode == "load"


@dataclass
class LoadStats:
    """Per-bin throughput by outcome and latency percentiles, and whole-run counts."""

    bin_width: float
    #: left edge of each bin, scenario seconds
    edges: list[float]
    #: outcome -> operations answered per second in each bin
    throughput: dict[str, list[float]]
    p50_ms: list[float]
    p95_ms: list[float]
    max_ms: list[float]
    counts: Counter[str] = field(default_factory=Counter)
    total: int = 0
    overall_p50_ms: float = 0.0
    overall_p99_ms: float = 0.0
    ops_per_second: float = 0.0


def _bin_width(span: float) -> float:
    raw = max(span / TARGET_BINS, 1e-3)
    for nice in (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600):
        if raw <= nice:
            return float(nice)
    return float(np.ceil(raw / 600) * 600)


def load_stats(history: History) -> LoadStats:
    """Bin the history's operations by the time they were answered."""
    ops = history.ops
    counts: Counter[str] = Counter(op.reply.status for op in ops)
    if not ops:
        return LoadStats(1.0, [], {}, [], [], [], counts)
    ends = np.array([op.end for op in ops])
    latency = np.array([(op.end - op.start) * 1000.0 for op in ops])
    lo = float(min(op.start for op in ops))
    hi = float(max(ends.max(), lo + 1e-3, history.info.duration))
    width = _bin_width(hi - lo)
    count = max(1, int(np.ceil((hi - lo) / width)))
    slot = np.minimum(((ends - lo) / width).astype(int), count - 1)
    statuses = np.array([op.reply.status for op in ops])
    throughput = {
        status: (np.bincount(slot[statuses == status], minlength=count) / width).tolist()
        for status in sorted(counts, key=list(STATUS_STYLE).index)
    }
    p50, p95, peak = [], [], []
    order = np.argsort(slot, kind="stable")
    groups = np.split(latency[order], np.searchsorted(slot[order], np.arange(1, count)))
    for group in groups:
        if group.size:
            p50.append(float(np.percentile(group, 50)))
            p95.append(float(np.percentile(group, 95)))
            peak.append(float(group.max()))
        else:
            p50.append(float("nan"))
            p95.append(float("nan"))
            peak.append(float("nan"))
    return LoadStats(
        bin_width=width,
        edges=[lo + i * width for i in range(count)],
        throughput=throughput,
        p50_ms=p50,
        p95_ms=p95,
        max_ms=peak,
        counts=counts,
        total=len(ops),
        overall_p50_ms=float(np.percentile(latency, 50)),
        overall_p99_ms=float(np.percentile(latency, 99)),
        ops_per_second=len(ops) / max(hi - lo, 1e-9),
    )


def _nemesis(ax: Axes, history: History) -> None:
    for f in history.faults:
        if f.fault == "redis-outage":
            end = max(f.end, f.start + 1e-3)
            ax.axvspan(f.start, end, color=OUTAGE_COLOUR, alpha=0.45, zorder=0)
            # hatched over the data too, so the window shows through a full stack of answers
            ax.axvspan(
                f.start,
                end,
                facecolor="none",
                edgecolor="#C0392B",
                hatch="//",
                linewidth=0,
                alpha=0.6,
                zorder=3,
            )
        else:
            style = "-." if f.fault == "drop-column" else "-"
            ax.axvline(f.start, color="#222222", linestyle=style, linewidth=1.2, zorder=3)


def render_load(history: History, stats: LoadStats | None = None) -> bytes:
    """The load figure as PNG bytes (`LOAD_WIDTH_PX` x `LOAD_HEIGHT_PX`)."""
    stats = stats or load_stats(history)
    fig = Figure(figsize=(LOAD_WIDTH_PX / DPI, LOAD_HEIGHT_PX / DPI), dpi=DPI)
    FigureCanvasAgg(fig)
    fig.suptitle(
        f"{history.info.scenario}: {stats.total} operations, {stats.ops_per_second:.1f} ops/s, "
        f"latency p50 {stats.overall_p50_ms:.1f} ms, p99 {stats.overall_p99_ms:.1f} ms "
        "(scenario time; shaded: Redis outage, lines: worker kills)",
        fontsize=13,
    )
    rate = fig.add_axes((0.06, 0.55, 0.62, 0.36))
    lat = fig.add_axes((0.06, 0.08, 0.62, 0.36), sharex=rate)
    bars = fig.add_axes((0.76, 0.08, 0.22, 0.83))
    centres = [e + stats.bin_width / 2 for e in stats.edges]
    base = np.zeros(len(centres))
    for status, series in stats.throughput.items():
        colour, label = STATUS_STYLE.get(status, ("#777777", status))
        top = base + np.array(series)
        rate.fill_between(
            centres, base, top, step="mid", color=colour, label=label, linewidth=0, zorder=1
        )
        base = top
    if stats.throughput:
        rate.legend(loc="upper left", fontsize=9, ncol=3)
    rate.set_ylabel("answers / s, by outcome")
    rate.set_title(f"throughput ({stats.bin_width:g} s bins)", loc="left", fontsize=11)
    lat.plot(centres, stats.p50_ms, color="#0072B2", label="p50")
    lat.plot(centres, stats.p95_ms, color="#E69F00", label="p95")
    lat.plot(centres, stats.max_ms, color="#999999", linewidth=0.8, label="max")
    lat.set_ylabel("latency (ms)")
    lat.set_xlabel("scenario time (s)")
    lat.set_title("latency", loc="left", fontsize=11)
    lat.legend(loc="upper left", fontsize=9)
    for ax in (rate, lat):
        _nemesis(ax, history)
        ax.grid(color="#EEEEEE")
        ax.set_axisbelow(True)
    names = [s for s in STATUS_STYLE if s in stats.counts]
    bars.barh(
        names,
        [stats.counts[s] for s in names],
        color=[STATUS_STYLE[s][0] for s in names],
    )
    for y, name in enumerate(names):
        bars.text(stats.counts[name], y, f" {stats.counts[name]}", va="center", fontsize=10)
    bars.invert_yaxis()
    bars.set_title("outcomes", loc="left", fontsize=11)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()
