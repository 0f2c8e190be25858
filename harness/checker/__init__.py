"""The one checker: judges any history against the named invariants of the service contract."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from harness.checker._common import describe
from harness.checker._parts import Judged, settled
from harness.checker.invariants import INVARIANTS, Invariant
from harness.checker.model import SHOWN, Context, LostByFault, Violation
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
    "its worker restarted before the write was repaired; or lacked by the replica a failover "
    "promoted (its record names the scan, or the replica lagged since before the scan began or "
    "completed), its worker restarted after the scan was sent and before the failover's grace "
    "ended, and every worker that may have kept a copy to write back restarted in turn before "
    "that end (one that may have written a result between that restart and the primary's "
    "death, which it keeps until a replica has it: one whose reply says it judged the result "
    "(`source` `judged`), or, when replies do not say, the first to show it `failed` after the "
    "restart or after a Redis fault began and any that showed it `failed` in a Redis fault; "
    "the first to show a result after a failover began; any that went unanswered; and one whose "
    "copy, read by id or through `latest`, lived until the promotion: a memory TTL from when it "
    "read it from Redis, by the reply's `source`, or from the reply when it does not say; a "
    "failover record without its promotion time is judged as if it came at the death) is "
    "listed as lost by fault, not counted as a violation; a result the service records anew "
    "after the loss (a stalled copy judged failed) expires from its own end.",
    "During a Redis fault and its recovery grace (cleanup interval + clock slack), `unavailable` "
    "and the last progress Redis held are tolerated; `not_found` never is. After a failover the "
    "grace is longer by twice the longer of the cleanup and heartbeat intervals: every worker "
    "notices the new primary at its next contact and doubts a missing key as long again. Redis "
    "faults that follow one another within their graces are one chain, excused to its end: a "
    "fault that begins before the chain's last end plus the longest grace in it joins it.",
    "A request whose connection dropped without an answer (`lost`, live mode: its worker was "
    "killed by an injected fault) is no read of the result; outside every fault window it "
    "violates `no-server-errors`.",
    "A scan is reachable from the first reply that showed it (its start, or the first read "
    "that returned it) until completion + result TTL; a scan never seen terminal until its start "
    "+ result TTL. A `latest` that names no scan is attributed to the newest of the user's scans "
    "whose window holds the read.",
    "Inside a Redis fault and its grace, `scanning` is tolerated only while Redis may not yet "
    "hold the terminal result (the scan ended during or just before the fault, or for a "
    "failover after a replica lag it was in began); a changed terminal result is never "
    "tolerated, in or out of a fault.",
    "A scan counts as begun for `latest-is-newest` once any reply carried its service start "
    "time; scans begun within the clock slack of each other are both acceptable answers.",
    "Lost by fault exempts only the reads that start after the fault that destroyed the last "
    "copy; reads before it are judged as usual.",
    "After a Redis outage longer than the stall timeout, a scan whose worker lived may end "
    "`failed` (worker lost): no worker can tell its missed heartbeats from a dead worker's. It "
    "passes as long as every client is told that one result; a `complete` told before it "
    "fails `terminal-is-final`.",
    "A history with a request the service refused as malformed (`bad_request`), with no "
    "operation, or whose every start request was refused, proves nothing: its verdict is "
    "unknown (exit 2), never a pass.",
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
    #: why the history cannot be judged (empty when it can); an unknown verdict never passes
    unknown: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.violations and not self.unknown

    @property
    def outcome(self) -> str:
        """`pass`, `fail` (an invariant violated) or `unknown` (nothing could be judged)."""
        if self.violations:
            return "fail"
        return "unknown" if self.unknown else "pass"

    def violated(self) -> set[str]:
        return {v.invariant for v in self.violations}

    def to_json(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "outcome": self.outcome,
            "unknown": list(self.unknown),
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
    >>> Checker().check(History(RunInfo("empty"))).outcome
    'unknown'
    """

    def __init__(self, invariants: Iterable[str] | None = None) -> None:
        names = list(INVARIANTS) if invariants is None else list(invariants)
        for name in names:
            if name not in INVARIANTS:
                raise UnknownInvariantError(name)
        self.invariants = [INVARIANTS[name] for name in names]

    def check(self, history: History, jobs: int = 1) -> Verdict:
        """The verdict on `history`; `jobs` > 1 judges it in that many processes, split by
        scan owner (`harness.checker._parts`), with the same verdict."""
        with settled():
            if jobs > 1:
                from harness.checker._parts import judge_in_parts

                parts = judge_in_parts(history, jobs, self._judge)
            else:
                parts = [self._judge(Context(history))]
        checked = {inv.name for inv in self.invariants}
        violations: list[Violation] = []
        results = []
        for name in INVARIANTS:
            found = [v for part in parts for v in part.found[name]]
            results.append(InvariantResult(name, name in checked, len(found)))
            violations.extend(found)
        # Evidence last: two violations alike in the rest come from two users, in any part.
        violations.sort(key=lambda v: (v.at, v.invariant, v.scan_id or "", v.evidence))
        lost = sorted((item for part in parts for item in part.lost), key=lambda item: item[0])
        return Verdict(results, violations, [item[1] for item in lost], unknown_reasons(history))

    def _judge(self, ctx: Context) -> Judged:
        checked = {inv.name for inv in self.invariants}
        found = {
            name: inv.check(ctx) if name in checked else [] for name, inv in INVARIANTS.items()
        }
        lost = [
            (facts.ops[0].index, lost)
            for facts in ctx.scans.values()
            if (lost := ctx.lost_by_fault(facts)) is not None
        ]
        return Judged(found, lost)


def unknown_reasons(history: History) -> list[str]:
    """Why `history` proves nothing about the service, if it does not.

    A request the service refused as malformed means the scenario or client sent what the
    service does not accept; a history with no operation, or whose every start was refused,
    judged nothing.
    """
    reasons = []
    refused = [op for op in history.ops if op.reply.status == "bad_request"]
    if refused:
        reasons.append(
            f"{len(refused)} request(s) refused as malformed (bad_request): the scenario or client "
            f"sent ids the service does not accept; first: {describe(refused[0])}"
        )
    if not history.ops:
        reasons.append("the history holds no operation: there was nothing to judge")
    starts = [op for op in history.ops if op.op == "start"]
    if (
        starts
        and all(op.scan_id is None for op in starts)
        and not any(op.reply.status in SHOWN for op in history.ops)
    ):
        reasons.append(
            f"no scan was started: all {len(starts)} start request(s) were refused, so there "
            "was nothing to judge"
        )
    return reasons
