"""`report.html`: one self-contained page per run folder (and one for a gate folder).

The page needs nothing but itself: images are inlined as base64 PNG, the CSS is inline, there is
no script. It renders from a `History` and its `Verdict`, so a folder copied from CI renders the
same here (`scanchaos report DIR`). Optional sections appear when their data exists: the kill
matrix (`gate.json`, see `harness.report.matrix`), throughput and latency for load runs
(`harness.report.loadplot`), the explorer's shrunk schedule (`harness.report.schedule`).
"""

from __future__ import annotations

import base64
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from harness.checker import JUDGEMENTS, Verdict, Violation
from harness.history import FaultEvent, History, Operation, RunInfo
from harness.report.embed import REPORT_FILE, TIMELINE_FILE
from harness.report.loadplot import (
    LOAD_HEIGHT_PX,
    LOAD_WIDTH_PX,
    LoadStats,
    is_load_run,
    render_load,
)
from harness.report.loadplot import load_stats as compute_load_stats
from harness.report.matrix import KillMatrix
from harness.report.rundir import RunRecord, read_run, run_folders
from harness.report.schedule import ShrunkSchedule, read_schedule
from harness.report.timeline import (
    STATUS_STYLE,
    Mark,
    TimelinePlot,
    render_timeline,
    workers_of,
)

