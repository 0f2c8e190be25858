"""The scan as an RQ job: what the work-horse runs.

Progress goes into the job's own `meta` (`done`, `progress_at`) through `job.save_meta()` after
every strategy, so a status read sees it while the job runs. The job returns its outcome:
`{"outcome": "complete" | "partial", "done": n, "reason": ...}`; RQ keeps it as the job's
result for `result_ttl`.
"""

from __future__ import annotations

import time
from typing import Any

from rq import get_current_job

__all__ = ["BUDGET_REASON", "run_scan"]

BUDGET_REASON = "scan budget exhausted"


def run_scan(strategies: int, strategy_seconds: float, budget: float) -> dict[str, Any]:
    """Run `strategies` strategies of `strategy_seconds` each; stop before one that would
    start after `budget` seconds and return what is done as `partial`."""
    job = get_current_job()
    began = time.monotonic()
    done = 0
    for _ in range(strategies):
        if time.monotonic() - began >= budget:
            return {"outcome": "partial", "done": done, "reason": BUDGET_REASON}
        time.sleep(strategy_seconds)  # the strategy's market-data call
        done += 1
        if job is not None:
            job.meta["done"] = done
            job.meta["progress_at"] = time.time()
            job.save_meta()  # type: ignore[no-untyped-call]
    return {"outcome": "complete", "done": done, "reason": None}
