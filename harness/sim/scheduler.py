"""A discrete-event scheduler over virtual time.

Events at the same time run in the order they were scheduled, so a run is a pure function of
its inputs and seed.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from datetime import timedelta
from typing import Protocol


class VirtualClock(Protocol):
    """Moves the process's notion of time (freezegun's frozen factory fits)."""

    def tick(self, delta: timedelta) -> object: ...


class Scheduler:
    def __init__(self, clock: VirtualClock | None = None) -> None:
        self._queue: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._clock = clock
        self.now = 0.0
        # The clock moves in whole microseconds from the origin, so it never drifts from `now`.
        self._clock_us = 0

    def at(self, when: float, action: Callable[[], None]) -> None:
        if when < self.now:
            when = self.now
        heapq.heappush(self._queue, (when, next(self._seq), action))

    def after(self, delay: float, action: Callable[[], None]) -> None:
        self.at(self.now + delay, action)

    def run_until(self, end: float) -> None:
        while self._queue and self._queue[0][0] <= end:
            when, _, action = heapq.heappop(self._queue)
            self._advance(when)
            action()
        self._advance(end)

    def _advance(self, when: float) -> None:
        if when > self.now:
            self.now = when
            if self._clock is not None:
                target = round(when * 1_000_000)
                self._clock.tick(timedelta(microseconds=target - self._clock_us))
                self._clock_us = target
