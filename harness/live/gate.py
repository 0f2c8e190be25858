"""The live gate: the same gate on real processes, held to the simulation's verdicts.

Every scenario runs live on the fixed service; each planted regression runs live against the
scenarios meant to catch it (its `catches` claims; a regression no scenario claims runs against
the scenarios that catch it in simulation). The simulated gate runs first (it takes seconds);
every live cell and fixed-service run must agree with its simulated twin
(`harness.matrix.agrees`: both pass, or both fail with an invariant in common), or the cell is
a mismatch and the gate fails. A regression listed in `LIVE_LIMITS` is not run live, and the
reports say why. The result is the simulated gate's `GateResult`, in mode "live".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from harness.gate import (
    GateResult,
    Matrix,
    catches_of,
    default_jobs,
    not_applicable_to,
    run_gate,
)
from harness.live.redis_server import find_redis_server
from harness.live.runner import LiveOptions, check_live
from harness.scenario import Scenario
from harness.target import Target
from reference_impl import BUGS

__all__ = ["LIVE_LIMITS", "hold_to_simulation", "live_limits", "plan", "run_live_gate"]

#: planted regressions that cannot be reproduced live with a given outage kind, and why
_RACE = (
    "the race needs a freshly started worker to judge the scan stalled before the scan's own "
    "worker repairs its deferred writes, within one cleanup interval of Redis coming back "
    "(0.1 s of wall time at scale 0.05); a respawned Gunicorn worker is not ready that soon, "
    "so live runs never reach the overwrite (simulation does, in scenario stall-race)"
)
LIVE_LIMITS: dict[str, dict[str, str]] = {
    "stop": {"terminal-overwrite": _RACE},
    "pause": {
        "terminal-overwrite": _RACE,
        "lost-write-after-outage": (
            "a SIGSTOPped Redis keeps receiving commands into its socket buffers and applies "
            "them when resumed, so the write the worker gave up on lands anyway; run with "
            "--outage stop to reproduce it"
        ),
    },
}


def live_limits(options: LiveOptions) -> dict[str, str]:
    """Planted regression -> why it cannot be reproduced live with these options."""
    return dict(LIVE_LIMITS[options.outage])


def plan(
    scenarios: Sequence[Scenario], sim: GateResult, bugs: Sequence[str]
) -> list[tuple[int, str]]:
    """(scenario index, bug) pairs to run live."""
    pairs = []
    for bug in bugs:
        claimed = [i for i, s in enumerate(scenarios) if bug in s.catches]
        if not claimed:
            caught = set(sim.caught_by(bug))
            claimed = [i for i, s in enumerate(scenarios) if s.name in caught]
        pairs += [(i, bug) for i in claimed]
    return pairs


def hold_to_simulation(
    live: GateResult, sim: GateResult, not_run: Mapping[str, str] | None = None
) -> GateResult:
    """`live` as a live gate's verdict: each cell and fixed-service run held to `sim`'s."""
    simulated = {(c.scenario, c.bug): c.violated for c in sim.cells}
    return replace(
        live,
        mode="live",
        cells=[replace(c, simulated=simulated.get((c.scenario, c.bug), ())) for c in live.cells],
        not_run=dict(not_run or {}),
        baseline_simulated={
            r.scenario.name: tuple(sorted(r.verdict.violated())) for r in sim.baseline
        },
        simulation_passed=sim.passed,
    )


def run_live_gate(
    scenarios: Sequence[Scenario],
    *,
    seed: int = 0,
    options: LiveOptions | None = None,
    jobs: int = 2,
    bugs: Sequence[str] | None = None,
    refs: Mapping[str, str] | None = None,
    target: Target | None = None,
) -> GateResult:
    """Run the simulated gate, then the live runs it implies, `jobs` clusters at a time.

    A target other than the reference (a WSGI app) has no simulation: see `run_target_gate`."""
    if target is not None and not target.is_reference:
        return run_target_gate(
            scenarios, target, seed=seed, options=options, jobs=jobs, bugs=bugs, refs=refs
        )
    chosen = tuple(bugs) if bugs is not None else tuple(BUGS)
    options = options or LiveOptions()
    find_redis_server(options.redis_server)  # refuse at once, before the simulated gate runs
    sim = run_gate(scenarios, seed=seed, bugs=chosen, refs=refs, jobs=default_jobs())
    limited = {b: why for b, why in live_limits(options).items() if b in chosen}
    live_bugs = [b for b in chosen if b not in limited]
    pairs: list[tuple[int, str | None]] = [(i, None) for i in range(len(scenarios))]
    pairs += plan(scenarios, sim, live_bugs)
    live = Matrix(scenarios, chosen, seed, refs, live=options).run(pairs, jobs, live_bugs)
    return hold_to_simulation(live, sim, limited)


def run_target_gate(
    scenarios: Sequence[Scenario],
    target: Target,
    *,
    seed: int = 0,
    options: LiveOptions | None = None,
    jobs: int = 2,
    bugs: Sequence[str] | None = None,
    refs: Mapping[str, str] | None = None,
) -> GateResult:
    """The live gate of a target that runs live only: every scenario it can take on its fixed
    service, then each of its regressions against the scenarios that claim it (their `catches`
    and the target's `caught_by`; if none, every scenario). Nothing to hold to a simulation."""
    check_live(target)
    options = options or LiveOptions()
    find_redis_server(options.redis_server)
    chosen = tuple(bugs) if bugs is not None else target.regressions
    skipped = not_applicable_to(scenarios, target)
    ran = [i for i, s in enumerate(scenarios) if s.name not in skipped]
    pairs: list[tuple[int, str | None]] = [(i, None) for i in ran]
    for bug in chosen:
        claimed = [i for i in ran if bug in catches_of(scenarios[i], target)]
        pairs += [(i, bug) for i in claimed or ran]
    matrix = Matrix(scenarios, chosen, seed, refs, options, target, not_applicable=skipped)
    live = matrix.run(pairs, jobs)
    return replace(live, mode="live")
