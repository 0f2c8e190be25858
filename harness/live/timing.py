"""Live mode's time scale and clock slack: what every live run (scenario or load) shares.

Kept free of process and HTTP code so that a Locust process can import it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from reference_impl.config import RedisSettings, ServiceConfig

__all__ = [
    "DEFAULT_SCALE",
    "MIN_ACK_TIMEOUT",
    "MIN_REDIS_TIMEOUT",
    "WALL_SLACK",
    "ScenarioClock",
    "default_slack",
    "live_config",
]

#: wall seconds per scenario second (0.05: a 300 s TTL lasts 15 s of wall time)
DEFAULT_SCALE = 0.05
#: wall seconds: the shortest Redis socket timeout a worker gets, whatever the scale (on a
#: loaded machine a shorter one would read as an outage that was never injected)
MIN_REDIS_TIMEOUT = 0.25
#: wall seconds: the shortest `WAIT` for a replica's acknowledgement a worker gets (a replica on
#: loopback answers within a millisecond when in sync; a lagging one costs this much per write)
MIN_ACK_TIMEOUT = 0.02
#: wall seconds of clock noise the checker tolerates, whatever the scale
WALL_SLACK = 0.3


def default_slack(scale: float) -> float:
    """Scenario seconds of slack for real clocks: `WALL_SLACK` wall seconds, at least 2."""
    return max(2.0, WALL_SLACK / scale)


def live_config(config: ServiceConfig, scale: float) -> ServiceConfig:
    """`config` as the workers run it: every duration scaled, Redis timeouts floored."""
    scaled = config.scaled(scale)
    r = config.redis
    return replace(
        scaled,
        redis=RedisSettings(
            connect_timeout=max(MIN_REDIS_TIMEOUT, r.connect_timeout * scale),
            socket_timeout=max(MIN_REDIS_TIMEOUT, r.socket_timeout * scale),
            retries=r.retries,
            replica_acks=r.replica_acks,
            replica_ack_timeout=max(MIN_ACK_TIMEOUT, r.replica_ack_timeout * scale),
        ),
    )


@dataclass
class ScenarioClock:
    """Scenario seconds since `start()`, from a `time.time()` or a `time.monotonic()` reading.

    >>> clock = ScenarioClock(scale=0.05, wall0=100.0, mono0=7.0)
    >>> clock.from_wall(101.0), clock.from_monotonic(8.0), clock.monotonic_at(20.0)
    (20.0, 20.0, 8.0)
    """

    scale: float
    wall0: float = 0.0
    mono0: float = 0.0

    def start(self) -> None:
        self.wall0, self.mono0 = time.time(), time.monotonic()

    def from_wall(self, t: float) -> float:
        return (t - self.wall0) / self.scale

    def from_monotonic(self, t: float) -> float:
        return (t - self.mono0) / self.scale

    def monotonic_at(self, scenario_t: float) -> float:
        """The `time.monotonic()` reading at which scenario time `scenario_t` falls."""
        return self.mono0 + scenario_t * self.scale
