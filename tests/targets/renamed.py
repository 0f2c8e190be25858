"""An in-process target that is not the reference: the reference's code behind its own
regression names and without replication (so failover scenarios are not applicable to it)."""

from __future__ import annotations

from dataclasses import replace

from harness.target.service import WorkerParts, WorkerService
from reference_impl.target import build as build_reference

#: this target's regression names -> the reference defect each one switches on
DEFECTS = {
    "forgets-lookup": "cleanup-ignores-redis",
    "serves-others": "no-user-scope",
}


def build(parts: WorkerParts) -> WorkerService:
    bugs = frozenset(DEFECTS[name] for name in parts.regressions)
    return build_reference(replace(parts, regressions=bugs))
