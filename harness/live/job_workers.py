"""Job workers of a live cluster: RQ's `WorkerPool` on the cluster's Redis, and its faults.

A target with `[jobs] kind = "rq"` answers a start request at once and leaves the scan to RQ
workers; the cluster starts them beside Gunicorn (`harness.live.rq_pool`, under
`harness.live.processes.popen`: recorded, and dying with the harness) and stops them before
Redis. "Restart the worker running scan X" is aimed at the RQ worker whose job is X (the scan
id is the job id; the job names its worker, the worker's key its pid), killed in one of two
ways (`KillKind`): `worker`, SIGKILL to the worker and its work-horse (the pool respawns the
worker within a second; nobody tells RQ the job died), or `horse`, SIGKILL to the work-horse
only (its worker sees it die and fails the job at once). Either way the fault's window lasts
until the pool is whole again.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Collection
from dataclasses import KW_ONLY, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import psutil
import redis

from harness.live.processes import live_children, popen, snapshot, wait_gone
from harness.live.redis_server import LiveClusterError

if TYPE_CHECKING:
    from harness.live.schedule import LiveSchedule
    from harness.target._model import JobsSection

__all__ = ["KILL_KINDS", "JobWorkers", "KillKind", "restart_job"]

KillKind = Literal["worker", "horse"]
KILL_KINDS: tuple[KillKind, ...] = ("worker", "horse")
#: wall seconds for the pool's workers to register, and for a respawn
READY_TIMEOUT = 30.0


@dataclass
class JobWorkers:
    """RQ's `WorkerPool` with `spec.workers` workers on `spec.queue`, started and stopped."""

    spec: JobsSection
    _: KW_ONLY
    redis_url: str
    #: a client of the cluster's Redis, asked which worker runs which job
    client: Callable[[], redis.Redis]
    #: folders the pool's processes import the target from
    folders: list[str]
    env: dict[str, str]
    log: Path
    kill: KillKind = "worker"
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    def command(self) -> list[str]:
        spec = self.spec
        command = [sys.executable, "-m", "harness.live.rq_pool", "--redis-url", self.redis_url]
        command += ["--queue", spec.queue, "--workers", str(spec.workers)]
        command += ["--job-monitoring-interval", str(spec.job_monitoring_interval)]
        command += ["--maintenance-interval", str(spec.maintenance_interval)]
        command += ["--worker-ttl", str(spec.worker_ttl)]
        for folder in self.folders:
            command += ["--path", folder]
        return command

    def start(self) -> None:
        with self.log.open("ab") as sink:
            self._proc = popen(
                self.command(),
                what="rq worker pool",
                env={**os.environ, **self.env},
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        self.wait_ready()

    @property
    def pool_pid(self) -> int:
        if self._proc is None:
            raise LiveClusterError("the RQ worker pool is not running")
        return self._proc.pid

    def worker_pids(self) -> list[int]:
        """The pool's live workers, oldest first."""
        return live_children(self.pool_pid)

    def registered(self) -> dict[str, int]:
        """RQ's view: worker name -> pid, of the workers registered on the queue."""
        from rq import Queue, Worker

        client = self.client()
        try:
            workers = Worker.all(queue=Queue(self.spec.queue, connection=client))
            return {w.name: int(w.pid) for w in workers if w.pid is not None}
        finally:
            client.close()

    def wait_ready(self, timeout: float = READY_TIMEOUT, gone: Collection[int] = ()) -> None:
        """Until the pool runs its full count, none in `gone`, each registered with RQ."""
        deadline = time.monotonic() + timeout
        while True:
            if self._proc is not None and self._proc.poll() is not None:
                raise LiveClusterError(f"the RQ worker pool exited; see {self.log}")
            pids = self.worker_pids()
            with contextlib.suppress(redis.RedisError):
                if (
                    len(pids) == self.spec.workers
                    and not set(gone) & set(pids)
                    and set(pids) <= set(self.registered().values())
                ):
                    return
            if time.monotonic() > deadline:
                raise LiveClusterError(f"timed out after {timeout:.0f} s waiting for RQ workers")
            time.sleep(0.05)

    def running(self, job_id: str) -> int | None:
        """The pid of the live worker running job `job_id` now, if one is."""
        from rq.exceptions import NoSuchJobError
        from rq.job import Job, JobStatus

        client = self.client()
        try:
            job = Job.fetch(job_id, connection=client)
            if job.get_status(refresh=False) != JobStatus.STARTED or not job.worker_name:
                return None
            pid = self.registered().get(job.worker_name)
        except (NoSuchJobError, redis.RedisError):
            return None
        finally:
            client.close()
        return pid if pid in self.worker_pids() else None

    def horse_of(self, worker: int) -> int | None:
        """The work-horse of `worker`: the child RQ put in a process group of its own (the
        worker holding RQ's scheduler lock has its scheduler as a child too)."""
        for child in _children(worker):
            pid: int = child.pid
            with contextlib.suppress(ProcessLookupError):
                if os.getpgid(pid) == pid:
                    return pid
        return None

    def kill_running(self, worker: int) -> int:
        """SIGKILL what `self.kill` says of `worker`: its work-horse, or (also when it has
        none) the worker with every child it has; the pid named first."""
        horse = self.horse_of(worker)
        if self.kill == "horse" and horse is not None:
            procs = snapshot([horse])
        else:
            procs = snapshot([worker, *(c.pid for c in _children(worker))])
        for proc in procs:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.send_signal(signal.SIGKILL)
        wait_gone(procs, 5.0)
        return procs[0].pid if procs else worker

    def stop(self) -> None:
        """SIGKILL the pool, its workers and their horses (a job in flight is the run's end),
        and wait until every one of them is gone."""
        if self._proc is None:
            return
        try:
            procs = snapshot([self.pool_pid])
            with contextlib.suppress(psutil.NoSuchProcess):
                procs += psutil.Process(self.pool_pid).children(recursive=True)
            for proc in procs:
                with contextlib.suppress(psutil.NoSuchProcess):
                    proc.send_signal(signal.SIGKILL)
            wait_gone(procs, 5.0)
            self._proc.wait(timeout=5.0)
        finally:
            self._proc = None


def _children(pid: int) -> list[psutil.Process]:
    try:
        return list(psutil.Process(pid).children())
    except psutil.NoSuchProcess:
        return []


def restart_job(schedule: LiveSchedule, label: str) -> None:
    """Kill the job worker running `label`'s scan, if one runs it now (as in simulation, a
    restart aimed at a scan that is not running finds nothing to kill), and record the window
    until the pool is whole again."""
    jobs = schedule.cluster.jobs
    scan_id = schedule.scan_ids.get(label)
    worker = jobs.running(scan_id) if jobs is not None and scan_id is not None else None
    if jobs is None or worker is None:
        return
    began = schedule._now()
    what = f"rq-{jobs.kill}-{worker}"
    with schedule.lock:
        schedule.history.fault_begins("worker-restart", began, what)
    try:
        jobs.kill_running(worker)
        jobs.wait_ready(gone=(worker,) if jobs.kill == "worker" else ())
    finally:
        with schedule.lock:
            schedule.history.fault("worker-restart", began, schedule._now(), what)
