"""Live mode: the scenarios on a real `redis-server` and real Gunicorn workers on 127.0.0.1.

The names below are imported on first use: `harness.live.timing` is read by Locust processes,
which need none of the process management.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["LiveCluster", "LiveClusterError", "RedisServerMissing", "find_redis_server"]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'harness.live' has no attribute {name!r}")
    return getattr(importlib.import_module("harness.live.cluster"), name)
