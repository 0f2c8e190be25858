"""The exploration loop: Hypothesis draws schedules, the simulation plays them, the checker judges.

A job explores in rounds. Round `r` of seed `s` is one Hypothesis run of a fixed number of
schedules, seeded from `(s, r)`, with no example database: the same seed always explores the
same schedules in the same order, so the budget only decides how many rounds run. The first
schedule the checker finds a violation in ends the job: Hypothesis shrinks it to a minimal one,
which is replayed for its verdict.

`--jobs N` runs N jobs in N processes (`multiprocess`), job `i` with seed `seed + i`; the pool is
started here, outside any frozen clock (a pool started under freezegun hangs).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed

from harness.checker import Verdict, Violation
from harness.explore.coverage import Coverage
from harness.explore.placement import place, to_scenario
from harness.explore.schedule import Schedule, schedules
from harness.runner import simulate
from harness.scenario import Scenario, validate
from reference_impl import ServiceConfig, validate_bugs

#: schedules per Hypothesis run; fixed, so that a seed names the same exploration everywhere
EXAMPLES_PER_ROUND = 60

#: a reading of the wall clock that the budget counts down on
Now = Callable[[], float]


@dataclass(frozen=True)
class Finding:
    """A minimal schedule that breaks an invariant, and when the job first saw a failing one."""

    seed: int
    round: int
    schedule: Schedule
    scenario: Scenario
    violations: tuple[Violation, ...]
    #: seconds from the job's start to the first failing schedule (before shrinking)
    detected_after: float
    #: schedules run before the first failing one (itself included)
    detected_at_schedule: int
    #: seconds from the job's start to the end of shrinking
    shrunk_after: float
    #: the invariant the first failing schedule broke first, kept while shrinking
    invariant: str = ""

    @property
    def length(self) -> int:
        """Steps and faults of the shrunk schedule, as its scenario script lists them."""
        return len(self.scenario.steps) + len(self.scenario.faults)


@dataclass
class JobResult:
    seed: int
    bugs: tuple[str, ...]
    budget: float
    elapsed: float = 0.0
    rounds: int = 0
    coverage: Coverage = field(default_factory=Coverage)
    finding: Finding | None = None


@dataclass
class ExploreResult:
    bugs: tuple[str, ...]
    seed: int
    budget: float
    jobs: list[JobResult]

    @property
    def findings(self) -> list[Finding]:
        return [j.finding for j in self.jobs if j.finding is not None]

    @property
    def coverage(self) -> Coverage:
        merged = Coverage()
        for job in self.jobs:
            merged.merge(job.coverage)
        return merged

    @property
    def elapsed(self) -> float:
        return max((j.elapsed for j in self.jobs), default=0.0)

    @property
    def rate(self) -> float:
        """Schedules explored per second of wall time, over all jobs."""
        return self.coverage.schedules / self.elapsed if self.elapsed > 0 else 0.0


class _Violated(Exception):
    """Raised inside the Hypothesis test: the schedule broke an invariant."""

    def __init__(self, schedule: Schedule, scenario: Scenario, verdict: Verdict) -> None:
        super().__init__(f"{len(verdict.violations)} violation(s)")
        self.schedule = schedule
        self.scenario = scenario
        self.verdict = verdict


def round_seed(seed: int, index: int) -> int:
    return seed * 1_000_003 + index


def run_schedule(
    schedule: Schedule, bugs: tuple[str, ...], coverage: Coverage | None = None
) -> tuple[Scenario, Verdict]:
    """Play one schedule on the simulated cluster and judge it with the checker."""
    scenario = to_scenario(schedule)
    validate(scenario, "<explorer>")
    result = simulate(
        scenario,
        bugs=bugs,
        seed=schedule.setup.seed,
        probe=coverage.probe if coverage is not None else None,
    )
    if coverage is not None:
        coverage.count_schedule(schedule, place(schedule), ServiceConfig())
        coverage.count_history(result.history, len(result.verdict.lost_by_fault))
    return scenario, result.verdict


def trim(schedule: Schedule, bugs: tuple[str, ...], target: str) -> tuple[Schedule, Verdict]:
    """Drop each action the violation of `target` does not need, keeping the others at their
    times; a removal that trades `target` for another invariant is not taken.

    Hypothesis shrinks well but can stop at a local minimum (dropping an action also shifts
    the actions after it); this pass tries each removal with the gap carried over.
    """
    _, verdict = run_schedule(schedule, bugs)
    i = 0
    while i < len(schedule.actions) and len(schedule.actions) > 1:
        actions = list(schedule.actions)
        dropped = actions.pop(i)
        if i < len(actions):
            actions[i] = replace(actions[i], gap=actions[i].gap + dropped.gap)
        candidate = replace(schedule, actions=tuple(actions))
        _, attempt = run_schedule(candidate, bugs)
        if target not in attempt.violated():
            i += 1
        else:
            schedule, verdict = candidate, attempt
    return schedule, verdict


def explore_job(
    bugs: tuple[str, ...],
    budget: float,
    seed: int,
    examples_per_round: int = EXAMPLES_PER_ROUND,
    clock: Now = time.monotonic,
) -> JobResult:
    """Explore for `budget` seconds of wall time or until a violation is found and shrunk."""
    bugs = tuple(sorted(validate_bugs(bugs)))
    job = JobResult(seed=seed, bugs=bugs, budget=budget)
    started = clock()
    first: tuple[float, int] | None = None
    #: the invariant the first failing schedule broke first: shrinking keeps it
    target: str | None = None
    strategy = schedules()

    while clock() - started < budget:
        index = job.rounds
        job.rounds += 1

        @hypothesis_seed(round_seed(seed, index))
        @settings(
            database=None,
            max_examples=examples_per_round,
            deadline=None,
            phases=(Phase.generate, Phase.shrink),
            suppress_health_check=list(HealthCheck),
            verbosity=Verbosity.quiet,
            report_multiple_bugs=False,
            print_blob=False,
        )
        @given(strategy)
        def check(schedule: Schedule) -> None:
            nonlocal first, target
            scenario, verdict = run_schedule(schedule, bugs, job.coverage)
            if not verdict.violations:
                return
            if target is None:
                first = (clock() - started, job.coverage.schedules)
                target = verdict.violations[0].invariant
            if target in verdict.violated():
                raise _Violated(schedule, scenario, verdict)

        try:
            check()
        except _Violated as found:
            assert first is not None and target is not None
            schedule, verdict = trim(found.schedule, bugs, target)
            job.finding = Finding(
                seed=seed,
                round=index,
                schedule=schedule,
                scenario=to_scenario(schedule),
                violations=tuple(verdict.violations),
                detected_after=first[0],
                detected_at_schedule=first[1],
                shrunk_after=clock() - started,
                invariant=target,
            )
            break
    job.elapsed = clock() - started
    return job


def explore(
    bugs: tuple[str, ...],
    *,
    budget: float,
    seed: int = 0,
    jobs: int = 1,
    examples_per_round: int = EXAMPLES_PER_ROUND,
) -> ExploreResult:
    """Explore with `jobs` processes, job `i` seeded `seed + i`; results merged in seed order."""
    bugs = tuple(sorted(validate_bugs(bugs)))
    args = [(bugs, budget, seed + i, examples_per_round) for i in range(jobs)]
    if jobs == 1:
        results = [explore_job(*args[0])]
    else:
        from harness.pool import interruptible_pool

        with interruptible_pool(jobs) as pool:
            results = pool.starmap(explore_job, args)
    return ExploreResult(bugs=bugs, seed=seed, budget=budget, jobs=list(results))
