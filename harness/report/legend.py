"""The timeline's colours and marks, and the legend that explains them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from harness.checker import Verdict
from harness.checker.model import ScanFacts
from harness.history import History

__all__ = [
    "ALERT",
    "EXPIRED_COLOUR",
    "MAX_SCAN_LINES",
    "OP_MARKER",
    "OUTAGE_COLOUR",
    "STATUS_STYLE",
    "alert_label",
    "draw_legend",
]

#: the colour of what went wrong
ALERT = "#8B0000"

#: reply status -> (colour, legend label); colour-blind-safe hues, alarming ones warm
STATUS_STYLE: dict[str, tuple[str, str]] = {
    "scanning": ("#56B4E9", "scanning (HTTP 202)"),
    "complete": ("#009E73", "complete (HTTP 200)"),
    "partial": ("#8DB33A", "partial (HTTP 200)"),
    "failed": ("#8C564B", "failed (HTTP 200)"),
    "not_found": ("#D62728", "not_found (HTTP 404)"),
    "unavailable": ("#E69F00", "unavailable (HTTP 503)"),
    "bad_request": ("#999999", "bad_request (HTTP 400)"),
    "error": ("#9B30C8", "error (HTTP 500)"),
    "lost": ("#000000", "lost (no response)"),
}
OP_MARKER = {"status": "o", "latest": "s"}
OUTAGE_COLOUR = "#F4A6A6"
EXPIRED_COLOUR = "#EEEEEE"
#: above this many scans, per-scan lines would hide the reads: scans get lane marks only
MAX_SCAN_LINES = 4


def _point(marker: str, label: str, size: float, face: str) -> Line2D:
    """A legend entry that is a marker alone, black-edged."""
    return Line2D(
        [],
        [],
        marker=marker,
        linestyle="",
        markersize=size,
        markerfacecolor=face,
        markeredgecolor="#000000",
        label=label,
    )


def draw_legend(
    fig: Figure,
    history: History,
    verdict: Verdict,
    scans: Sequence[ScanFacts],
    duration: float,
) -> None:
    """Two rows: what came back (the colours), then what the lines and marks mean."""
    seen = {op.reply.status for op in history.ops if op.op != "start"}
    answers: list[Line2D | Patch] = [
        Line2D([], [], marker="o", linestyle="", color=colour, markersize=9, label=label)
        for status, (colour, label) in STATUS_STYLE.items()
        if status in seen
    ]
    if any(op.op == "latest" for op in history.ops):
        answers.append(
            Line2D([], [], marker="s", linestyle="", color="#777777", label="square: latest")
        )
    marks: list[Line2D | Patch] = [
        Patch(color="#009E73", alpha=0.35, label="scan running (start call)"),
    ]
    lines = len(scans) <= MAX_SCAN_LINES
    marks.append(
        Line2D([], [], color="#009E73", linestyle="--", label="scan complete")
        if lines
        else Line2D([], [], marker="D", linestyle="", color="#009E73", label="scan complete")
    )
    ttl = history.info.timing.result_ttl
    done = [s.completion() for s in scans]
    if any(d is not None and d + ttl <= duration for d in done):
        marks.append(
            Line2D([], [], color="#555555", linestyle=":", label="TTL expiry")
            if lines
            else Line2D([], [], marker="|", linestyle="", color="#555555", label="TTL expiry")
        )
        if len(scans) == 1:
            marks.append(
                Patch(
                    facecolor=EXPIRED_COLOUR,
                    edgecolor="#DDDDDD",
                    hatch="//",
                    label="past TTL: 404 expected",
                )
            )
    kinds = {f.fault for f in history.faults}
    if "redis-outage" in kinds:
        marks.append(Patch(color=OUTAGE_COLOUR, alpha=0.45, label="Redis outage"))
    if "redis-failover" in kinds:
        marks.append(Patch(color=OUTAGE_COLOUR, alpha=0.45, hatch="xx", label="Redis failover"))
    if "replica-lag" in kinds:
        marks.append(Patch(color="#F2D7A6", alpha=0.35, label="Redis replica behind"))
    if "worker-restart" in kinds:
        marks.append(
            Line2D([], [], marker="X", linestyle="", color="#222222", label="worker restart")
        )
    if "worker-timeout" in kinds:
        marks.append(
            Line2D([], [], marker="v", linestyle="", color="#222222", label="worker timeout kill")
        )
    if "drop-column" in kinds:
        marks.append(Line2D([], [], color="#555555", linestyle="-.", label="column dropped"))
    if verdict.violations:
        marks.append(_point("*", "violation", 14, "#D62728"))
        marks.append(_point("o", "evidence", 9, "none"))
    for handles, y in ((answers, 0.952), (marks, 0.918)):
        if handles:
            fig.legend(
                handles=handles,
                loc="upper center",
                bbox_to_anchor=(0.5, y),
                ncol=len(handles),
                frameon=False,
                fontsize=11,
                handletextpad=0.3,
                columnspacing=1.4,
            )


def alert_label(
    ax: Axes,
    text: str,
    xy: tuple[float, float],
    size: float,
    box: dict[str, Any],
    **placement: Any,
) -> None:
    """A bold dark-red label in a box: what the eye should go to first."""
    ax.annotate(text, xy, fontsize=size, fontweight="bold", color=ALERT, bbox=box, **placement)
