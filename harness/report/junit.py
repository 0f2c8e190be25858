"""JUnit XML for CI systems: one test case per scenario run and per kill-matrix cell.

The layout is the common denominator CI systems read (Jenkins, GitLab, GitHub reporters):
`<testsuites>` holding `<testsuite name tests failures errors skipped time timestamp>` elements,
each holding `<testcase classname name time>`; a failed case carries one
`<failure message type>` whose text is the full violation text, and `<system-out>` says how to
reproduce it.

For the gate: suite `scanchaos.fixed-service` has one case per scenario (fails on any
violation); suite `scanchaos.kill-matrix` one case per (regression, scenario) cell that ran,
which names the invariants that caught it and fails when the scenario claims to catch the
regression and does not; suite `scanchaos.regressions` one case per planted regression, which
fails when no scenario catches it. A live gate's case also fails when its verdict disagrees
with the simulated run of the same pair (`differs-from-simulation`, see `harness.matrix.agrees`).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from harness.checker import Verdict, Violation
from harness.history import History

if TYPE_CHECKING:
    from harness.gate import GateResult


@dataclass
class Case:
    """One JUnit test case."""

    classname: str
    name: str
    seconds: float = 0.0
    #: (message, type, text) when the case failed
    failure: tuple[str, str, str] | None = None
    out: str = ""


@dataclass
class Suite:
    name: str
    cases: list[Case] = field(default_factory=list)
    properties: dict[str, str] = field(default_factory=dict)


def violation_text(violations: Sequence[Violation]) -> str:
    """Every violation, one paragraph each, as the failure body."""
    parts = []
    for v in violations:
        head = f"{v.invariant} at {v.at:.3f} s"
        if v.scan_id:
            head += f" (scan {v.scan_id})"
        extra = f"\n  witnessed by {v.count} operation(s); evidence op indices: "
        extra += ", ".join(f"#{i}" for i in v.evidence)
        parts.append(f"{head}: {v.message}{extra}")
    return "\n".join(parts)


def _failure(violations: Sequence[Violation]) -> tuple[str, str, str] | None:
    if not violations:
        return None
    first = violations[0]
    kinds = sorted({v.invariant for v in violations})
    message = f"{len(violations)} violation(s) of {', '.join(kinds)}: {first.message}"
    return message, kinds[0], violation_text(violations)


def run_case(history: History, verdict: Verdict, seconds: float = 0.0) -> Case:
    info = history.info
    name = info.scenario + (f" [bugs: {', '.join(info.bugs)}]" if info.bugs else "")
    return Case(
        classname=f"scanchaos.{info.mode}",
        name=name,
        seconds=seconds,
        failure=_failure(verdict.violations),
        out=f"reproduce: {info.command}\n" if info.command else "",
    )


def run_suites(history: History, verdict: Verdict, seconds: float = 0.0) -> list[Suite]:
    """The suites of one `scanchaos run`."""
    info = history.info
    return [
        Suite(
            name=f"scanchaos.run.{info.scenario}",
            cases=[run_case(history, verdict, seconds)],
            properties={
                "scenario": info.scenario,
                "mode": info.mode,
                "seed": str(info.seed),
                "bugs": ",".join(info.bugs),
            },
        )
    ]


def _differs(what: str, sim: Sequence[str], live: Sequence[str]) -> tuple[str, str, str]:
    sim_text = ", ".join(sim) or "pass"
    live_text = ", ".join(live) or "pass"
    return (
        f"{what}: live differs from simulation",
        "differs-from-simulation",
        f"simulation: {sim_text}\nlive: {live_text}",
    )


def _matrix_case(result: GateResult, name: str, bug: str, props: str) -> Case | None:
    cell = result.cell(name, bug)
    if cell is None:
        return None  # not run in this mode
    claimed = bug in result.claims.get(name, ())
    case = Case(f"{props}.{bug}", name, cell.seconds)
    if cell.caught:
        case.out = (
            f"caught ({'claimed' if claimed else 'not claimed'}) by {', '.join(cell.violated)}:\n"
        )
        case.out += violation_text(cell.violations) + "\n"
    elif claimed:
        case.failure = (
            f"{name} claims to catch {bug} but no invariant was violated",
            "unmet-claim",
            f"scenario {name} lists {bug} in catches=, yet its run with {bug} "
            "switched on passed every invariant",
        )
    else:
        case.out = "not caught (not claimed)\n"
    if cell.differs:
        case.failure = _differs(f"{name} with {bug}", cell.simulated or (), cell.violated)
    if cell.command:
        case.out += f"reproduce: {cell.command}\n"
    return case


def gate_suites(result: GateResult) -> list[Suite]:
    """The suites of one `scanchaos gate`, in either mode."""
    props = {"seed": str(result.seed), "mode": result.mode}
    differing = {m.scenario: m for m in result.mismatches if m.bug is None}
    fixed = Suite("scanchaos.fixed-service", properties=props)
    for run in result.baseline:
        seconds = result.baseline_seconds.get(run.scenario.name, 0.0)
        case = run_case(run.history, run.verdict, seconds)
        case.classname = "scanchaos.fixed-service"
        case.name = run.scenario.name
        mismatch = differing.get(run.scenario.name)
        if mismatch is not None and case.failure is None:
            case.failure = _differs(
                f"{run.scenario.name} (fixed service)", mismatch.sim, mismatch.live
            )
        fixed.cases.append(case)
    matrix = Suite("scanchaos.kill-matrix", properties=props)
    for bug in result.bugs:
        for name in result.scenarios:
            cell_case = _matrix_case(result, name, bug, "scanchaos.kill-matrix")
            if cell_case is not None:
                matrix.cases.append(cell_case)
    regressions = Suite("scanchaos.regressions", properties=props)
    for bug in result.bugs:
        caught_by = result.caught_by(bug)
        case = Case("scanchaos.regressions", bug)
        if caught_by:
            case.out = f"caught by: {', '.join(caught_by)}\n"
        elif bug in result.not_run:
            case.out = f"not run in mode {result.mode}: {result.not_run[bug]}\n"
        else:
            case.failure = (
                f"planted regression {bug} escaped every scenario",
                "escaped",
                f"no scenario of {', '.join(result.scenarios)} violated an invariant with "
                f"{bug} switched on",
            )
        regressions.cases.append(case)
    return [fixed, matrix, regressions]


def render(suites: Sequence[Suite], name: str = "scanchaos") -> str:
    """The JUnit XML document for `suites`."""
    stamp = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "")
    root = ET.Element("testsuites", name=name)
    total_tests = total_failures = 0
    total_time = 0.0
    for suite in suites:
        failures = sum(1 for c in suite.cases if c.failure)
        seconds = sum(c.seconds for c in suite.cases)
        element = ET.SubElement(
            root,
            "testsuite",
            name=suite.name,
            tests=str(len(suite.cases)),
            failures=str(failures),
            errors="0",
            skipped="0",
            time=f"{seconds:.3f}",
            timestamp=stamp,
        )
        if suite.properties:
            props = ET.SubElement(element, "properties")
            for key, value in suite.properties.items():
                ET.SubElement(props, "property", name=key, value=value)
        for case in suite.cases:
            tc = ET.SubElement(
                element,
                "testcase",
                classname=case.classname,
                name=case.name,
                time=f"{case.seconds:.3f}",
            )
            if case.failure is not None:
                message, kind, text = case.failure
                failure = ET.SubElement(tc, "failure", message=message, type=kind)
                failure.text = text
            if case.out:
                ET.SubElement(tc, "system-out").text = case.out
        total_tests += len(suite.cases)
        total_failures += failures
        total_time += seconds
    root.set("tests", str(total_tests))
    root.set("failures", str(total_failures))
    root.set("errors", "0")
    root.set("time", f"{total_time:.3f}")
    ET.indent(root)
    body: str = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"


def write(path: Path, suites: Sequence[Suite], name: str = "scanchaos") -> Path:
    path.write_text(render(suites, name), encoding="utf-8")
    return path
