"""The reference service as an in-process target: `targets/reference.toml` names `build`."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from reference_impl.bugs import validate_bugs
from reference_impl.performance import PerformanceStore
from reference_impl.service import ScanService

if TYPE_CHECKING:
    from harness.target.service import WorkerParts

__all__ = ["build"]


def build(parts: WorkerParts) -> ScanService:
    """One reference worker; the run's regressions are the catalogue's planted ones."""
    config = replace(parts.config, bugs=validate_bugs(parts.regressions))
    return ScanService(
        config=config,
        redis_client=parts.redis_client,
        performance=PerformanceStore(
            parts.engine, select_all_columns=config.has("select-all-columns")
        ),
        profile=parts.profile,
        new_id=parts.new_id,
        probe=parts.probe,
    )
