"""The coverage signal: which kinds of step, fault and gap were exercised, which paths reached."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import harness.scenario as sc
from harness.explore.placement import Placed
from harness.explore.schedule import Begin, Failover, Outage, Restart, Schedule, Watch, gap_class
from harness.history import History
from reference_impl import ServiceConfig, StrategyProfile

#: the service's interesting paths, as its probe names them; each should be reached at least once
PATHS: tuple[str, ...] = (
    "redis-fallback",
    "memory-restored",
    "cleanup-kept-mapping",
    "write-deferred",
    "write-repaired",
    "orphan-marked-failed",
    "write-unacked",
    "primary-changed",
)

#: what the history shows happened, beyond the probe's paths
OUTCOMES: tuple[str, ...] = (
    "scan complete",
    "scan partial (budget exhausted)",
    "scan failed (worker lost)",
    "start refused: redis unavailable",
    "read answered unavailable (503)",
    "read answered not_found (404)",
    "read served from another worker's memory",
    "worker killed by the worker timeout",
    "result lost by fault",
)


@dataclass
class Coverage:
    """Counts over every schedule run (shrinking runs included)."""

    schedules: int = 0
    steps: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    gaps: Counter[str] = field(default_factory=Counter)
    paths: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)

    def merge(self, other: Coverage) -> None:
        self.schedules += other.schedules
        self.steps.update(other.steps)
        self.faults.update(other.faults)
        self.gaps.update(other.gaps)
        self.paths.update(other.paths)
        self.outcomes.update(other.outcomes)

    def probe(self, _worker: str, event: str) -> None:
        self.paths[event] += 1

    @property
    def unreached(self) -> list[str]:
        """Interesting paths of the service no schedule reached."""
        return [p for p in PATHS if not self.paths[p]]

    def count_schedule(self, schedule: Schedule, placed: list[Placed], cfg: ServiceConfig) -> None:
        self.schedules += 1
        profile = schedule.setup.profile
        if profile.hang:
            self.faults["strategies hang"] += 1
        if profile.seconds != StrategyProfile().seconds:
            self.faults[f"strategies take {profile.seconds:g} s"] += 1
        for p in placed:
            if p.healing and isinstance(p.action, Restart):
                self.gaps["restart followed by the scan's owner"] += 1
            elif p.healing:
                assert isinstance(p.action, (Outage, Failover))
                self.gaps[f"redis heals: {p.action.heal}"] += 1
            else:
                self.gaps[gap_class(p.action.gap, cfg)] += 1
            item = p.item
            how = ""
            if isinstance(item, (sc.Start, sc.Poll)):
                how = " (load balancer)" if item.worker is None else " (pinned worker)"
            if isinstance(item, sc.Start):
                self.steps["start" + how] += 1
            elif isinstance(item, sc.Poll):
                self.steps["poll" + how] += 1
                if item.user is not None:
                    self.steps["poll as another user"] += 1
                if item.until > item.start:
                    self.steps["poll, repeated"] += 1
                if item.fanout > 1:
                    self.steps["poll, concurrent"] += 1
            elif isinstance(item, sc.Latest):
                self.steps["latest"] += 1
            elif isinstance(item, sc.RestartWorker):
                if item.worker is not None:
                    self.faults["worker restart (by index)"] += 1
                elif item.idle:
                    self.faults["worker restart (an idle one)"] += 1
                else:
                    self.faults["worker restart (the one running a scan)"] += 1
            elif isinstance(item, sc.RedisOutage):
                self.faults["redis outage"] += 1
            elif isinstance(item, sc.ReplicaLag):
                self.faults["redis replica lag"] += 1
            elif isinstance(item, sc.RedisFailover):
                self.faults["redis failover"] += 1
            elif isinstance(item, sc.DropColumn):
                self.faults["column dropped"] += 1
            elif isinstance(p.action, (Watch, Restart)):
                self.steps["no-op (no scan to aim at)"] += 1
            elif not isinstance(p.action, Begin):
                self.steps["no-op"] += 1

    def count_history(self, history: History, lost: int) -> None:
        seen: set[str] = set()
        for f in history.faults:
            if f.fault == "worker-timeout":
                seen.add("worker killed by the worker timeout")
        starters = {op.scan_id: op.worker for op in history.ops if op.op == "start"}
        for op in history.ops:
            status, reason = op.reply.status, op.reply.reason or ""
            if op.op == "start":
                if status == "complete":
                    seen.add("scan complete")
                elif status == "partial":
                    seen.add("scan partial (budget exhausted)")
                elif status == "unavailable":
                    seen.add("start refused: redis unavailable")
                continue
            if status == "failed" and "lost" in reason:
                seen.add("scan failed (worker lost)")
            elif status == "unavailable":
                seen.add("read answered unavailable (503)")
            elif status == "not_found":
                seen.add("read answered not_found (404)")
            if op.reply.source == "memory" and starters.get(op.scan_id) not in (None, op.worker):
                seen.add("read served from another worker's memory")
        if lost:
            seen.add("result lost by fault")
        self.outcomes.update(seen)
