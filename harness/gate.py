"""The regression gate: the fixed service passes every scenario, every planted regression is caught.

The kill matrix runs every planted regression against every scenario. A regression that no
scenario catches fails the gate, and so does a scenario that does not catch a regression it
claims to catch (`Scenario.catches`).

The same matrix runner serves both modes. Simulated runs are independent, so they are spread
over a process pool (`multiprocess`, which pickles with dill), started here before any
simulation freezes the clock (a pool started under an active freezegun hangs); live runs go on
threads, a few clusters side by side (`harness.live.gate` holds them to the simulation).
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from harness.matrix import LEGEND, Cell, MatrixQueries, Mismatch, baseline_mismatches, claims_of
from harness.pool import interruptible_pool
from harness.runner import RunResult, simulate
from harness.scenario import Latest, Poll, Scenario
from reference_impl import BUGS

if TYPE_CHECKING:
    from harness.live.runner import LiveOptions
    from harness.target import Target

__all__ = [
    "LEGEND",
    "Cell",
    "GateResult",
    "Matrix",
    "default_jobs",
    "format_gate",
    "format_matrix",
    "mark",
    "run_gate",
    "run_matrix",
]


@dataclass
class GateResult(MatrixQueries):
    """A gate's verdict in any mode: the fixed service on every scenario, then the kill matrix.

    A live gate's cells and fixed-service runs are held to the simulated gate's: a verdict that
    disagrees (`harness.matrix.agrees`) is a mismatch, and fails the gate.
    """

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
    mode: str = "sim"
    not_run: dict[str, str] = field(default_factory=dict)
    #: live: the invariants the simulation found violated on the fixed service, by scenario
    baseline_simulated: dict[str, tuple[str, ...]] | None = None
    #: live: did the simulated gate it is held to pass?
    simulation_passed: bool = True
    #: live: every planted-regression run, by (scenario, bug), for its own report folder
    cell_runs: dict[tuple[str, str], RunResult] = field(default_factory=dict)
    #: the target the gate ran on (its name)
    target: str = "reference"
    #: scenarios the target cannot take (name -> why): reported, never silently skipped
    not_applicable: dict[str, str] = field(default_factory=dict)

    @property
    def broken_baseline(self) -> list[str]:
        return [r.scenario.name for r in self.baseline if not r.verdict.passed]

    @property
    def mismatches(self) -> list[Mismatch]:
        if self.baseline_simulated is None:
            return self.cell_mismatches()
        live = {r.scenario.name: tuple(sorted(r.verdict.violated())) for r in self.baseline}
        return baseline_mismatches(live, self.baseline_simulated) + self.cell_mismatches()

    @property
    def passed(self) -> bool:
        return self.simulation_passed and not (
            self.broken_baseline or self.escaped or self.unmet_claims or self.mismatches
        )


@dataclass(frozen=True)
class _Job:
    order: int
    scenario: Scenario
    ref: str
    bug: str | None
    seed: int
    #: None: run in simulation; else live, with these options
    live: LiveOptions | None = None
    #: None: the reference
    target: Target | None = None


@dataclass(frozen=True)
class _Done:
    order: int
    seconds: float
    #: the whole run for a baseline job (and for a live cell); a simulated cell ships only its
    #: verdict's essentials back from its worker process
    run: RunResult | None
    cell: Cell | None


def _run(job: _Job, cancel: threading.Event | None) -> RunResult:
    bugs = () if job.bug is None else (job.bug,)
    run: Callable[..., RunResult] = simulate
    if job.live is not None:
        from harness.live.runner import run_live

        run = functools.partial(run_live, options=job.live, cancel=cancel)
    return run(job.scenario, bugs=bugs, seed=job.seed, ref=job.ref, target=job.target)


def _execute(job: _Job, cancel: threading.Event | None = None) -> _Done:
    began = time.perf_counter()  # outside the simulation's frozen clock
    result = _run(job, cancel)
    seconds = time.perf_counter() - began
    if job.bug is None:
        return _Done(job.order, seconds, result, None)
    # A matrix cell carries its violations and their first witnesses, not its history.
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
    return _Done(job.order, seconds, result if job.live is not None else None, cell)


def _cost(scenario: Scenario) -> float:
    """A rough guess of a run's cost (client requests), to start the longest runs first."""
    total = 0.0
    for step in scenario.steps:
        if isinstance(step, (Poll, Latest)):
            total += (step.until - step.start) / step.every * step.fanout
    return total


