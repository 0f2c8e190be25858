"""The Flask app: it enqueues scans as RQ jobs and reads their status back from RQ.

| route | what |
| --- | --- |
| `POST /scans` | enqueue a scan for the caller; 202 with the new job at once (`queued`) |
| `GET /scans/<scan_id>` | 200; 400 not a UUID; 404 no such job, expired, or not yours |
| `GET /scans/latest` | the caller's newest scan, or 404 |
| `GET /healthz` | 200 (touches no Redis) |

The caller is the `X-User` header. The scan id is the RQ job id. A scan is `{"scan": {"id",
"owner", "state", "done", "total", "reason", "created_at", "finished_at"}}`, where `state` is
RQ's own job status (`queued`, `started`, `finished`, `failed`, `stopped`, `canceled`, ...),
except that a finished job whose budget ran out reads `finished_partial`. Redis trouble is 503
with `Retry-After`. Nothing is kept in the web worker's memory: every read asks Redis.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import redis
from flask import Blueprint, Flask, Response, current_app, jsonify, request
from redis.backoff import NoBackoff
from redis.retry import Retry
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from .jobs import run_scan
from .settings import Settings

__all__ = ["connect_redis", "create_app", "latest_key", "view"]

api = Blueprint("scans", __name__)

_JOB_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_USER = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_FAILED = frozenset({JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED})


def connect_redis(settings: Settings) -> redis.Redis:
    """Explicit timeouts and no retries: an outage is a quick 503, not a hung web worker."""
    return redis.Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=settings.redis_timeout,
        socket_timeout=settings.redis_timeout,
        retry=Retry(NoBackoff(), 0),
    )


def latest_key(user: str) -> str:
    # No TTL of its own: it must not expire before the job it names (whose TTL RQ sets when
    # the job ends); once the job is gone, `latest` answers 404 as the job does.
    return f"rq_scans:latest:{user}"


def create_app(settings: Settings | None = None, redis_client: redis.Redis | None = None) -> Flask:
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.extensions["rq_scans"] = (settings, redis_client or connect_redis(settings))
    app.register_blueprint(api)
    app.register_error_handler(redis.RedisError, _unavailable)
    return app


def _parts() -> tuple[Settings, redis.Redis]:
    parts: tuple[Settings, redis.Redis] = current_app.extensions["rq_scans"]
    return parts


def _error(code: int, name: str, message: str) -> tuple[Response, int]:
    return jsonify({"error": {"code": name, "message": message}}), code


def _unavailable(error: redis.RedisError) -> tuple[Response, int, dict[str, str]]:
    body, code = _error(503, "backend_unavailable", f"Redis: {type(error).__name__}")
    return body, code, {"Retry-After": "1"}


def _user() -> str | None:
    user = request.headers.get("X-User", "")
    return user if _USER.match(user) else None


def _epoch(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def view(job: Job) -> dict[str, Any]:
    """The scan as the API shows it, from the job as RQ keeps it."""
    status = job.get_status(refresh=False)
    meta = job.meta
    state = str(status.value)
    done = int(meta.get("done", 0))
    reason: str | None = None
    if status == JobStatus.FINISHED:
        result = job.return_value()
        if isinstance(result, dict):
            done = int(result.get("done", done))
            if result.get("outcome") == "partial":
                state, reason = "finished_partial", str(result.get("reason"))
    elif status in _FAILED:
        reason = _failure(job) or state
    return {
        "scan": {
            "id": job.id,
            "owner": meta.get("owner"),
            "state": state,
            "done": done,
            "total": meta.get("total"),
            "reason": reason,
            "created_at": _epoch(job.enqueued_at or job.created_at),
            "finished_at": _epoch(job.ended_at),
        }
    }


def _failure(job: Job) -> str | None:
    """The last line of RQ's failure text (`...AbandonedJobError...`, a timeout, ...)."""
    result = job.latest_result()
    text = (result.exc_string or "") if result is not None else ""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip()[:200] if lines else None


def _answer(job_id: str, user: str) -> tuple[Response, int]:
    _, client = _parts()
    try:
        job = Job.fetch(job_id, connection=client)
    except NoSuchJobError:
        return _error(404, "scan_not_found", "no such scan")
    if job.meta.get("owner") != user:
        return _error(404, "scan_not_found", "no such scan")
    return jsonify(view(job)), 200


@api.post("/scans")
def start() -> tuple[Response, int]:
    user = _user()
    if user is None:
        return _error(400, "bad_user", "X-User must be 1-64 letters, digits or ._@-")
    settings, client = _parts()
    queue = Queue(settings.queue, connection=client)
    # The job and the user's latest pointer in one MULTI: `latest` never names a job that
    # is not there, and never an older one once this start has answered.
    with client.pipeline() as pipe:
        job = queue.enqueue(
            run_scan,
            settings.strategies,
            settings.strategy_seconds,
            settings.scan_budget,
            job_timeout=settings.job_timeout,
            result_ttl=int(settings.result_ttl),
            failure_ttl=int(settings.result_ttl),
            meta={"owner": user, "total": settings.strategies, "done": 0},
            pipeline=pipe,
        )
        pipe.set(latest_key(user), job.id)
        pipe.execute()
    return jsonify(view(job)), 202


@api.get("/scans/latest")
def latest() -> tuple[Response, int]:
    user = _user()
    if user is None:
        return _error(400, "bad_user", "X-User must be 1-64 letters, digits or ._@-")
    _, client = _parts()
    job_id = client.get(latest_key(user))
    if job_id is None:
        return _error(404, "scan_not_found", "no scan yet")
    return _answer(job_id.decode() if isinstance(job_id, bytes) else str(job_id), user)


@api.get("/scans/<scan_id>")
def status(scan_id: str) -> tuple[Response, int]:
    user = _user()
    if user is None:
        return _error(400, "bad_user", "X-User must be 1-64 letters, digits or ._@-")
    if not _JOB_ID.match(scan_id):
        return _error(400, "bad_scan_id", "a scan id is a UUID (an RQ job id)")
    return _answer(scan_id, user)


@api.get("/healthz")
def health() -> tuple[Response, int]:
    return jsonify({"status": "ok"}), 200
