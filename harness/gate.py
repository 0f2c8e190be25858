"""The regression gate: the fixed service passes every scenario, every planted regression is caught.

The kill matrix runs every planted regression against every scenario. A regression that no
scenario catches fails the gate, and so does a scenario that catches nothing it claims to catch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from harness.runner import RunResult, simulate
from harness.scenario import Scenario
from reference_impl import BUGS


@dataclass(frozen=True)
class Cell:
    scenario: str
    bug: str
    caught: bool
    violated: tuple[str, ...]


@dataclass
class GateResult:
    seed: int
    baseline: list[RunResult]
    cells: list[Cell]
    bugs: tuple[str, ...]
    scenarios: tuple[str, ...]
    claims: dict[str, tuple[str, ...]] = field(default_factory=dict)

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


def run_gate(
    scenarios: Sequence[Scenario], *, seed: int = 0, bugs: Sequence[str] | None = None
) -> GateResult:
    chosen = tuple(bugs) if bugs is not None else tuple(BUGS)
    baseline = [simulate(s, seed=seed) for s in scenarios]
    cells = []
    for scenario in scenarios:
        for bug in chosen:
            result = simulate(scenario, bugs=(bug,), seed=seed)
            violated = tuple(sorted(result.verdict.violated()))
            cells.append(Cell(scenario.name, bug, bool(violated), violated))
    return GateResult(
        seed=seed,
        baseline=baseline,
        cells=cells,
        bugs=chosen,
        scenarios=tuple(s.name for s in scenarios),
        claims={s.name: tuple(b for b in s.catches if b in chosen) for s in scenarios},
    )


def format_matrix(result: GateResult, not_run: Mapping[str, str] | None = None) -> str:
    """The kill matrix as a text table: one row per regression, one column per scenario.

    Regressions in `not_run` (name -> why) were deliberately not run: marked, not ESCAPED.
    """
    skipped = not_run or {}
    names = result.scenarios
    width = max((len(b) for b in result.bugs), default=10)
    header = " " * width + " | " + " | ".join(f"S{i + 1}" for i in range(len(names))) + " | caught"
    lines = [header, "-" * len(header)]
    missing = False
    for bug in result.bugs:
        row = []
        for name in names:
            cell = next((c for c in result.cells if c.scenario == name and c.bug == bug), None)
            row.append(" -" if cell is None else " x" if cell.caught else " .")
            missing = missing or cell is None
        verdict = "yes" if result.caught_by(bug) else "not run" if bug in skipped else "ESCAPED"
        lines.append(f"{bug:<{width}} | " + " | ".join(row) + f" | {verdict}")
    lines.append("")
    lines += [f"S{i + 1} = {name}" for i, name in enumerate(names)]
    caught = len(result.bugs) - len(result.escaped)
    if missing:
        lines.append("- = not run")
    lines.append(f"{caught}/{len(result.bugs)} planted regressions caught")
    return "\n".join(lines)