def _simulate_all(jobs: list[_Job], processes: int) -> Iterator[_Done]:
    if processes <= 1 or len(jobs) <= 1:
        yield from map(_execute, jobs)
        return
    # Longest first, one job at a time: the pool stays busy to the end.
    ordered = sorted(jobs, key=lambda j: -_cost(j.scenario))
    with interruptible_pool(min(processes, len(jobs))) as pool:
        yield from pool.imap_unordered(_execute, ordered, chunksize=1)


def _run_live_all(jobs: list[_Job], clusters: int) -> list[_Done]:
    """Live runs on threads, `clusters` side by side; an interrupt cancels every one."""
    from harness.live.schedule import RunCancelled

    cancel = threading.Event()
    pool = ThreadPoolExecutor(max_workers=max(1, clusters), thread_name_prefix="live-run")
    futures: list[Future[_Done]] = [pool.submit(_execute, job, cancel) for job in jobs]
    try:
        wait(futures)
    except BaseException:
        cancel.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    for future in futures:
        error = future.exception()
        if error is not None and not isinstance(error, RunCancelled):
            raise error
    return [f.result() for f in futures if f.exception() is None]


def run_matrix(jobs: list[_Job], parallel: int) -> list[_Done]:
    """Carry out `jobs` (all simulated, or all live) `parallel` at a time, in order."""
    live = any(job.live is not None for job in jobs)
    done = _run_live_all(jobs, parallel) if live else list(_simulate_all(jobs, parallel))
    return sorted(done, key=lambda d: d.order)


def default_jobs() -> int:
    return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class Matrix:
    """A gate's runs in one mode: scenarios on the fixed service and under regressions.

    The one matrix runner of every mode: `live` None simulates. `refs` maps a scenario's name to
    how the user named it, for the reproduce commands; `not_applicable` names the scenarios the
    target cannot take, with why."""

    scenarios: Sequence[Scenario]
    bugs: tuple[str, ...]
    seed: int = 0
    refs: Mapping[str, str] | None = None
    live: LiveOptions | None = None
    target: Target | None = None
    not_applicable: Mapping[str, str] = field(default_factory=dict)

    def run(
        self,
        pairs: Iterable[tuple[int, str | None]],
        jobs: int,
        claimed: Sequence[str] | None = None,
    ) -> GateResult:
        """Run one job per (scenario index, bug) pair, `jobs` at a time (a bug of None is the
        fixed service), and judge them together; `claimed` limits the claims held (default:
        `bugs`)."""
        refs = self.refs or {}
        plan = [
            _Job(
                order,
                self.scenarios[i],
                refs.get(self.scenarios[i].name, self.scenarios[i].name),
                bug,
                self.seed,
                self.live,
                self.target,
            )
            for order, (i, bug) in enumerate(pairs)
        ]
        began = time.perf_counter()
        done = run_matrix(plan, jobs)
        return self._judge(done, time.perf_counter() - began, jobs, claimed)

    def _judge(
        self, done: Sequence[_Done], seconds: float, jobs: int, claimed: Sequence[str] | None
    ) -> GateResult:
        held = self.bugs if claimed is None else tuple(claimed)
        baseline = [d.run for d in done if d.cell is None and d.run is not None]
        ran = [s for s in self.scenarios if s.name not in self.not_applicable]
        target = self.target
        return GateResult(
            target=target.name if target is not None else "reference",
            not_applicable=dict(self.not_applicable),
            seed=self.seed,
            baseline=baseline,
            cells=[d.cell for d in done if d.cell is not None],
            bugs=self.bugs,
            scenarios=tuple(s.name for s in ran),
            claims=claims_of([(s.name, catches_of(s, target)) for s in ran], held),
            baseline_seconds={
                d.run.scenario.name: d.seconds for d in done if d.cell is None and d.run is not None
            },
            seconds=seconds,
            jobs=jobs,
            cell_runs={
                (d.cell.scenario, d.cell.bug): d.run
                for d in done
                if d.cell is not None and d.run is not None
            },
        )


def run_gate(
    scenarios: Sequence[Scenario],
    *,
    seed: int = 0,
    bugs: Sequence[str] | None = None,
    refs: Mapping[str, str] | None = None,
    jobs: int = 1,
    target: Target | None = None,
) -> GateResult:
    """Every scenario on the fixed service, then every regression in `bugs` on every scenario.

    `refs` maps a scenario's name to how the user named it (a name or a path), for the
    reproduce commands; `jobs` is the number of worker processes (1: run in this process).
    `target` is the service under test (default: the reference); its regressions are the
    matrix's rows (default for `bugs`), and a scenario whose faults it cannot take is reported
    not applicable (`Target.not_applicable`) instead of run.
    """
    chosen = (
        tuple(bugs) if bugs is not None else tuple(BUGS) if target is None else target.regressions
    )
    skipped = not_applicable_to(scenarios, target)
    pairs = [
        (i, bug)
        for i, scenario in enumerate(scenarios)
        if scenario.name not in skipped
        for bug in (None, *chosen)
    ]
    matrix = Matrix(scenarios, chosen, seed, refs, target=target, not_applicable=skipped)
    return matrix.run(pairs, jobs)