_ENV = Environment(
    loader=PackageLoader("harness.report", "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters["b64"] = lambda data: base64.b64encode(data).decode("ascii")


@dataclass(frozen=True)
class Swatch:
    status: str
    colour: str
    label: str


@dataclass(frozen=True)
class ViolationView:
    """A violation as the page lists it, numbered; its evidence is linked where the run's history
    holds the operation (`RunView.recorded`)."""

    number: int
    violation: Violation


@dataclass(frozen=True)
class EvidenceRow:
    op: Operation
    colour: str
    #: the violations (by number) this operation witnesses
    violations: tuple[int, ...]


@dataclass(frozen=True)
class LoadView:
    stats: LoadStats
    png: bytes
    counts: tuple[tuple[str, int], ...]
    width: int = LOAD_WIDTH_PX
    height: int = LOAD_HEIGHT_PX


@dataclass
class RunView:
    """Everything the template shows about one run."""

    key: str
    info: RunInfo
    verdict: Verdict
    judgements: tuple[str, ...]
    timeline: TimelinePlot
    workers: list[str]
    op_count: int
    faults: list[FaultEvent]
    violations: list[ViolationView]
    #: the indices of the operations the history holds (evidence links only to those)
    recorded: frozenset[int]
    evidence: list[EvidenceRow]
    statuses: list[Swatch]
    #: (worker, status) -> how often that worker gave that answer, and when first
    answered: Counter[tuple[str, str]]
    first_answered: dict[tuple[str, str], float]
    glance: list[str]
    load: LoadView | None = None
    schedule: ShrunkSchedule | None = None
    #: relative link to the run's own report (in a gate report)
    link: str | None = None
    legend: list[Swatch] = field(default_factory=list)

    @property
    def areas(self) -> list[Mark]:
        return self.timeline.violations + self.timeline.zoom_violations


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "run"


def _swatch(status: str) -> Swatch:
    colour, label = STATUS_STYLE.get(status, ("#777777", status))
    return Swatch(status, colour, label)


def _glance(history: History, verdict: Verdict, by_index: dict[int, Operation]) -> list[str]:
    if verdict.passed:
        checked = sum(1 for r in verdict.results if r.checked)
        return [
            f"All {checked} checked invariants held over {len(history.ops)} operations "
            f"and {len(history.faults)} fault events."
        ]
    lines = []
    for number, v in enumerate(verdict.violations[:3], start=1):
        ops = [by_index[i] for i in v.evidence if i in by_index]
        workers = sorted({o.worker for o in ops}, key=lambda w: workers_of(history).index(w))
        answers = sorted({o.reply.status for o in ops})
        when = f"at {v.at:.1f} s"
        if v.after_completion is not None:
            when = f"from {v.at:.1f} s, {v.after_completion:.1f} s after the scan completed,"
        lines.append(
            f"V{number} {v.invariant}: {when} reads answered {', '.join(answers) or '?'} "
            f"on worker(s) {', '.join(workers) or '?'} ({v.count} operation(s) in all)."
        )
    if len(verdict.violations) > 3:
        lines.append(f"... and {len(verdict.violations) - 3} more violation(s) below.")
    return lines


def _first_answered(ops: Sequence[Operation]) -> dict[tuple[str, str], float]:
    first: dict[tuple[str, str], float] = {}
    for op in ops:
        key = (op.worker, op.reply.status)
        first[key] = min(first.get(key, op.end), op.end)
    return first


def run_view(
    record: RunRecord,
    *,
    plot: TimelinePlot | None = None,
    schedule: ShrunkSchedule | None = None,
    link: str | None = None,
) -> RunView:
    """Prepare one run for the page (renders the timeline unless `plot` is given)."""
    history, verdict = record.history, record.verdict
    plot = plot or render_timeline(history, verdict)
    by_index = {op.index: op for op in history.ops}
    witnessed: dict[int, list[int]] = {}
    views = []
    for number, v in enumerate(verdict.violations, start=1):
        for i in v.evidence:
            witnessed.setdefault(i, []).append(number)
        views.append(ViolationView(number, v))
    evidence = [
        EvidenceRow(by_index[i], _swatch(by_index[i].reply.status).colour, tuple(numbers))
        for i, numbers in sorted(witnessed.items())
        if i in by_index
    ]
    present = {op.reply.status for op in history.ops}
    statuses = [s for s in STATUS_STYLE if s in present]
    statuses += sorted(present - set(statuses))
    workers = workers_of(history)
    load = None
    if is_load_run(history):
        stats = compute_load_stats(history)
        load = LoadView(
            stats,
            render_load(history, stats),
            tuple(sorted(stats.counts.items(), key=lambda kv: -kv[1])),
        )
    reads = {op.reply.status for op in history.ops if op.op != "start"}
    return RunView(
        key=_key(history.info.scenario),
        info=history.info,
        verdict=verdict,
        judgements=record.judgements,
        timeline=plot,
        workers=workers,
        op_count=len(history.ops),
        faults=list(history.faults),
        violations=views,
        recorded=frozenset(by_index),
        evidence=evidence,
        statuses=[_swatch(s) for s in statuses],
        answered=Counter((op.worker, op.reply.status) for op in history.ops),
        first_answered=_first_answered(history.ops),
        glance=_glance(history, verdict, by_index),
        load=load,
        schedule=schedule,
        link=link,
        legend=[_swatch(s) for s in STATUS_STYLE if s in reads],
    )


def render_html(runs: Sequence[RunView], *, title: str, matrix: KillMatrix | None = None) -> str:
    """The page for `runs`; a gate page (several runs) may carry the kill matrix.

    `matrix` is optional: any `KillMatrix` (from `KillMatrix.from_gate` or `gate.json`).
    """
    gate_passed = bool(
        matrix is not None
        and all(r.verdict.passed for r in runs)
        and not matrix.escaped
        and not matrix.unmet_claims
        and not matrix.mismatches
    )
    return _ENV.get_template("report.html.j2").render(
        title=title, runs=list(runs), matrix=matrix, gate_passed=gate_passed
    )


def _run_title(info: RunInfo) -> str:
    bugs = f" with {', '.join(info.bugs)}" if info.bugs else " (fixed service)"
    return f"Scan resilience report: {info.scenario}{bugs}"


def write_report(
    out: Path,
    history: History,
    verdict: Verdict,
    *,
    judgements: tuple[str, ...] = JUDGEMENTS,
    schedule: ShrunkSchedule | None = None,
) -> RunView:
    """Write `timeline.png` and `report.html` for one run into `out`."""
    view = run_view(RunRecord(history, verdict, judgements), schedule=schedule)
    (out / TIMELINE_FILE).write_bytes(view.timeline.png)
    (out / REPORT_FILE).write_text(
        render_html([view], title=_run_title(history.info)), encoding="utf-8"
    )
    return view


def write_gate_report(
    out: Path,
    views: Sequence[RunView],
    matrix: KillMatrix | None,
    *,
    title: str = "Scan resilience gate",
) -> Path:
    """Write a folder's `report.html` over its runs: every run, then the kill matrix if any."""
    path = out / REPORT_FILE
    path.write_text(render_html(views, title=title, matrix=matrix), "utf-8")
    return path


def render_folder(folder: Path, *, title: str = "Scan resilience gate") -> list[Path]:
    """Re-render every report in `folder` (a run folder or a gate folder); return the files."""
    written: list[Path] = []
    folders = run_folders(folder)
    views = []
    for run_dir in folders:
        record = read_run(run_dir)
        view = write_report(
            run_dir,
            record.history,
            record.verdict,
            judgements=record.judgements,
            schedule=read_schedule(run_dir),
        )
        written += [run_dir / TIMELINE_FILE, run_dir / REPORT_FILE]
        if run_dir != folder:
            view.link = f"{run_dir.name}/{REPORT_FILE}"
        views.append(view)
    if folders != [folder]:
        written.append(write_gate_report(folder, views, KillMatrix.read(folder), title=title))
    return written
