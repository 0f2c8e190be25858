"""A simulated worker, the scan it runs, and how one strategy call passes in virtual time."""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.sim.scheduler import Scheduler
from harness.target.service import WorkerRun, WorkerService
from reference_impl import Reply, StrategyCall, StrategyOutcome

__all__ = ["ActiveScan", "SimWorker", "advance", "schedule_call"]


@dataclass
class ActiveScan:
    run: WorkerRun
    steps: Any  # the generator driving the scan
    user: str
    label: str | None
    requested: float
    #: bumped on every strategy, so stale heartbeat and completion events are ignored
    token: int = 0


@dataclass
class SimWorker:
    index: int
    service: WorkerService
    generation: int = 0
    active: ActiveScan | None = None
    waiting: deque[Callable[[], None]] = field(default_factory=deque)

    @property
    def name(self) -> str:
        return f"w{self.index}"

    @property
    def busy(self) -> bool:
        return self.active is not None


def schedule_call(
    scheduler: Scheduler,
    rng: random.Random,
    jitter: float,
    call: StrategyCall,
    current: Callable[[], bool],
    resume: Callable[[StrategyOutcome], None],
) -> None:
    """Schedule `call`'s heartbeats and its outcome; `resume` gets the outcome unless `current()`
    says the scan was overtaken meanwhile (its worker killed, a newer step begun)."""
    # Upstream latency varies from call to call, so events do not all land on round times.
    duration = call.duration * rng.uniform(1 - jitter, 1 + jitter)
    timed_out = duration > call.timeout
    wait = call.timeout if timed_out else duration

    def beat() -> None:
        if current():
            call.beat()

    def done() -> None:
        if not current():
            return
        if timed_out:
            result = StrategyOutcome(timed_out=True)
        else:
            try:
                result = StrategyOutcome(opportunities=call.run())
            except Exception as error:
                result = StrategyOutcome(error=error)
        resume(result)

    if math.isinf(wait):
        return
    beats = int(wait // call.beat_interval)
    for k in range(1, beats + 1):
        if k * call.beat_interval < wait:
            scheduler.after(k * call.beat_interval, beat)
    scheduler.after(wait, done)


def advance(
    scheduler: Scheduler,
    rng: random.Random,
    jitter: float,
    worker: SimWorker,
    active: ActiveScan,
    outcome: StrategyOutcome | None,
    finish: Callable[[Reply], None],
) -> None:
    """Run `active`'s scan on `worker` (given the last strategy's `outcome`) up to its next
    strategy call and schedule that; `finish` gets the scan's reply when it ends, or a 500 when
    the service raised."""
    try:
        call: StrategyCall = next(active.steps) if outcome is None else active.steps.send(outcome)
    except StopIteration as stop:
        finish(stop.value)
        return
    except Exception as error:
        finish(
            Reply("error", scan_id=active.run.scan_id, reason=f"{type(error).__name__}: {error}")
        )
        return
    active.token += 1
    token = active.token
    generation = worker.generation

    def current() -> bool:
        return worker.generation == generation and worker.active is active and active.token == token

    def resume(outcome: StrategyOutcome) -> None:
        advance(scheduler, rng, jitter, worker, active, outcome, finish)

    schedule_call(scheduler, rng, jitter, call, current, resume)
