"""How one history is drawn onto a timeline's axes: lanes, faults, scans, reads, violations.

`harness.report.timeline` lays out the figure; a `Painter` draws the whole run into one panel
and the zoom on the first violation into another, from the same history.
"""

from __future__ import annotations

from matplotlib.axes import Axes

from harness.checker import Verdict, Violation
from harness.checker.model import Context, ScanFacts
from harness.history import History
from harness.report.legend import (
    ALERT,
    EXPIRED_COLOUR,
    MAX_SCAN_LINES,
    OP_MARKER,
    OUTAGE_COLOUR,
    STATUS_STYLE,
    alert_label,
)

__all__ = ["WAIT_SHOWN", "Painter", "workers_of"]

#: a read that waited longer than this (a busy worker, a slow Redis) gets a line from ask to answer
WAIT_SHOWN = 0.5


def _worker_key(name: str) -> tuple[int, str]:
    digits = "".join(c for c in name if c.isdigit())
    return (int(digits) if digits else 1 << 30, name)


def workers_of(history: History) -> list[str]:
    """The lanes: every worker that answered or was hit by a fault, in natural order."""
    names = {op.worker for op in history.ops}
    names |= {f.target for f in history.faults if f.target and f.fault.startswith("worker")}
    if not names:
        names = {f"w{i}" for i in range(history.info.workers)}
    return sorted(names, key=_worker_key)


