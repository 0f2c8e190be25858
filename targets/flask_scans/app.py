"""The Flask app factory.

Routes (the caller is identified by `Authorization: Bearer <user>`; real token checks are out
of scope for this example):

| route | what |
| --- | --- |
| `POST /api/scans` | run a scan to its end inside the request; 200 with the final scan |
| `GET /api/scans/<scan_id>` | one scan: 200; 400 malformed id; 404 unknown, expired or not yours |
| `GET /api/scans/latest` | the caller's newest scan, or 404 |
| `GET /healthz` | 200 while the worker serves requests (touches no Redis) |

A scan is `{"scan": {"id", "owner", "state", "progress": {"completed", "total"}, "reason",
"started_at", "finished_at", "heartbeat_at", "signals"}}`; `state` is `running`, `done`,
`stopped_early` or `error`. Errors are `{"error": {"code", "message"}}` with the HTTP code;
Redis trouble is 503 with `Retry-After`, never a 500.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from typing import Any, cast

import click
import redis
from flask import Blueprint, Flask, Response, current_app, jsonify, request
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import Engine, create_engine

from .scans import BackendUnavailable, ScanManager, valid_scan_id, valid_user
from .settings import Settings
from .strategies import OPTIONAL_COLUMNS, Clock, StrategyData, init_db

__all__ = ["CleanupThread", "connect_redis", "create_app"]

log = logging.getLogger(__name__)

EXTENSION = "flask_scans"

api = Blueprint("scans", __name__, url_prefix="/api")


def connect_redis(settings: Settings) -> redis.Redis:
    """A Redis client that fails fast: explicit timeouts and no retries, so an outage turns
    into quick 503s rather than workers hanging in redis-py's backoff."""
    return redis.Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=settings.redis_timeout,
        socket_timeout=settings.redis_timeout,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=0,
        decode_responses=True,
    )


class CleanupThread:
    """Runs `ScanManager.cleanup` every `cleanup_interval` on a daemon thread.

    Started lazily, on the first request a worker process serves: Gunicorn forks its workers
    from the master, and a thread started before the fork would not exist in them."""

    def __init__(self, manager: ScanManager, interval: float) -> None:
        self._manager = manager
        self._interval = interval
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._stop = threading.Event()

    @property
    def running(self) -> bool:
        return self._alive()

    def _alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self._pid == os.getpid()

    def ensure_running(self) -> None:
        if self._alive():
            return
        with self._lock:
            if self._alive():  # another request thread started it meanwhile
                return
            self._stop = threading.Event()
            self._pid = os.getpid()
            self._thread = threading.Thread(
                target=self._loop, args=(self._stop,), name="flask-scans-cleanup", daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self, stop: threading.Event) -> None:
        while not stop.wait(self._interval):
            try:
                self._manager.cleanup()
            except Exception:  # the thread must outlive any one bad pass
                log.exception("cleanup pass failed")


def create_app(
    settings: Settings | None = None,
    *,
    redis_client: redis.Redis | None = None,
    engine: Engine | None = None,
    clock: Clock | None = None,
    cleanup_thread: bool = True,
) -> Flask:
    """Build the app. Tests hand in their own Redis client, engine and clock, and may turn the
    cleanup thread off to call `scans(app).cleanup()` themselves."""
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    engine = engine or create_engine(settings.database_url)
    manager = ScanManager(
        settings,
        redis_client if redis_client is not None else connect_redis(settings),
        StrategyData(engine),
        clock,
    )
    cleanup = CleanupThread(manager, settings.cleanup_interval)
    app.extensions[EXTENSION] = manager
    app.extensions[f"{EXTENSION}.cleanup"] = cleanup
    if cleanup_thread:
        app.before_request(cleanup.ensure_running)
    app.register_blueprint(api)
    app.register_error_handler(BackendUnavailable, _unavailable)
    app.register_error_handler(redis.RedisError, _unavailable)
    app.add_url_rule("/healthz", "healthz", _health)

    @app.cli.command("init-db")
    @click.option("--strategies", default=settings.strategies, show_default=True)
    @click.option("--missing", multiple=True, type=click.Choice(OPTIONAL_COLUMNS))
    def init_db_command(strategies: int, missing: tuple[str, ...]) -> None:
        """Create and seed the strategy_stats table."""
        init_db(settings.database_url, strategies, missing)
        click.echo(f"seeded {settings.database_url}")

    return app


def scans(app: Flask | None = None) -> ScanManager:
    """The app's scan manager."""
    return cast(ScanManager, (app or current_app).extensions[EXTENSION])


def cleanup_thread(app: Flask) -> CleanupThread:
    return cast(CleanupThread, app.extensions[f"{EXTENSION}.cleanup"])


def _error(status: int, code: str, message: str, **extra: Any) -> tuple[Response, int]:
    return jsonify({"error": {"code": code, "message": message}, **extra}), status


def _unavailable(error: Exception) -> tuple[Response, int, dict[str, str]]:
    log.warning("answering 503: %s", error)
    retry = max(1, math.ceil(scans().settings.cleanup_interval))
    body, status = _error(503, "backend_unavailable", "scan storage is unavailable, retry")
    return body, status, {"Retry-After": str(retry)}


def _health() -> Response:
    return jsonify({"ok": True, "pid": os.getpid(), "cached_scans": scans().memory_size()})


def _current_user() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not valid_user(token):
        return None
    return token


def _unauthorized() -> tuple[Response, int]:
    return _error(401, "unauthorized", "send Authorization: Bearer <user>")


@api.post("/scans")
def start_scan() -> tuple[Response, int] | tuple[Response, int, dict[str, str]]:
    user = _current_user()
    if user is None:
        return _unauthorized()
    outcome = scans().run_scan(user)
    if not outcome.saved:
        # The scan ended, but Redis has not taken the result: telling the client it is done
        # would be a promise no other worker can keep yet. The cleanup keeps writing it.
        body, status = _error(
            503,
            "result_not_saved",
            "the scan ended but its result is not saved yet, poll it",
            scan={"id": outcome.job.scan_id},
        )
        retry = max(1, math.ceil(scans().settings.cleanup_interval))
        return body, status, {"Retry-After": str(retry)}
    return jsonify({"scan": outcome.job.public()}), 200


@api.get("/scans/latest")
def latest_scan() -> tuple[Response, int]:
    user = _current_user()
    if user is None:
        return _unauthorized()
    job = scans().latest_scan(user)
    if job is None:
        return _error(404, "scan_not_found", "no recent scan")
    return jsonify({"scan": job.public()}), 200


@api.get("/scans/<path:scan_id>")
def get_scan(scan_id: str) -> tuple[Response, int]:
    user = _current_user()
    if user is None:
        return _unauthorized()
    if not valid_scan_id(scan_id):
        return _error(400, "bad_scan_id", "a scan id is a lower-case UUID4")
    job = scans().get_scan(user, scan_id)
    if job is None:
        return _error(404, "scan_not_found", f"no scan {scan_id}")
    return jsonify({"scan": job.public()}), 200
