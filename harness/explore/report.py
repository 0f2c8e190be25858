"""What an exploration leaves behind: a scenario script per finding and `summary.md`."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, replace
from pathlib import Path

from harness.explore.coverage import OUTCOMES, PATHS, Coverage
from harness.explore.engine import ExploreResult, Finding
from harness.explore.script import ScriptText, describe_scenario, render_script, replay_command
from harness.report.files import write_run
from harness.report.schedule import SCHEDULE_FILE
from harness.runner import RunResult, simulate
from harness.scenario import load


@dataclass(frozen=True)
class Written:
    """A finding written as a script, and what replaying the written file showed."""

    finding: Finding
    path: Path
    replay: str
    fixed: str
    #: replaying the file with the explored regressions switched on breaks an invariant
    fails_with_bugs: bool
    #: replaying it on the fixed service passes (None when the fixed service was explored)
    passes_fixed: bool | None


def explore_command(bugs: tuple[str, ...], seed: int, budget: float, jobs: int) -> str:
    parts = ["scanchaos", "explore"]
    for bug in bugs:
        parts += ["--bug", bug]
    parts += ["--seed", str(seed), "--budget", f"{budget:g}"]
    if jobs > 1:
        parts += ["--jobs", str(jobs)]
    return shlex.join(parts)


def _tag(bugs: tuple[str, ...]) -> str:
    return "-".join(bugs) if bugs else "fixed"


def write_finding(finding: Finding, bugs: tuple[str, ...], out: Path, command: str) -> Written:
    """Write `finding` as a scenario script into `out`, then replay the file to confirm it."""
    name = f"explored-{_tag(bugs)}-s{finding.seed}"
    path = out / (name.replace("-", "_") + ".py")
    cluster_seed = finding.schedule.setup.seed
    # The script claims (for the gate) each regression that breaks it on its own.
    catches = tuple(
        bug
        for bug in bugs
        if simulate(finding.scenario, bugs=(bug,), seed=cluster_seed).verdict.violations
    )
    broken = ", ".join(sorted({v.invariant for v in finding.violations}))
    scenario = replace(
        finding.scenario,
        name=name,
        description=f"explorer finding: {broken}",
        catches=catches,
    )
    replay = replay_command(path, bugs, cluster_seed)
    fixed = replay_command(path, (), cluster_seed)
    text = ScriptText(finding.violations, bugs, cluster_seed, command, replay, fixed)
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(render_script(scenario, text), encoding="utf-8")
    loaded, _ = load(str(path))
    replayed = simulate(loaded, bugs=bugs, seed=cluster_seed, ref=str(path))
    fails = bool(replayed.verdict.violations)
    passes = simulate(loaded, seed=cluster_seed).verdict.passed if bugs else None
    _write_replay(out / name, replayed, path, replay, cluster_seed)
    return Written(finding, path, replay, fixed, fails, passes)


def _write_replay(folder: Path, replayed: RunResult, script: Path, replay: str, seed: int) -> None:
    """The replay's run folder (history, verdict, reports), pointing back at the script."""
    folder.mkdir(parents=True, exist_ok=True)
    schedule = {
        "script": f"../{script.name}",
        "command": replay,
        "seed": seed,
        "steps": describe_scenario(replayed.scenario),
    }
    # First: the report shows the schedule it finds in the folder.
    (folder / SCHEDULE_FILE).write_text(json.dumps(schedule, indent=2) + "\n", encoding="utf-8")
    write_run(folder, replayed.history, replayed.verdict, description=replayed.scenario.description)


def _table(title: str, counts: dict[str, int], names: tuple[str, ...] = ()) -> list[str]:
    rows = [*names, *sorted(k for k in counts if k not in names)]
    lines = [f"| {title} | times |", "| --- | ---: |"]
    for name in rows:
        n = counts.get(name, 0)
        lines.append(f"| {name} | {n if n else '**never**'} |")
    return lines


def coverage_lines(coverage: Coverage) -> list[str]:
    lines = [
        "## Coverage",
        "",
        f"Over {coverage.schedules} schedules (shrinking runs included).",
        "",
        *_table("step", dict(coverage.steps)),
        "",
        *_table("fault", dict(coverage.faults)),
        "",
        *_table("time step before an action", dict(coverage.gaps)),
        "",
        *_table("service path (probe event)", dict(coverage.paths), PATHS),
        "",
        *_table("outcome seen in the history", dict(coverage.outcomes), OUTCOMES),
        "",
    ]
    never = coverage.unreached
    if never:
        lines.append("Service paths never reached: " + ", ".join(never) + ".")
    else:
        lines.append("Every service path was reached at least once.")
    return lines


def format_summary(result: ExploreResult, written: list[Written], command: str) -> str:
    bugs = ", ".join(result.bugs) if result.bugs else "none (fixed service)"
    cov = result.coverage
    lines = [
        "# Exploration summary",
        "",
        f"- command: `{command}`",
        f"- planted regressions: {bugs}",
        f"- seed {result.seed}, budget {result.budget:g} s, {len(result.jobs)} job(s)",
        f"- {cov.schedules} schedules in {result.elapsed:.1f} s ({result.rate:.1f} schedules/s)",
        f"- violations found: {len(result.findings)}",
        "",
    ]
    for job in result.jobs:
        state = "no violation"
        if job.finding is not None:
            f = job.finding
            state = (
                f"violation after {f.detected_after:.1f} s (schedule {f.detected_at_schedule}), "
                f"shrunk to {f.length} steps by {f.shrunk_after:.1f} s"
            )
        lines.append(
            f"- job seed {job.seed}: {job.coverage.schedules} schedules, {job.rounds} round(s), "
            f"{job.elapsed:.1f} s: {state}"
        )
    for w in written:
        f = w.finding
        lines += ["", f"## Finding (job seed {f.seed}): `{w.path}`", ""]
        lines += [f"- **{v.invariant}**: {v.message}" for v in f.violations]
        lines += ["", "Step by step:", ""]
        lines += [f"{i}. {line}" for i, line in enumerate(describe_scenario(f.scenario), 1)]
        lines += [
            "",
            f"- replay: `{w.replay}` -> {'fails' if w.fails_with_bugs else 'DOES NOT FAIL'}",
        ]
        if w.passes_fixed is not None:
            lines.append(
                f"- fixed service: `{w.fixed}` -> {'passes' if w.passes_fixed else 'FAILS TOO'}"
            )
    lines += ["", *coverage_lines(cov), ""]
    return "\n".join(lines)