class Painter:
    """Draws one history onto axes; used for the full run and for the zoom panel."""

    def __init__(self, history: History, verdict: Verdict) -> None:
        self.history = history
        self.verdict = verdict
        self.ctx = Context(history)
        self.lanes = workers_of(history)
        count = len(self.lanes)
        self.y = {name: float(count - 1 - i) for i, name in enumerate(self.lanes)}
        self.by_index = {op.index: op for op in history.ops}
        self.scans: list[ScanFacts] = sorted(
            (s for s in self.ctx.scans.values() if s.start_op is not None),
            key=lambda s: (s.sent or 0.0, s.scan_id),
        )
        self.evidence = [
            self.by_index[i] for v in verdict.violations for i in v.evidence if i in self.by_index
        ]

    def lane_of(self, v: Violation) -> float:
        for index in v.evidence:
            op = self.by_index.get(index)
            if op is not None and op.worker in self.y:
                return self.y[op.worker]
        return len(self.lanes) - 0.5

    def paint(self, ax: Axes, lo: float, hi: float, zoom: bool) -> None:
        top = len(self.lanes) - 0.5
        ax.set_xlim(lo, hi)
        ax.set_ylim(-0.5, top + 0.1)
        ax.set_yticks([self.y[n] for n in self.lanes], self.lanes, fontsize=12)
        ax.tick_params(axis="x", labelsize=10)
        for n in self.lanes:
            ax.axhline(self.y[n] - 0.5, color="#DDDDDD", linewidth=0.8, zorder=0)
        ax.grid(axis="x", color="#EEEEEE", linewidth=0.6, zorder=0)
        self._faults(ax, top)
        self._scans(ax, top, zoom)
        self._reads(ax, zoom)
        self._violations(ax, top)

    def _faults(self, ax: Axes, top: float) -> None:
        for f in self.history.faults:
            if f.fault == "redis-outage":
                ax.axvspan(
                    f.start, max(f.end, f.start + 1e-3), color=OUTAGE_COLOUR, alpha=0.45, zorder=0.5
                )
                ax.text(f.start, top, " Redis down", va="bottom", fontsize=9, color="#A01010")
            elif f.fault in ("redis-failover", "replica-lag"):
                failover = f.fault == "redis-failover"
                ax.axvspan(
                    f.start,
                    max(f.end, f.start + 1e-3),
                    color=OUTAGE_COLOUR if failover else "#F2D7A6",
                    alpha=0.45 if failover else 0.35,
                    hatch="xx" if failover else None,
                    zorder=0.5,
                )
                word = " Redis failover" if failover else " replica behind"
                ax.text(f.start, top, word, va="bottom", fontsize=9, color="#A01010")
            elif f.fault == "drop-column":
                ax.axvline(f.start, color="#555555", linestyle="-.", linewidth=1.2, zorder=1)
                ax.text(f.start, top, f" drop {f.target or 'column'}", va="bottom", fontsize=9)
            else:
                y = self.y.get(f.target or "")
                lo, hi = (y - 0.45, y + 0.45) if y is not None else (-0.5, top)
                if f.end > f.start:
                    ax.fill_betweenx([lo, hi], f.start, f.end, color="#BBBBBB", zorder=0.5)
                ax.vlines(f.start, lo, hi, color="#222222", linewidth=2.2, zorder=4)
                marker = "X" if f.fault == "worker-restart" else "v"
                ax.scatter([f.start], [hi - 0.08], marker=marker, s=110, color="#222222", zorder=5)
                word = "restart" if f.fault == "worker-restart" else "timeout kill"
                ax.text(f.start, hi - 0.08, f"  {word}", va="center", fontsize=9, zorder=5)

    def _scans(self, ax: Axes, top: float, zoom: bool) -> None:
        timing = self.history.info.timing
        lines = len(self.scans) <= MAX_SCAN_LINES
        for scan in self.scans:
            start = scan.start_op
            assert start is not None
            y = self.y.get(start.worker, 0.0)
            colour = STATUS_STYLE.get(start.reply.status, ("#777777", ""))[0]
            ax.barh(
                y,
                start.end - start.start,
                left=start.start,
                height=0.34,
                color=colour,
                alpha=0.35,
                edgecolor=colour,
                zorder=1,
            )
            name = scan.label or scan.scan_id[:8]
            ax.scatter([start.start], [y], marker=">", s=70, color="#333333", zorder=3)
            if lines:
                ax.text(start.start, y + 0.2, f" {name} runs", fontsize=9, va="bottom", zorder=3)
            done = scan.completion()
            if done is None:
                continue
            expiry = done + timing.result_ttl
            if lines:
                ax.axvline(done, color="#009E73", linestyle="--", linewidth=1.6, zorder=2)
                ax.text(
                    done,
                    top,
                    f" {name} complete {done:.1f} s",
                    va="bottom",
                    fontsize=9,
                    color="#00704F",
                )
                ax.axvline(expiry, color="#555555", linestyle=":", linewidth=1.6, zorder=2)
                ax.text(expiry, top, f" TTL expiry {expiry:.1f} s", va="bottom", fontsize=9)
                if len(self.scans) == 1 and not zoom:
                    # reads past expiry (+ memory TTL) should be 404: shade so they read as expected
                    ax.axvspan(
                        expiry,
                        expiry + 1e9,
                        facecolor=EXPIRED_COLOUR,
                        zorder=0.2,
                        hatch="//",
                        edgecolor="#DDDDDD",
                        linewidth=0,
                    )
            else:
                ax.scatter([done], [y], marker="D", s=40, color="#009E73", zorder=3)
                ax.scatter([expiry], [y], marker="|", s=120, color="#555555", zorder=3)

    def _reads(self, ax: Axes, zoom: bool) -> None:
        groups: dict[tuple[str, str], tuple[list[float], list[float]]] = {}
        waits: list[tuple[float, float, float]] = []
        for op in self.history.ops:
            if op.op == "start":
                continue
            xs, ys = groups.setdefault((op.reply.status, op.op), ([], []))
            y = self.y[op.worker] - (0.18 if op.op == "latest" else 0.0)
            # a read is drawn when it was answered: what came back is the state at that time
            xs.append(op.end)
            ys.append(y)
            if op.end - op.start > WAIT_SHOWN:
                waits.append((y - 0.07, op.start, op.end))
        if waits:
            ax.hlines(
                [w[0] for w in waits],
                [w[1] for w in waits],
                [w[2] for w in waits],
                color="#888888",
                linewidth=0.6,
                zorder=2,
            )
        size = 36 if zoom else 14
        for (status, kind), (xs, ys) in sorted(groups.items()):
            colour = STATUS_STYLE.get(status, ("#777777", status))[0]
            ax.scatter(
                xs,
                ys,
                s=size,
                color=colour,
                marker=OP_MARKER.get(kind, "o"),
                linewidths=0,
                zorder=3,
                rasterized=False,
            )
        if self.evidence:
            ax.scatter(
                [o.end for o in self.evidence],
                [self.y[o.worker] for o in self.evidence],
                s=size * 3.2,
                facecolors="none",
                edgecolors="#000000",
                linewidths=1.0,
                zorder=4,
            )

    def _violations(self, ax: Axes, top: float) -> None:
        for number, v in enumerate(self.verdict.violations, start=1):
            y = self.lane_of(v)
            ax.scatter(
                [v.at],
                [y],
                marker="*",
                s=420,
                color="#D62728",
                edgecolors="#000000",
                linewidths=1.2,
                zorder=6,
            )
            alert_label(
                ax,
                f"V{number} {v.invariant}",
                (v.at, y),
                10,
                {"boxstyle": "round,pad=0.2", "fc": "white", "ec": ALERT, "alpha": 0.9},
                xytext=(10, 14),
                textcoords="offset points",
                zorder=7,
            )
