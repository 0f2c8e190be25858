"""Gunicorn configuration for the scan service: sync workers, cleanup thread after the fork.

Run as `gunicorn -c python:reference_impl.gunicorn_conf --workers N --timeout T
--bind 127.0.0.1:PORT reference_impl.web:app`, with `SCANCHAOS_WEB_SETTINGS` naming the
settings file (see `reference_impl.web`). The worker timeout is the incident's: a scan runs
inside its start request on a sync worker, so a scan longer than `--timeout` gets the worker killed.
"""

from __future__ import annotations

from typing import Any

worker_class = "sync"
# Shutting down must not wait on a scan in flight: the harness stops the cluster at will.
graceful_timeout = 1
accesslog = None


def post_fork(server: Any, worker: Any) -> None:
    from reference_impl.web import app

    app.worker_started()


def worker_exit(server: Any, worker: Any) -> None:
    from reference_impl.web import app

    app.worker_exiting()
