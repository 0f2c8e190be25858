"""The regression gate: the fixed service passes every scenario, every planted regression is caught.

The kill matrix runs every planted regression against every scenario. A regression that no
scenario catches fails the gate, and so does a scenario that does not catch a regression it
claims to catch (`Scenario.catches`).

Runs are independent simulations, so they are spread over a process pool (`multiprocess`, which
pickles with dill). The pool is started here, before any simulation freezes the clock: a pool
started under an active freezegun hangs.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from harness.checker import Violation
from harness.history import Operation
from harness.pool import interruptible_pool
from harness.runner import RunResult, simulate
from harness.scenario import Latest, Poll, Scenario
from reference_impl import BUGS


@dataclass(frozen=True)
class Cell:
    """One scenario run against one planted regression."""

    scenario: str
    bug: str
    caught: bool
    violated: tuple[str, ...]
    #: what the checker found (empty when the regression went unnoticed)
    violations: tuple[Violation, ...] = ()
    #: the first witness of each violation, looked up in the cell's history
    witnesses: tuple[Operation, ...] = ()
    #: wall-clock seconds the run took
    seconds: float = 0.0
    command: str = ""


@dataclass
class GateResult:
    seed: int
    baseline: list[RunResult]
    cells: list[Cell]
    bugs: tuple[str, ...]
    scenarios: tuple[str, ...]
    claims: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: wall-clock seconds of each baseline run, by scenario
    baseline_seconds: dict[str, float] = field(default_factory=dict)
    #: wall-clock seconds of the whole gate
    seconds: float = 0.0
    jobs: int = 1

    def cell(self, scenario: str, bug: str) -> Cell:
        return next(c for c in self.cells if c.scenario == scenario and c.bug == bug)

    def caught_by(self, bug: str) -> list[str]:
        return [c.scenario for c in self.cells if c.bug == bug and c.caught]

    @property
    def escaped(self) -> list[str]:
        return [bug for bug in self.bugs if not self.caught_by(bug)]

    @property
    def broken_baseline(self) -> list[str]:
        return [r.scenario.name for r in self.baseline if not r.verdict.passed]

    @property
    def unmet_claims(self) -> list[tuple[str, str]]:
        """(scenario, bug) pairs the scenario claims to catch but does not."""
        caught = {(c.scenario, c.bug) for c in self.cells if c.caught}
        return [(s, b) for s, bugs in self.claims.items() for b in bugs if (s, b) not in caught]

    @property
    def passed(self) -> bool:
        return not (self.broken_baseline or self.escaped or self.unmet_claims)


@dataclass(frozen=True)
class _Job:
    order: int
    scenario: Scenario
    ref: str
    bug: str | None
    seed: int


@dataclass(frozen=True)
class _Done:
    order: int
    seconds: float
    #: the whole run for a baseline job; only its verdict's essentials for a matrix cell
    run: RunResult | None
    cell: Cell | None


def _execute(job: _Job) -> _Done:
    bugs = () if job.bug is None else (job.bug,)
    began = time.perf_counter()  # outside the simulation's frozen clock
    result = simulate(job.scenario, bugs=bugs, seed=job.seed, ref=job.ref)
    seconds = time.perf_counter() - began
    if job.bug is None:
        return _Done(job.order, seconds, result, None)
    # A matrix cell ships back its violations and their first witnesses, not its history.
    ops = {op.index: op for op in result.history.ops}
    violations = tuple(result.verdict.violations)
    witnesses = tuple(ops[v.evidence[0]] for v in violations if v.evidence)
    cell = Cell(
        scenario=job.scenario.name,
        bug=job.bug,
        caught=bool(violations),
        violated=tuple(sorted(result.verdict.violated())),
        violations=violations,
        witnesses=witnesses,
        seconds=seconds,
        command=result.history.info.command,
    )
    return _Done(job.order, seconds, None, cell)


def _cost(scenario: Scenario) -> float:
    """A rough guess of a run's cost (client requests), to start the longest runs first."""
    total = 0.0
    for step in scenario.steps:
        if isinstance(step, (Poll, Latest)):
            total += (step.until - step.start) / step.every * step.fanout
    return total


