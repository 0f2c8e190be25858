"""Gunicorn configuration for a `[wsgi]` target served through `harness.live.wsgi_adapter`.

The reference's settings (sync workers, a quick shutdown, no control socket) and its
parent-death signal, so a target's workers never outlive the harness either; after the fork each
worker imports the target's app and says it is ready (`Adapter.worker_started`).
"""

from __future__ import annotations

from typing import Any

from reference_impl.gunicorn_conf import (  # noqa: F401 (Gunicorn reads these names)
    _die_with_master,
    accesslog,
    control_socket_disable,
    graceful_timeout,
    worker_class,
)


def post_fork(server: Any, worker: Any) -> None:
    _die_with_master(worker.ppid)
    from harness.live.wsgi_adapter import app

    app.worker_started()
