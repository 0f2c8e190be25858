"""Gunicorn configuration for the scan service: sync workers, cleanup thread after the fork.

Run as `gunicorn -c python:reference_impl.gunicorn_conf --workers N --timeout T
--bind 127.0.0.1:PORT reference_impl.web:app`, with `SCANCHAOS_WEB_SETTINGS` naming the
settings file (see `reference_impl.web`). The worker timeout is the incident's: a scan runs
inside its start request on a sync worker, so a scan longer than `--timeout` gets the worker killed.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from typing import Any

worker_class = "sync"
# Shutting down must not wait on a scan in flight: the harness stops the cluster at will.
graceful_timeout = 1
accesslog = None
# Gunicorn's control socket sits at one path per user: clusters side by side would share it.
control_socket_disable = True
#: set by a harness test that shows what happens without the parent-death signal
NO_PDEATHSIG_ENV = "SCANCHAOS_NO_PDEATHSIG"


def _die_with_master(master: int) -> None:
    """Linux: SIGKILL this worker when its master dies, however the master died (even SIGKILL,
    which leaves the master no chance to stop its workers); a busy sync worker would otherwise
    serve its request to the end before it noticed."""
    if not sys.platform.startswith("linux") or os.environ.get(NO_PDEATHSIG_ENV) == "1":
        return
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != master:  # the master died before the prctl
        os.kill(os.getpid(), signal.SIGKILL)


def post_fork(server: Any, worker: Any) -> None:
    _die_with_master(worker.ppid)
    from reference_impl.web import app

    app.worker_started()


def worker_exit(server: Any, worker: Any) -> None:
    from reference_impl.web import app

    app.worker_exiting()
