"""The kill matrix's cells and the questions every gate asks of them, in every mode.

A cell is one scenario run against one planted regression. In a live gate a cell is also held
to the simulated run of the same pair: `simulated` holds the invariants the simulation found
violated, and a cell whose live verdict disagrees is a mismatch that fails the gate, just as an
escaped regression does.

Agreeing (`agrees`) is a judgement call. Both runs pass, or both fail and share at least one
violated invariant. One regression can show through more or fewer invariants as timing shifts
(a stale memory copy read after completion breaks `terminal-is-final` as well as
`monotonic-reads` only if a read lands in that window), so equal sets would fail live gates on
timing alone; sharing none means the live run failed for another reason than the simulation
did, and a pass on one side only is an escape or a false alarm: both are mismatches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from harness.checker import Violation
from harness.history import Operation

__all__ = ["LEGEND", "Cell", "MatrixQueries", "Mismatch", "agrees"]

LEGEND = "X caught (claimed)   x caught (not claimed)   ! claimed but missed   . not caught"


def agrees(simulated: Sequence[str], live: Sequence[str]) -> bool:
    """Does a live verdict agree with the simulated one (see the module docstring)?

    >>> agrees(["monotonic-reads", "terminal-is-final"], ["monotonic-reads"])
    True
    >>> agrees([], ["no-server-errors"]), agrees(["terminates"], [])
    (False, False)
    """
    if not simulated or not live:
        return not simulated and not live
    return bool(set(simulated) & set(live))


@dataclass(frozen=True)
class Cell:
    """One scenario run against one planted regression."""

    scenario: str
    bug: str
    caught: bool
    violated: tuple[str, ...] = ()
    #: what the checker found (empty when the regression went unnoticed, or read from a file)
    violations: tuple[Violation, ...] = ()
    #: the first witness of each violation, looked up in the cell's history
    witnesses: tuple[Operation, ...] = ()
    #: wall-clock seconds the run took
    seconds: float = 0.0
    #: the command that reproduces this cell
    command: str = ""
    #: the invariants the simulation found violated for the same pair, when held to it (live)
    simulated: tuple[str, ...] | None = None

    @property
    def differs(self) -> bool:
        """Held to the simulation, and disagreeing with it (`agrees`)."""
        return self.simulated is not None and not agrees(self.simulated, self.violated)


@dataclass(frozen=True)
class Mismatch:
    """A live verdict that is not the simulated one for the same scenario and regression."""

    scenario: str
    #: None for the fixed service
    bug: str | None
    sim: tuple[str, ...]
    live: tuple[str, ...]

    def describe(self) -> str:
        what = self.bug or "fixed service"
        sim = ", ".join(self.sim) or "pass"
        live = ", ".join(self.live) or "pass"
        return f"{self.scenario} / {what}: simulation {sim}; live {live}"


class MatrixQueries:
    """What a gate asks of its cells; a gate result and a matrix read from `gate.json` alike."""

    scenarios: tuple[str, ...]
    bugs: tuple[str, ...]
    cells: list[Cell]
    claims: dict[str, tuple[str, ...]]
    #: planted regressions deliberately not run (name -> why): marked, not escaped
    not_run: dict[str, str]

    def cell(self, scenario: str, bug: str) -> Cell | None:
        return next((c for c in self.cells if c.scenario == scenario and c.bug == bug), None)

    def caught_by(self, bug: str) -> list[str]:
        return [c.scenario for c in self.cells if c.bug == bug and c.caught]

    @property
    def caught_count(self) -> int:
        """How many of the planted regressions some scenario caught."""
        return sum(1 for bug in self.bugs if self.caught_by(bug))

    @property
    def escaped(self) -> list[str]:
        return [b for b in self.bugs if b not in self.not_run and not self.caught_by(b)]

    @property
    def unmet_claims(self) -> list[tuple[str, str]]:
        """(scenario, bug) pairs the scenario claims to catch but does not."""
        caught = {(c.scenario, c.bug) for c in self.cells if c.caught}
        return [(s, b) for s, bugs in self.claims.items() for b in bugs if (s, b) not in caught]

    def cell_mismatches(self) -> list[Mismatch]:
        return [
            Mismatch(c.scenario, c.bug, c.simulated or (), c.violated)
            for c in self.cells
            if c.differs
        ]

    def mark(self, scenario: str, bug: str) -> str:
        """X caught as claimed, x caught (unclaimed), ! claimed but missed, . not caught,
        - not run (a live gate runs each regression only against the scenarios meant to catch
        it), D differs from simulation."""
        cell = self.cell(scenario, bug)
        if cell is None:
            return "-"
        if cell.differs:
            return "D"
        claimed = bug in self.claims.get(scenario, ())
        if cell.caught:
            return "X" if claimed else "x"
        return "!" if claimed else "."

    def legend(self) -> str:
        marks = {self.mark(s, b) for b in self.bugs for s in self.scenarios}
        return (
            LEGEND
            + ("   - not run" if "-" in marks else "")
            + ("   D differs from simulation" if "D" in marks else "")
        )


def claims_of(
    scenarios: Sequence[tuple[str, Sequence[str]]], chosen: Sequence[str]
) -> dict[str, tuple[str, ...]]:
    """Scenario name -> the chosen regressions it claims to catch."""
    return {name: tuple(b for b in catches if b in chosen) for name, catches in scenarios}


def baseline_mismatches(
    live: Mapping[str, tuple[str, ...]], sim: Mapping[str, tuple[str, ...]]
) -> list[Mismatch]:
    """Fixed-service runs whose live verdict disagrees with the simulated one (`agrees`)."""
    return [
        Mismatch(name, None, sim[name], violated)
        for name, violated in live.items()
        if name in sim and not agrees(sim[name], violated)
    ]