def _run_all(jobs: list[_Job], processes: int) -> Iterator[_Done]:
    if processes <= 1 or len(jobs) <= 1:
        yield from map(_execute, jobs)
        return
    # Longest first, one job at a time: the pool stays busy to the end.
    ordered = sorted(jobs, key=lambda j: -_cost(j.scenario))
    with interruptible_pool(min(processes, len(jobs))) as pool:
        yield from pool.imap_unordered(_execute, ordered, chunksize=1)


def default_jobs() -> int:
    return max(1, os.cpu_count() or 1)


def run_gate(
    scenarios: Sequence[Scenario],
    *,
    seed: int = 0,
    bugs: Sequence[str] | None = None,
    refs: Mapping[str, str] | None = None,
    jobs: int = 1,
) -> GateResult:
    """Every scenario on the fixed service, then every regression in `bugs` on every scenario.

    `refs` maps a scenario's name to how the user named it (a name or a path), for the
    reproduce commands; `jobs` is the number of worker processes (1: run in this process).
    """
    chosen = tuple(bugs) if bugs is not None else tuple(BUGS)
    refs = refs or {}
    work: list[_Job] = []
    for scenario in scenarios:
        ref = refs.get(scenario.name, scenario.name)
        for bug in (None, *chosen):
            work.append(_Job(len(work), scenario, ref, bug, seed))
    began = time.perf_counter()
    done = sorted(_run_all(work, jobs), key=lambda d: d.order)
    seconds = time.perf_counter() - began
    baseline = [d.run for d in done if d.run is not None]
    return GateResult(
        seed=seed,
        baseline=baseline,
        cells=[d.cell for d in done if d.cell is not None],
        bugs=chosen,
        scenarios=tuple(s.name for s in scenarios),
        claims={s.name: tuple(b for b in s.catches if b in chosen) for s in scenarios},
        baseline_seconds={d.run.scenario.name: d.seconds for d in done if d.run is not None},
        seconds=seconds,
        jobs=jobs,
    )


def mark(result: GateResult, scenario: str, bug: str) -> str:
    """One matrix cell: X caught as claimed, x caught (unclaimed), ! claimed but missed,
    - not run (a live gate runs each regression only against the scenarios meant to catch it)."""
    claimed = bug in result.claims.get(scenario, ())
    cell = next((c for c in result.cells if c.scenario == scenario and c.bug == bug), None)
    if cell is None:
        return "-"
    caught = cell.caught
    if caught:
        return "X" if claimed else "x"
    return "!" if claimed else "."


LEGEND = "X caught (claimed)   x caught (not claimed)   ! claimed but missed   . not caught"


def format_matrix(result: GateResult, not_run: Mapping[str, str] | None = None) -> str:
    """The kill matrix as a text table: one row per regression, one column per scenario.

    Regressions in `not_run` (name -> why) were deliberately not run: marked, not ESCAPED.
    """
    skipped = not_run or {}
    names = result.scenarios
    width = max((len(b) for b in result.bugs), default=10)
    cols = [f"S{i + 1}" for i in range(len(names))]
    header = f"{'':<{width}} | " + " ".join(f"{c:>3}" for c in cols) + " | caught by"
    lines = [header, "-" * len(header)]
    for bug in result.bugs:
        row = " ".join(f"{mark(result, name, bug):>3}" for name in names)
        count = len(result.caught_by(bug))
        verdict = f"{count} scenario(s)" if count else "not run" if bug in skipped else "ESCAPED"
        lines.append(f"{bug:<{width}} | {row} | {verdict}")
    lines.append("")
    missing = any(c == "-" for bug in result.bugs for c in (mark(result, n, bug) for n in names))
    lines.append(LEGEND + ("   - not run" if missing else ""))
    lines += [f"S{i + 1:<3} {name}" for i, name in enumerate(names)]
    caught = len(result.bugs) - len(result.escaped)
    lines.append(f"{caught}/{len(result.bugs)} planted regressions caught")
    return "\n".join(lines)
