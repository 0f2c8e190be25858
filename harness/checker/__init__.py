"""The one checker: judges any history against the named invariants of DESIGN.md."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from harness.checker.invariants import INVARIANTS, Invariant
from harness.checker.model import Context, LostByFault, Violation
from harness.history import History

__all__ = [
    "INVARIANTS",
    "JUDGEMENTS",
    "Checker",
    "Invariant",
    "LostByFault",
    "UnknownInvariantError",
    "Verdict",
    "Violation",
]

#: the judgement calls the checker makes, shown in every summary
JUDGEMENTS: tuple[str, ...] = (
    "A scan whose worker died is detected by its heartbeat: a `scanning` entry that has not "
    "moved for the stall timeout reads as `failed` (worker lost); `terminates` allows budget + "
    "stall timeout + heartbeat interval + cleanup interval, plus any Redis fault time.",
    "A result whose every copy the injected faults destroyed (completed while Redis was down, "
    "its worker restarted before the write was repaired) is listed as lost by fault, not counted "
    "as a violation.",
    "During a Redis fault and its recovery grace (cleanup interval + clock slack), `unavailable` "
    "and the last progress Redis held are tolerated; `not_found` never is.",
    "A request whose connection dropped without an answer (`lost`, live mode: its worker was "
    "killed by an injected fault) is no read of the result; outside every fault window it "
    "violates `no-server-errors`.",
)


class UnknownInvariantError(ValueError):
    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"unknown invariant {name!r}; known: {', '.join(INVARIANTS)}")


@dataclass(frozen=True)
class InvariantResult:
    name: str
    checked: bool
    violations: int


@dataclass
class Verdict:
    """What the checker decided about one history."""

    results: list[InvariantResult]
    violations: list[Violation] = field(default_factory=list)
    lost_by_fault: list[LostByFault] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.violations

    def violated(self) -> set[str]:
        return {v.invariant for v in self.violations}

    def to_json(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "invariants": {
                r.name: {"checked": r.checked, "violations": r.violations} for r in self.results
            },
            "violations": [v.to_json() for v in self.violations],
            "lost_by_fault": [lost.to_json() for lost in self.lost_by_fault],
            "judgements": list(JUDGEMENTS),
        }


class Checker:
    """Judges a history against a set of invariants (all of them by default).

    >>> from harness.history import History, RunInfo
    >>> Checker().check(History(RunInfo("empty"))).passed
    True
    """

    def __init__(self, invariants: Iterable[str] | None = None) -> None:
        names = list(INVARIANTS) if invariants is None else list(invariants)
        for name in names:
            if name not in INVARIANTS:
                raise UnknownInvariantError(name)
        self.invariants = [INVARIANTS[name] for name in names]

    def check(self, history: History) -> Verdict:
        ctx = Context(history)
        checked = {inv.name for inv in self.invariants}
        violations: list[Violation] = []
        results = []
        for name, inv in INVARIANTS.items():
            found = inv.check(ctx) if name in checked else []
            results.append(InvariantResult(name, name in checked, len(found)))
            violations.extend(found)
        violations.sort(key=lambda v: (v.at, v.invariant, v.scan_id or ""))
        lost = [
            lost for facts in ctx.scans.values() if (lost := ctx.lost_by_fault(facts)) is not None
        ]
        return Verdict(results, violations, lost)
