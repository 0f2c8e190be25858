"""Configuration from `RQ_SCANS_*` environment variables; durations in seconds.

| variable | default | meaning |
| --- | --- | --- |
| `RQ_SCANS_REDIS_URL` | `redis://127.0.0.1:6379/0` | RQ's Redis: jobs, their meta and results |
| `RQ_SCANS_QUEUE` | `scans` | the RQ queue scans are enqueued on |
| `RQ_SCANS_STRATEGIES` | 14 | strategies in one scan |
| `RQ_SCANS_STRATEGY_SECONDS` | 1 | each strategy's market-data wait, inside the job |
| `RQ_SCANS_SCAN_BUDGET` | 20 | past it the job runs no more strategies and ends `partial` |
| `RQ_SCANS_JOB_TIMEOUT` | 180 | RQ's `job_timeout` (its default): the horse is killed past it |
| `RQ_SCANS_RESULT_TTL` | 500 | RQ's `result_ttl` (its default), and every job's `failure_ttl` |
| `RQ_SCANS_REDIS_TIMEOUT` | 0.5 | the web app's Redis connect and socket timeout |
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Settings", "SettingsError"]

PREFIX = "RQ_SCANS_"


class SettingsError(ValueError):
    """A setting that cannot be used; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    redis_url: str = "redis://127.0.0.1:6379/0"
    queue: str = "scans"
    strategies: int = 14
    strategy_seconds: float = 1.0
    scan_budget: float = 20.0
    job_timeout: float = 180.0
    result_ttl: float = 500.0
    redis_timeout: float = 0.5

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        base = cls()

        def number(name: str, default: float) -> float:
            raw = env.get(PREFIX + name.upper())
            if raw is None or raw == "":
                return default
            try:
                value = float(raw)
            except ValueError:
                raise SettingsError(f"{PREFIX}{name.upper()}: not a number: {raw!r}") from None
            if not (math.isfinite(value) and value > 0):
                raise SettingsError(f"{PREFIX}{name.upper()}: must be positive, got {raw!r}")
            return value

        settings = cls(
            redis_url=env.get(PREFIX + "REDIS_URL") or base.redis_url,
            queue=env.get(PREFIX + "QUEUE") or base.queue,
            strategies=int(number("strategies", base.strategies)),
            strategy_seconds=number("strategy_seconds", base.strategy_seconds),
            scan_budget=number("scan_budget", base.scan_budget),
            job_timeout=number("job_timeout", base.job_timeout),
            result_ttl=number("result_ttl", base.result_ttl),
            redis_timeout=number("redis_timeout", base.redis_timeout),
        )
        if settings.scan_budget >= settings.job_timeout:
            # RQ would kill the work-horse before the job could save its partial result.
            raise SettingsError(
                f"{PREFIX}SCAN_BUDGET ({settings.scan_budget:g}) must be shorter than "
                f"{PREFIX}JOB_TIMEOUT ({settings.job_timeout:g})"
            )
        return settings
