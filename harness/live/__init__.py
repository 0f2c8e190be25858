"""Live mode: the scenarios on a real `redis-server` and real Gunicorn workers on 127.0.0.1."""

from harness.live.cluster import (
    LiveCluster,
    LiveClusterError,
    RedisServerMissing,
    find_redis_server,
    live_config,
)

__all__ = [
    "LiveCluster",
    "LiveClusterError",
    "RedisServerMissing",
    "find_redis_server",
    "live_config",
]
