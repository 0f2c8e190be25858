"""Runs strategies on threads, with the scan budget as a timeout and heartbeats while waiting."""

from __future__ import annotations

import math
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from reference_impl.entry import Opportunity
from reference_impl.service import StrategyCall, StrategyOutcome


class ThreadedExecutor:
    """Runs each strategy on a worker thread, waiting at most the budget left.

    The strategy's duration stands for its upstream latency and is spent waiting on an event, so
    `shutdown()` releases hung strategies at once.
    """

    def __init__(self, max_threads: int = 4) -> None:
        self._pool = ThreadPoolExecutor(max_workers=max_threads, thread_name_prefix="strategy")
        self._stopping = threading.Event()

    def run(self, call: StrategyCall) -> StrategyOutcome:
        future: Future[tuple[Opportunity, ...]] = self._pool.submit(self._work, call)
        deadline = time.monotonic() + call.timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                future.cancel()
                return StrategyOutcome(timed_out=True)
            try:
                return StrategyOutcome(
                    opportunities=future.result(timeout=min(remaining, call.beat_interval))
                )
            except FutureTimeout:
                call.beat()
            except Exception as error:  # the strategy's own failure, reported to the scan
                return StrategyOutcome(error=error)

    def _work(self, call: StrategyCall) -> tuple[Opportunity, ...]:
        wait = None if math.isinf(call.duration) else call.duration
        if self._stopping.wait(wait):
            raise RuntimeError("executor shut down")
        return call.run()

    def shutdown(self) -> None:
        self._stopping.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
