"""`summary.md`: the verification summary a reviewer reads in a pull request.

What ran (scenario, service, seed), the invariant checklist, every violation with its evidence
(the witnessing operations looked up in the history: scan, worker, times, what came back), the
kill matrix for a gate, the checker's judgement calls, and the exact command to reproduce.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from harness.checker import INVARIANTS, JUDGEMENTS, Verdict, Violation
from harness.history import History, Operation
from harness.replies import reply_words
from harness.report.embed import REPORT_FILE, TIMELINE_FILE, markdown_image, report_link
from reference_impl.entry import JUDGED

if TYPE_CHECKING:
    from harness.gate import GateResult
    from harness.runner import RunResult

#: evidence rows shown per violation (every index is in verdict.json)
EVIDENCE_ROWS = 5


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return lines


def came_back(op: Operation) -> str:
    """What a reply said, as a reviewer reads it."""
    r = op.reply
    text = reply_words(r)
    code = r.http
    text += f", HTTP {code}" if code else ", connection dropped"
    if r.source == JUDGED:
        text += ", judged by this worker"
    elif r.source:
        text += f", from {r.source}"
    if r.owner and r.owner != op.user:
        text += f", owner {r.owner}"
    return text


def _scan(op: Operation) -> str:
    if op.scan_id is None:
        return "-"
    short = op.scan_id[:12]
    return f"`{short}` ({op.label})" if op.label else f"`{short}`"


EVIDENCE_HEADER = ("op", "kind", "user", "worker", "asked at", "answered at", "scan", "came back")


def evidence_row(op: Operation) -> tuple[str, ...]:
    return (
        f"#{op.index}",
        op.op,
        op.user,
        op.worker,
        f"{op.start:.3f} s",
        f"{op.end:.3f} s",
        _scan(op),
        came_back(op),
    )


def _violation_lines(
    number: int, v: Violation, ops: dict[int, Operation], level: str = "###"
) -> list[str]:
    rows = EVIDENCE_ROWS
    head = f"{level} {number}. `{v.invariant}` at {v.at:.3f} s"
    if v.scan_id:
        head += f", scan `{v.scan_id}`"
    lines = [head, "", v.message, ""]
    facts = [f"witnessed by {v.count} operation(s)"]
    if v.after_completion is not None:
        facts.append(f"first {v.after_completion:.3f} s after the scan completed")
    if len(v.evidence) > rows:
        facts.append(f"first {rows} shown; every evidence index is in verdict.json")
    lines += [f"- {fact}" for fact in facts] + [""]
    shown = [ops[i] for i in v.evidence[:rows] if i in ops]
    if shown:
        lines += [*_table(EVIDENCE_HEADER, (evidence_row(op) for op in shown)), ""]
    return lines


def checklist(verdict: Verdict) -> list[str]:
    lines = []
    for r in verdict.results:
        if not r.checked:
            lines.append(f"- [ ] `{r.name}`: not checked in this scenario")
        elif r.violations:
            lines.append(f"- [ ] `{r.name}`: **FAIL** ({r.violations} violation(s))")
        else:
            lines.append(f"- [x] `{r.name}`: pass")
    return lines


def timeline_section(out: Path | None, scenarios: Sequence[str] = ()) -> list[str]:
    """The timeline plots, embedded when they are in the output folder.

    A run's folder holds its own `timeline.png`; a gate folder holds one per scenario folder.
    """
    lines = ["## Timeline", ""]
    found = False
    if out is not None and (out / TIMELINE_FILE).is_file():
        lines.append(markdown_image())
        found = True
    for name in scenarios:
        if out is not None and (out / name / TIMELINE_FILE).is_file():
            lines += [markdown_image(f"{name}/{TIMELINE_FILE}", name), ""]
            found = True
    if not found:
        lines.append(f"(no `{TIMELINE_FILE}` in this folder)")
    elif out is not None and (out / REPORT_FILE).is_file():
        lines += ["", report_link()]
    return [*lines, ""]


def judgement_lines() -> list[str]:
    return ["## Judgement calls the checker made", ""] + [f"- {j}" for j in JUDGEMENTS] + [""]


def _faults(history: History) -> list[str]:
    if not history.faults:
        return ["No faults injected.", ""]
    rows = (
        (f.fault, f.target or "-", f"{f.start:.3f} s", f"{f.end:.3f} s") for f in history.faults
    )
    return [*_table(("fault", "target", "from", "to"), rows), ""]


def _violations(history: History, verdict: Verdict, level: str = "###") -> list[str]:
    ops = {op.index: op for op in history.ops}
    lines: list[str] = []
    for number, v in enumerate(verdict.violations, start=1):
        lines += _violation_lines(number, v, ops, level)
    return lines


def _lost(verdict: Verdict, where: str = "") -> list[str]:
    if not verdict.lost_by_fault:
        return []
    lines = [f"## Lost by fault{where} (listed, not violations)", ""]
    lines += [f"- scan `{lost.scan_id}`: {lost.why}" for lost in verdict.lost_by_fault]
    return [*lines, ""]


def run_summary(
    history: History, verdict: Verdict, *, out: Path | None = None, description: str = ""
) -> str:
    """The summary of one run."""
    info = history.info
    # The run header names a target only in its reproduce command (`--target FILE`).
    words = info.command.split()
    target = words[words.index("--target") + 1] if "--target" in words[:-1] else None
    who = f"target `{target}`" if target else "reference service"
    service = (
        f"{who}, fixed"
        if not info.bugs
        else f"{who} with {'' if target else 'planted '}regression(s): "
        + ", ".join(f"`{b}`" for b in info.bugs)
    )
    outcome = {
        "pass": "PASS",
        "fail": f"FAIL ({len(verdict.violations)} violation(s))",
        "unknown": "UNKNOWN (nothing could be judged)",
    }[verdict.outcome]
    lines = [f"# Verification summary: `{info.scenario}`: {outcome}", ""]
    if description:
        lines += [f"> {description}", ""]
    if info.interrupted:
        lines += [f"**Interrupted run**: {info.interrupted}; judged up to its last record.", ""]
    if verdict.unknown:
        lines += ["## Why the verdict is unknown", ""]
        lines += [f"- {reason}" for reason in verdict.unknown] + [""]
    lines += [
        "## What ran",
        "",
        f"- scenario: `{info.scenario}`, mode `{info.mode}`, seed {info.seed}",
        f"- service: {service}",
        f"- {info.workers} workers, {info.duration:.0f} s of scenario time, "
        f"{len(history.ops)} client operations, {len(history.faults)} fault events",
        f"- timing: result TTL {info.timing.result_ttl:g} s, memory TTL "
        f"{info.timing.memory_ttl:g} s, cleanup every {info.timing.cleanup_interval:g} s, "
        f"budget {info.timing.scan_budget:g} s, worker timeout {info.timing.worker_timeout:g} s, "
        f"stall timeout {info.timing.stall_timeout:g} s, clock slack {info.timing.slack:g} s",
        "",
        "### Faults injected",
        "",
        *_faults(history),
        "## Invariants",
        "",
        *checklist(verdict),
        "",
    ]
    if verdict.violations:
        lines += ["## Violations and their evidence", "", *_violations(history, verdict)]
    else:
        lines += ["## Violations", "", "None.", ""]
    lines += _lost(verdict)
    lines += timeline_section(out)
    lines += judgement_lines()
    lines += ["## Reproduce", "", "```sh", info.command or "(no command recorded)", "```", ""]
    return "\n".join(lines)


def _gate_command(result: GateResult, refs: dict[str, str] | None, all_scenarios: bool) -> str:
    command = f"scanchaos gate --seed {result.seed}"
    if result.mode != "sim":
        command += f" --mode {result.mode}"
    refs = refs or {}
    if not all_scenarios:
        command += " --only"
        command += "".join(f" --scenario {shlex.quote(refs.get(n, n))}" for n in result.scenarios)
    else:
        # the built-in scenarios run anyway; a project's are named, by path
        extra = [refs[n] for n in result.scenarios if refs.get(n, n) != n]
        command += "".join(f" --scenario {shlex.quote(ref)}" for ref in extra)
    return command


def _baseline_checklist(baseline: Sequence[RunResult]) -> list[str]:
    lines = []
    for name in INVARIANTS:
        checked = [
            r for r in baseline if any(x.name == name and x.checked for x in r.verdict.results)
        ]
        failed = [r.scenario.name for r in checked if name in r.verdict.violated()]
        if failed:
            lines.append(f"- [ ] `{name}`: **FAIL** in {', '.join(failed)}")
        elif checked:
            lines.append(f"- [x] `{name}`: pass in {len(checked)} scenario(s)")
        else:
            lines.append(f"- [ ] `{name}`: not checked by any scenario")
    return lines


def matrix_table(result: GateResult) -> list[str]:
    cols = [f"S{i + 1}" for i in range(len(result.scenarios))]
    rows = []
    for bug in result.bugs:
        cells = [result.mark(name, bug) for name in result.scenarios]
        count = len(result.caught_by(bug))
        verdict = f"{count}" if count else "not run" if bug in result.not_run else "**ESCAPED**"
        rows.append([f"`{bug}`", *cells, verdict])
    lines = _table(["regression", *cols, "caught by"], rows)
    lines += ["", result.legend(), ""]
    lines += [f"- S{i + 1}: `{name}`" for i, name in enumerate(result.scenarios)]
    lines += ["", f"**{result.caught_count}/{len(result.bugs)} planted regressions caught.**", ""]
    return lines


def _catches(result: GateResult) -> list[str]:
    lines = ["## How each regression was caught", ""]
    for bug in result.bugs:
        cells = [c for name in result.scenarios if (c := result.cell(name, bug)) is not None]
        caught = [c for c in cells if c.caught]
        if bug in result.not_run:
            lines += [f"### `{bug}`: not run ({result.not_run[bug]})", ""]
            continue
        if not caught:
            lines += [f"### `{bug}`: **ESCAPED** every scenario", ""]
            continue
        first = next((c for c in caught if bug in result.claims.get(c.scenario, ())), caught[0])
        by = ", ".join(f"`{c.scenario}` ({', '.join(c.violated)})" for c in caught)
        lines += [
            f"### `{bug}`",
            "",
            f"Caught by {by}. In `{first.scenario}`:",
            "",
            f"> {first.violations[0].message}",
            "",
        ]
        if first.witnesses:
            lines += _table(EVIDENCE_HEADER, [evidence_row(first.witnesses[0])])
            lines.append("")
        lines += [f"Reproduce: `{first.command}`", ""]
    return lines


def _held_to_simulation(result: GateResult) -> list[str]:
    mismatches = result.mismatches
    lines = [
        "- the simulated gate: " + ("pass" if result.simulation_passed else "**FAIL**"),
        "- same invariants as in simulation: "
        + ("every run" if not mismatches else f"**{len(mismatches)} run(s) differ**"),
    ]
    if mismatches:
        lines += ["", "### DIFFERS FROM SIMULATION", ""]
        lines += [f"- **{m.describe()}**" for m in mismatches]
    return lines


def gate_summary(
    result: GateResult,
    *,
    out: Path | None = None,
    refs: dict[str, str] | None = None,
    all_scenarios: bool = True,
) -> str:
    """The summary of one gate: the fixed service on every scenario, then the kill matrix."""
    outcome = "PASS" if result.passed else "FAIL"
    runs = len(result.baseline) + len(result.cells)
    live = result.mode == "live"
    where = "live (real redis-server and Gunicorn workers)" if live else "in simulation"
    against = "the scenarios meant to catch it" if live else "every scenario"
    unit = "cluster(s) side by side" if live else "process(es)"
    lines = [
        f"# Regression gate{' (live)' if live else ''}: {outcome}",
        "",
        "## What ran",
        "",
        f"- {len(result.scenarios)} scenario(s) {where}, seed {result.seed}, "
        f"on the reference service, fixed",
        f"- the kill matrix: each of {len(result.bugs)} planted regression(s) alone against "
        f"{against} ({len(result.cells)} runs)",
        f"- {runs} runs in {result.seconds:.1f} s of wall time on {result.jobs} {unit}",
        *(f"- not run: `{bug}`: {why}" for bug, why in result.not_run.items()),
        "",
        "## Verdict",
        "",
        f"- fixed service: {len(result.baseline) - len(result.broken_baseline)}/"
        f"{len(result.baseline)} scenarios pass"
        + (
            f" (**failing: {', '.join(result.broken_baseline)}**)" if result.broken_baseline else ""
        ),
        f"- planted regressions caught: {result.caught_count}/{len(result.bugs)}"
        + (f" (**escaped: {', '.join(result.escaped)}**)" if result.escaped else ""),
    ]
    unmet = result.unmet_claims
    lines.append(
        "- claims (`catches=`) met: "
        + ("all" if not unmet else "**unmet: " + ", ".join(f"{s} -> {b}" for s, b in unmet) + "**")
    )
    if live:
        lines += _held_to_simulation(result)
    lines += ["", "## Fixed service", ""]
    rows = []
    for run in result.baseline:
        verdict = run.verdict
        rows.append(
            [
                f"`{run.scenario.name}`",
                "pass" if verdict.passed else "**FAIL**",
                len(run.history.ops),
                len(run.history.faults),
                ", ".join(sorted(verdict.violated())) or "-",
                f"{result.baseline_seconds.get(run.scenario.name, 0.0):.2f}",
                run.scenario.description,
            ]
        )
    header = ["scenario", "result", "ops", "faults", "violated", "seconds", "what it checks"]
    lines += [*_table(header, rows), "", "### Invariants (fixed service)", ""]
    lines += [*_baseline_checklist(result.baseline), ""]
    for run in result.baseline:
        if not run.verdict.passed:
            lines += [f"### Violations in `{run.scenario.name}` (fixed service)", ""]
            lines += _violations(run.history, run.verdict, "####")
            lines += [f"Reproduce: `{run.history.info.command}`", ""]
        lines += _lost(run.verdict, f" in `{run.scenario.name}`")
    lines += ["## Kill matrix", "", *matrix_table(result)]
    lines += _catches(result)
    lines += timeline_section(out, [run.scenario.name for run in result.baseline])
    lines += judgement_lines()
    lines += [
        "## Reproduce",
        "",
        "```sh",
        _gate_command(result, refs, all_scenarios),
        "```",
        "",
        "Each scenario's history, verdict and summary on the fixed service are in its own "
        "folder next to this file.",
        "",
    ]
    return "\n".join(lines)
