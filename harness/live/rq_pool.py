"""RQ's own `WorkerPool`, run for a live cluster: `python -m harness.live.rq_pool ...`.

The `rq worker-pool` command of rq 3.0.0 hands its workers none of the worker settings
(`WorkerPool` builds each worker with RQ's defaults for the job monitoring interval, the
maintenance interval and the worker TTL), so this launcher runs the same `WorkerPool` with a
`Worker` subclass that takes them from its command line. Nothing else of RQ changes: the pool
respawns a dead worker within a second, each worker forks a work-horse per job.

Every process here dies with its parent (Linux `PR_SET_PDEATHSIG`): the pool with the harness
(`harness.live.processes.popen`), each worker with the pool, each work-horse (and the RQ
scheduler one worker forks) with its worker.
So SIGKILLing a worker takes its work-horse along, as a crashed machine or an OOM kill of the
worker's container would, and nothing outlives a harness that was itself SIGKILLed.
"""

from __future__ import annotations

import argparse
import ctypes
import multiprocessing.util
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["main"]

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """SIGKILL this process when `parent` dies (Linux); at once if it already has."""
    if not sys.platform.startswith("linux") or os.environ.get("SCANCHAOS_NO_PDEATHSIG") == "1":
        return
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGKILL)


def _with_worker(worker: Any) -> None:
    die_with_parent(worker._own_pid)


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m harness.live.rq_pool")
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--queue", required=True)
    parser.add_argument("--workers", type=int, required=True)
    parser.add_argument("--job-monitoring-interval", type=int, required=True)
    parser.add_argument("--maintenance-interval", type=int, required=True)
    parser.add_argument("--worker-ttl", type=int, required=True)
    parser.add_argument("--path", action="append", default=[], help="put on the import path")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = _parse(sys.argv[1:] if argv is None else argv)
    # The jobs' module (the target's) must import in every worker and work-horse.
    for folder in reversed(args.path):
        sys.path.insert(0, folder)
    from redis import Redis
    from rq import Worker
    from rq.worker_pool import WorkerPool

    pool_pid = os.getpid()
    settings = {
        "job_monitoring_interval": args.job_monitoring_interval,
        "maintenance_interval": args.maintenance_interval,
        "worker_ttl": args.worker_ttl,
    }

    class PoolWorker(Worker):
        """RQ's `Worker` with the run's settings; it and its work-horses die with their parent."""

        def __init__(self, *a: Any, **kw: Any) -> None:
            die_with_parent(pool_pid)  # built in the freshly forked worker process
            for name, value in settings.items():
                kw.setdefault(name, value)
            super().__init__(*a, **kw)
            self._own_pid = os.getpid()
            # The worker holding RQ's scheduler lock forks the scheduler (a multiprocessing
            # child): it dies with its worker too.
            multiprocessing.util.register_after_fork(self, _with_worker)

        def main_work_horse(self, *a: Any, **kw: Any) -> None:
            die_with_parent(self._own_pid)  # runs in the forked work-horse
            super().main_work_horse(*a, **kw)

    pool = WorkerPool(
        [args.queue],
        connection=Redis.from_url(args.redis_url),
        num_workers=args.workers,
        worker_class=PoolWorker,
    )
    pool.start(burst=False, logging_level="INFO")


if __name__ == "__main__":
    main()
