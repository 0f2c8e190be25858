"""`scanchaos load --target FILE`: which service the load runs against, with which durations and
regressions, and whether the target can take the nemesis's faults.

The reference (no `--target`) keeps its planted regressions in its configuration; another
target's regressions are its own, switched on through its environment (`LiveCluster(target=...,
regressions=...)`), and its durations are the ones its target file declares.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.load.spec import Action, PlannedFault
from harness.target import Target, TargetError, load_target
from reference_impl import ServiceConfig, validate_bugs

__all__ = ["check_faults", "load_config", "served_target"]

#: the target file's `[faults]` field each nemesis action needs
_NEEDS: dict[Action, str] = {
    "kill": "worker_kill",
    "kill-scan": "worker_kill",
    "pause": "redis_outage",
    "restart": "redis_outage",
    "failover": "replication",
    "lag": "replication",
}


def served_target(path: Path | str | None) -> Target | None:
    """The target at `path`, or None for the reference; refuses one live mode cannot serve."""
    if path is None:
        return None
    from harness.live.runner import check_live

    target = load_target(path)
    check_live(target)
    return None if target.is_reference else target


def load_config(target: Target | None, bugs: Sequence[str], scale: float = 1.0) -> ServiceConfig:
    """The service's configuration in scenario seconds (the live cluster scales it); durations
    that are wall seconds (`durations.real`) are divided by `scale`, so it runs them as they are."""
    if target is None:
        return ServiceConfig(bugs=validate_bugs(bugs))
    target.check_regressions(bugs)
    per = scale if target.spec.durations.real else 1.0
    durations: dict[str, Any] = {name: v / per for name, v in target.durations().items()}
    return ServiceConfig(strategies=target.spec.strategies, **durations)


def check_faults(target: Target | None, planned: Sequence[PlannedFault]) -> None:
    """Refuse a nemesis whose faults the target cannot take (one line naming the field)."""
    if target is None:
        return
    for fault in planned:
        field = _NEEDS[fault.action]
        if not getattr(target.spec.faults, field):
            raise TargetError(
                f"--nemesis {fault.action}: target {target.name!r} cannot take it "
                f"(faults.{field} = false in {target.ref})"
            )
