"""Waiting on a condition with a deadline, the one way tests wait for a process to get somewhere."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(condition: Callable[[], T], timeout: float, interval: float = 0.02) -> T:
    """Call `condition` every `interval` seconds until it returns something true or `timeout`
    seconds have passed; return its last value (false when the deadline passed first)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)
