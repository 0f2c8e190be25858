"""The nemesis: breaks the live cluster on a schedule while the load runs, and logs each fault.

It runs on a thread of the harness process, beside the Locust subprocess. Each fault's window
(from the first signal to the moment the cluster is whole again, as `harness.live.faults`
defines it for every mode) goes to the run's fault log in wall-clock time; the merge turns it
into `FaultEvent`s, so the checker knows when `unavailable` and dropped connections are excused.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness.live.faults import (
    Breakable,
    OutageKind,
    failover,
    lag,
    redis_down,
    redis_up,
    restart,
)
from harness.load.record import append_fault, append_fault_begun
from harness.load.spec import PlannedFault


@dataclass
class NemesisStats:
    """What the nemesis did, counted by name, and the errors it met.

    `done` counts `kills`, `scan_kills` (kills aimed at a worker running a scan), `skipped`
    (`kill-scan`s with no scan running), Redis `pauses` and `restarts`, `failovers` and `lags`.
    """

    done: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        done = self.done
        text = (
            f"{done['kills']} kills ({done['scan_kills']} of a scan's worker), "
            f"{done['pauses']} Redis pauses, {done['restarts']} Redis restarts"
        )
        if done["failovers"] or done["lags"]:
            text += f", {done['failovers']} failovers, {done['lags']} replica lags"
        skipped = done["skipped"]
        return text + (f", {skipped} kill-scan skipped (no scan)" if skipped else "")


class Nemesis:
    """Runs `plan` against `cluster` from `start()` on; `stop()` ends it with Redis up."""

    def __init__(
        self,
        plan: list[PlannedFault],
        cluster: Breakable,
        folder: Path,
        *,
        seed: int = 0,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.plan = plan
        self.cluster = cluster
        self.folder = folder
        self.stats = NemesisStats()
        self._rng = random.Random(seed)
        self._now = now
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="nemesis", daemon=True)
        self._origin = 0.0

    def start(self) -> None:
        self._origin = self._now()
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop before the next fault; a fault in progress is finished (Redis brought back)."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def join(self, timeout: float) -> bool:
        """Wait for the whole plan to have run; True when it has."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _wait_until(self, offset: float) -> bool:
        """Wait until `offset` seconds after the start; False when asked to stop first."""
        remaining = self._origin + offset - self._now()
        return not (remaining > 0 and self._stopping.wait(remaining))

    def _run(self) -> None:
        for fault in self.plan:
            if self._stopping.is_set() or not self._wait_until(fault.at):
                return
            try:
                if fault.action in ("kill", "kill-scan"):
                    self._kill(fault.action == "kill-scan")
                elif fault.action == "failover":
                    self._failover(fault)
                elif fault.action == "lag":
                    self._lag(fault)
                else:
                    self._redis(fault)
            except Exception as error:  # reported in the summary; the run goes on
                self.stats.errors.append(f"{fault.action} at {fault.at:g} s: {error}")

    def _kill(self, scanning: bool) -> None:
        pids = self.cluster.worker_pids()
        candidates = sorted(self.cluster.running_scans()) if scanning else sorted(pids)
        if not candidates:
            if scanning:
                self.stats.done["skipped"] += 1
                return
            raise RuntimeError("no worker to kill")
        victim = self._rng.choice(candidates)

        def killed(began: float, ended: float) -> None:
            self.stats.done["kills"] += 1
            self.stats.done["scan_kills"] += scanning
            append_fault(self.folder, "worker-restart", began, ended, str(victim))

        def opened(began: float) -> None:
            append_fault_begun(self.folder, "worker-restart", began, str(victim))

        # The window lasts until the master's replacement is ready to serve: requests that
        # reach the cluster meanwhile may be dropped or wait.
        restart(self.cluster, victim, killed, self._now, opened)

    def _redis(self, fault: PlannedFault) -> None:
        kind: OutageKind = "pause" if fault.action == "pause" else "stop"
        began = self._now()
        append_fault_begun(self.folder, "redis-outage", began)
        redis_down(self.cluster, kind)
        try:
            # Even when asked to stop, Redis stays down for its full length: the window in the
            # log must be the window that happened.
            remaining = began + fault.length - self._now()
            if remaining > 0:
                time.sleep(remaining)
        finally:
            redis_up(self.cluster, kind)
            if kind == "pause":
                self.stats.done["pauses"] += 1
            else:
                self.stats.done["restarts"] += 1
            append_fault(self.folder, "redis-outage", began, self._now())

    def _failover(self, fault: PlannedFault) -> None:
        def window(began: float, ended: float, what: str, promoted: float | None) -> None:
            self.stats.done["failovers"] += 1
            append_fault(self.folder, "redis-failover", began, ended, what, promoted=promoted)

        def opened(began: float) -> None:
            append_fault_begun(self.folder, "redis-failover", began)

        def rejoin_at(promoted: float) -> None:
            # Not before `+LENGTH` after the kill, not before the promotion; not cut short by
            # a stop either: the log must hold the window that happened.
            remaining = self._origin + fault.end - self._now()
            if remaining > 0:
                time.sleep(remaining)

        failover(self.cluster.replication(), window, self._now, rejoin_at, opened)

    def _lag(self, fault: PlannedFault) -> None:
        pair = self.cluster.replication()
        began = self._now()
        append_fault_begun(self.folder, "replica-lag", began)
        lag(pair, begins=True)
        try:
            remaining = began + fault.length - self._now()
            if remaining > 0:
                time.sleep(remaining)
        finally:
            lag(pair, begins=False)
            self.stats.done["lags"] += 1
            append_fault(self.folder, "replica-lag", began, self._now())