def not_applicable_to(scenarios: Sequence[Scenario], target: Target | None) -> dict[str, str]:
    if target is None:
        return {}
    return {s.name: why for s in scenarios if (why := target.not_applicable(s)) is not None}


def catches_of(scenario: Scenario, target: Target | None) -> tuple[str, ...]:
    """What `scenario` claims to catch: its own `catches`, and the target's `caught_by`."""
    if target is None:
        return scenario.catches
    extra = tuple(r.name for r in target.spec.regression if scenario.name in r.caught_by)
    return tuple(dict.fromkeys((*scenario.catches, *extra)))


def mark(result: GateResult, scenario: str, bug: str) -> str:
    """One matrix cell's mark (see `MatrixQueries.mark`)."""
    return result.mark(scenario, bug)


def format_matrix(result: GateResult, not_run: Mapping[str, str] | None = None) -> str:
    """The kill matrix as a text table: one row per regression, one column per scenario.

    Regressions in `not_run` (name -> why), or the result's own, were deliberately not run:
    marked, not ESCAPED.
    """
    skipped = {**result.not_run, **(not_run or {})}
    names = result.scenarios
    width = max((len(b) for b in result.bugs), default=10)
    cols = [f"S{i + 1}" for i in range(len(names))]
    header = f"{'':<{width}} | " + " ".join(f"{c:>3}" for c in cols) + " | caught by"
    lines = [header, "-" * len(header)]
    for bug in result.bugs:
        row = " ".join(f"{result.mark(name, bug):>3}" for name in names)
        count = len(result.caught_by(bug))
        verdict = f"{count} scenario(s)" if count else "not run" if bug in skipped else "ESCAPED"
        lines.append(f"{bug:<{width}} | {row} | {verdict}")
    lines += ["", result.legend()]
    lines += [f"S{i + 1:<3} {name}" for i, name in enumerate(names)]
    lines.append(f"{result.caught_count}/{len(result.bugs)} planted regressions caught")
    return "\n".join(lines)


def format_gate(result: GateResult) -> str:
    """What the gate prints, in either mode: fixed-service runs, the matrix, what failed."""
    live = result.mode == "live"
    lines = []
    for run in result.baseline:
        mark = "ok  " if run.verdict.passed else "FAIL"
        lines.append(f"[{mark}] {run.scenario.name} (fixed service{', live' if live else ''})")
        for v in run.verdict.violations:
            lines.append(f"       VIOLATION {v.invariant} at {v.at:.1f} s: {v.message}")
    lines.append("")
    if live:
        lines.append("live kill matrix (each regression against the scenarios meant to catch it):")
    lines.append(format_matrix(result))
    for bug, why in result.not_run.items():
        lines.append(f"NOT REPRODUCIBLE LIVE: {bug}: {why}")
    for scenario, why in result.not_applicable.items():
        lines.append(f"NOT APPLICABLE: scenario {scenario!r} on target {result.target!r}: {why}")
    if not result.bugs:
        lines.append(
            f"target {result.target!r} declares no regressions: every scenario must pass on it; "
            "the kill matrix (that each scenario catches what it claims) is shown on the "
            "reference (`scanchaos gate`)"
        )
    for bug in result.escaped:
        where = " live" if live else ""
        lines.append(f"ESCAPED: planted regression {bug!r} is caught by no scenario{where}")
    for scenario, bug in result.unmet_claims:
        lines.append(f"UNMET CLAIM: scenario {scenario!r} claims to catch {bug!r} but does not")
    if live:
        if not result.simulation_passed:
            lines.append("the simulation gate fails on these scenarios: fix that first")
        mismatches = result.mismatches
        lines += [f"DIFFERS FROM SIMULATION: {m.describe()}" for m in mismatches]
        if result.baseline_simulated is None:
            lines.append(f"target {result.target!r} runs live only: no simulation to hold it to")
        elif not mismatches:
            lines.append("every live verdict agrees with the simulated one")
    runs = len(result.baseline) + len(result.cells)
    unit = "cluster(s) side by side" if live else "process(es)"
    lines.append(f"{runs} runs in {result.seconds:.1f} s on {result.jobs} {unit}")
    lines.append("GATE PASS" if result.passed else "GATE FAIL")
    return "\n".join(lines)
