"""Service configuration: every duration of the incident's service, all configurable."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from reference_impl.bugs import validate_bugs


@dataclass(frozen=True)
class RedisSettings:
    """How the service talks to Redis, set explicitly rather than left to redis-py defaults.

    redis-py's default retry policy backs off for seconds, which turns an outage into hung
    workers; the service fails fast instead and answers 503.
    """

    connect_timeout: float = 0.5
    socket_timeout: float = 0.5
    retries: int = 0
    #: replicas that must hold a terminal write before the service counts it saved (Redis
    #: `WAIT`): 0 against a single Redis, 1 against a primary and a replica under Sentinel,
    #: where an acknowledged write the replica lacks is lost when the replica is promoted
    replica_acks: int = 0
    #: how long `WAIT` waits for those replicas (seconds); a write they miss stays pending
    replica_ack_timeout: float = 0.1


#: the durations a client can observe, which the harness's checker judges histories by
TIMING_FIELDS: tuple[str, ...] = (
    "result_ttl",
    "memory_ttl",
    "cleanup_interval",
    "scan_budget",
    "worker_timeout",
    "heartbeat_interval",
    "stall_timeout",
)
#: every duration of the service: each must be positive, each is scaled in live mode
DURATION_FIELDS: tuple[str, ...] = (*TIMING_FIELDS, "short_lookup_ttl")


@dataclass(frozen=True)
class ServiceConfig:
    """Timing and behaviour of one scan-service worker (seconds unless named otherwise)."""

    result_ttl: float = 300.0
    memory_ttl: float = 10.0
    cleanup_interval: float = 2.0
    scan_budget: float = 150.0
    worker_timeout: float = 180.0
    heartbeat_interval: float = 5.0
    stall_timeout: float = 30.0
    strategies: int = 14
    #: how long the lookup lives under the `short-lookup-ttl` regression
    short_lookup_ttl: float = 60.0
    redis: RedisSettings = field(default_factory=RedisSettings)
    bugs: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        for name in DURATION_FIELDS:
            if getattr(self, name) <= 0:
                raise ValueError(f"ServiceConfig.{name} must be positive")
        if self.strategies < 1:
            raise ValueError("ServiceConfig.strategies must be at least 1")
        object.__setattr__(self, "bugs", validate_bugs(self.bugs))

    def has(self, bug: str) -> bool:
        return bug in self.bugs

    @property
    def effective_budget(self) -> float:
        """The budget the service actually enforces (the regression pushes it past the timeout)."""
        if self.has("budget-over-timeout"):
            return self.worker_timeout + self.scan_budget / 3
        return self.scan_budget

    def scaled(self, factor: float) -> ServiceConfig:
        """The same configuration with every duration multiplied by `factor` (live mode)."""
        return replace(self, **{name: getattr(self, name) * factor for name in DURATION_FIELDS})
