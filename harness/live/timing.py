"""Live mode's time scale and clock slack: what every live run (scenario or load) shares.

Kept free of process and HTTP code so that a Locust process can import it.
"""

from __future__ import annotations

from dataclasses import replace

from reference_impl.config import RedisSettings, ServiceConfig

__all__ = [
    "DEFAULT_SCALE",
    "MIN_ACK_TIMEOUT",
    "MIN_REDIS_TIMEOUT",
    "WALL_SLACK",
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
