"""The reference's WSGI app configured from environment variables: the reference as a `[wsgi]`
target (`targets/reference_wsgi.toml`), served through the harness's WSGI adapter like any app.

`reference_impl.web` reads one settings file and relies on Gunicorn hooks of its own; an app
served as a target gets neither, only its environment, so this module reads it:

| variable | what |
| --- | --- |
| `SCANCHAOS_REF_REDIS_URL`, `SCANCHAOS_REF_DATABASE_URL` | where Redis and the strategy table are |
| `SCANCHAOS_REF_<DURATION>` (`RESULT_TTL`, ...) | each duration in `TIMING_FIELDS`, in seconds |
| `SCANCHAOS_REF_STRATEGY_SECONDS` | how long each strategy call takes (default 2) |
| `SCANCHAOS_REF_REDIS_TIMEOUT` | Redis connect and socket timeout (default 0.5) |
| `SCANCHAOS_REF_BUGS` | planted regressions switched on, comma-separated |

The cleanup thread starts with the worker's first request (no `post_fork` hook here).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from reference_impl.bugs import validate_bugs
from reference_impl.config import TIMING_FIELDS, RedisSettings, ServiceConfig
from reference_impl.strategies import StrategyProfile
from reference_impl.web import Environ, ScanApp, StartResponse, WebSettings, WorkerState

PREFIX = "SCANCHAOS_REF_"


def settings_from_env(environ: Mapping[str, str] = os.environ) -> WebSettings:
    """The worker's settings, from `environ` (defaults: the reference's own)."""
    defaults = ServiceConfig()
    durations: dict[str, Any] = {
        name: float(environ.get(PREFIX + name.upper(), getattr(defaults, name)))
        for name in TIMING_FIELDS
    }
    timeout = float(environ.get(PREFIX + "REDIS_TIMEOUT", "0.5"))
    bugs = [b for b in environ.get(PREFIX + "BUGS", "").split(",") if b]
    return WebSettings(
        config=ServiceConfig(
            **durations,
            redis=RedisSettings(connect_timeout=timeout, socket_timeout=timeout),
            bugs=validate_bugs(bugs),
        ),
        redis_url=environ[PREFIX + "REDIS_URL"],
        database_url=environ[PREFIX + "DATABASE_URL"],
        profile=StrategyProfile(seconds=float(environ.get(PREFIX + "STRATEGY_SECONDS", "2"))),
    )


class EnvScanApp(ScanApp):
    """`ScanApp` whose worker starts its cleanup thread on its first request."""

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        state = self._state
        if state is None or state.pid != os.getpid():
            self.worker_started()
        return super().__call__(environ, start_response)


app = EnvScanApp(lambda: WorkerState(settings_from_env()))
