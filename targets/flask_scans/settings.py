"""Configuration, read from environment variables (twelve-factor style).

Every duration is in seconds, so a test harness can pass them scaled. Defaults are the
production values.

| variable | default | meaning |
| --- | --- | --- |
| `FLASK_SCANS_REDIS_URL` | `redis://127.0.0.1:6379/0` | where scans are kept |
| `FLASK_SCANS_DATABASE_URL` | `sqlite:///strategy_stats.sqlite` | strategy stats (SQLAlchemy) |
| `FLASK_SCANS_RESULT_TTL` | 300 | how long a scan's keys live in Redis after its last write |
| `FLASK_SCANS_MEMORY_TTL` | 10 | how long a worker keeps its own copy of a scan |
| `FLASK_SCANS_CLEANUP_INTERVAL` | 2 | how often each worker's cleanup thread runs |
| `FLASK_SCANS_SCAN_BUDGET` | 150 | a scan running longer stops early and saves what it has |
| `FLASK_SCANS_WORKER_TIMEOUT` | 180 | Gunicorn's worker timeout (the budget must stay under it) |
| `FLASK_SCANS_HEARTBEAT_INTERVAL` | 5 | how often a running scan says it is alive |
| `FLASK_SCANS_STALL_TIMEOUT` | 30 | a running scan silent this long is reported lost |
| `FLASK_SCANS_STRATEGY_SECONDS` | 2 | how long each strategy's market-data call takes |
| `FLASK_SCANS_STRATEGIES` | 14 | strategies in one scan |
| `FLASK_SCANS_HANG_STRATEGIES` | (none) | strategy indexes (`3,5`) whose market data never comes |
| `FLASK_SCANS_REDIS_TIMEOUT` | 0.5 | Redis connect and socket timeout |
| `FLASK_SCANS_CLEANUP_BUG` | 0 | `1` switches the incident on: cleanup deletes the shared index |
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields

PREFIX = "FLASK_SCANS_"
REDIS_URL_ENV = "FLASK_SCANS_REDIS_URL"
DATABASE_URL_ENV = "FLASK_SCANS_DATABASE_URL"
CLEANUP_BUG_ENV = "FLASK_SCANS_CLEANUP_BUG"

#: the durations, each read from `FLASK_SCANS_<NAME upper-cased>`
DURATIONS: tuple[str, ...] = (
    "result_ttl",
    "memory_ttl",
    "cleanup_interval",
    "scan_budget",
    "worker_timeout",
    "heartbeat_interval",
    "stall_timeout",
    "strategy_seconds",
    "redis_timeout",
)

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


class SettingsError(ValueError):
    """A setting that cannot be used; the message names the variable."""


def env_name(field: str) -> str:
    """The environment variable a setting is read from: `result_ttl` -> `FLASK_SCANS_RESULT_TTL`."""
    return PREFIX + field.upper()


@dataclass(frozen=True)
class Settings:
    redis_url: str = "redis://127.0.0.1:6379/0"
    database_url: str = "sqlite:///strategy_stats.sqlite"
    result_ttl: float = 300.0
    memory_ttl: float = 10.0
    cleanup_interval: float = 2.0
    scan_budget: float = 150.0
    worker_timeout: float = 180.0
    heartbeat_interval: float = 5.0
    stall_timeout: float = 30.0
    strategy_seconds: float = 2.0
    redis_timeout: float = 0.5
    strategies: int = 14
    hang_strategies: frozenset[int] = frozenset()
    #: the incident: cleanup deletes the shared Redis index after looking only at its memory
    cleanup_bug: bool = False

    def __post_init__(self) -> None:
        for name in DURATIONS:
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise SettingsError(f"{env_name(name)}: must be a positive number, got {value}")
        if self.strategies < 1:
            raise SettingsError(f"{env_name('strategies')}: must be at least 1")
        if self.scan_budget >= self.worker_timeout:
            raise SettingsError(
                f"{env_name('scan_budget')}: the scan budget ({self.scan_budget} s) must be "
                f"shorter than the worker timeout ({self.worker_timeout} s), or Gunicorn kills "
                "the worker before the scan is saved"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        names = {f.name for f in fields(cls)}
        for name in names:
            raw = env.get(env_name(name))
            if raw is None:
                continue
            values[name] = _parse(name, raw.strip())
        return cls(**values)  # type: ignore[arg-type]


def _parse(name: str, raw: str) -> object:
    variable = env_name(name)
    if name in DURATIONS:
        try:
            return float(raw)
        except ValueError:
            raise SettingsError(f"{variable}: not a number of seconds: {raw!r}") from None
    if name == "strategies":
        try:
            return int(raw)
        except ValueError:
            raise SettingsError(f"{variable}: not a whole number: {raw!r}") from None
    if name == "hang_strategies":
        try:
            return frozenset(int(part) for part in raw.split(",") if part.strip())
        except ValueError:
            raise SettingsError(f"{variable}: not a list of strategy indexes: {raw!r}") from None
    if name == "cleanup_bug":
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        raise SettingsError(f"{variable}: expected 0 or 1, got {raw!r}")
    return raw
