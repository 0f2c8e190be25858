"""The scan service over HTTP: a plain WSGI app served by Gunicorn sync workers.

Routes (the user is named by the `X-User` header; real authentication is out of scope):

| route | what |
| --- | --- |
| `POST /scans` | start a scan and run it inside the request; answers the terminal reply |
| `GET /scans/{scan_id}` | status of one scan, as seen by the user |
| `GET /scans/latest` | the user's latest scan |
| `GET /health` | 200 while the worker serves requests (touches no Redis) |
| `GET /trivial` | a constant answer: the framework ceiling for load tests |

A request carrying `X-Pin-Worker: <pid>` that another worker accepted is answered 421 at once,
touching nothing: the harness's stand-in for sticky routing, so a scenario step aimed at one
worker reaches it through the shared port (the client sends it again until that worker takes it).

Every body is the JSON of `Reply.to_dict()` (times are the service's wall clock, `time.time()`);
the HTTP code is `Reply.http`; a 503 carries `Retry-After`; every response carries
`X-Worker: <pid>` so a history can record who served it. Bad input (a missing or malformed user,
a malformed id, a body that is not an empty JSON object) answers 400 before Redis is touched.

Each worker process builds its own `ScanService` (own memory, own Redis client, own
`ThreadedExecutor`) on first use after the fork; `reference_impl.gunicorn_conf` starts the
periodic cleanup thread in `post_fork`. The worker reads its `WebSettings` from the JSON file
named by the environment variable `SCANCHAOS_WEB_SETTINGS`. When `state_dir` is set, a worker
running a scan keeps a file `{state_dir}/{pid}` naming it, so a harness can aim a fault at the
process running a given scan.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel

from reference_impl.config import TIMING_FIELDS, RedisSettings, ServiceConfig
from reference_impl.entry import Reply
from reference_impl.executor import ThreadedExecutor
from reference_impl.performance import PerformanceStore, open_engine
from reference_impl.service import ScanRun, ScanService
from reference_impl.strategies import StrategyProfile

SETTINGS_ENV = "SCANCHAOS_WEB_SETTINGS"
#: a request body larger than this is refused (the only body the service takes is `{}`)
MAX_BODY = 4096
StartResponse = Callable[[str, list[tuple[str, str]]], Any]
Environ = dict[str, Any]

_REASONS = {
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    421: "Misdirected Request",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


@dataclass(frozen=True)
class WebSettings:
    """Everything a worker process needs to build its service (times already scaled)."""

    config: ServiceConfig
    redis_url: str
    database_url: str
    profile: StrategyProfile = field(default_factory=StrategyProfile)
    state_dir: str | None = None
    executor_threads: int = 4
    #: wall seconds per scenario second the config was scaled by, declared on `GET /health`
    scale: float = 1.0
    #: (host, port) of each Sentinel: when set, the primary is the one they name
    #: `sentinel_service`, and `redis_url` is not used
    sentinels: tuple[tuple[str, int], ...] = ()
    sentinel_service: str = "scanchaos"

    def to_json(self) -> str:
        data = asdict(self)
        data["config"]["bugs"] = sorted(self.config.bugs)
        data["profile"]["hang"] = sorted(self.profile.hang)
        return json.dumps(data, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> WebSettings:
        data: dict[str, Any] = json.loads(text)
        cfg = dict(data["config"])
        cfg["redis"] = RedisSettings(**cfg["redis"])
        cfg["bugs"] = frozenset(cfg["bugs"])
        prof = dict(data["profile"])
        prof["hang"] = frozenset(prof["hang"])
        return cls(
            config=ServiceConfig(**cfg),
            redis_url=data["redis_url"],
            database_url=data["database_url"],
            profile=StrategyProfile(**prof),
            state_dir=data.get("state_dir"),
            executor_threads=data.get("executor_threads", 4),
            scale=data.get("scale", 1.0),
            sentinels=tuple((str(h), int(p)) for h, p in data.get("sentinels", ())),
            sentinel_service=data.get("sentinel_service", "scanchaos"),
        )

    @classmethod
    def from_env(cls) -> WebSettings:
        path = os.environ.get(SETTINGS_ENV)
        if not path:
            raise RuntimeError(f"set {SETTINGS_ENV} to the path of a WebSettings JSON file")
        return cls.from_json(Path(path).read_text(encoding="utf-8"))


def redis_client(
    url: str,
    settings: RedisSettings,
    sentinels: tuple[tuple[str, int], ...] = (),
    service: str = "scanchaos",
) -> redis.Redis:
    """A client that fails fast: explicit timeouts, the configured retries, no backoff.

    With `sentinels`, the client asks them for the primary of `service` whenever it opens a
    connection, so after a failover a broken connection is replaced by one to the new primary
    (and a write refused as READONLY by a demoted one reads as a broken connection).
    """
    timeouts = {
        "socket_connect_timeout": settings.connect_timeout,
        "socket_timeout": settings.socket_timeout,
    }
    if sentinels:
        # Typed as Any: redis.sentinel carries no annotations before redis-py 8.2 and partial
        # ones (which reject keyword arguments passed through **) from 8.2 on.
        sentinel_class: Any = Sentinel
        sentinel = sentinel_class(list(sentinels), sentinel_kwargs=dict(timeouts))
        primary: redis.Redis = sentinel.master_for(
            service, retry=Retry(NoBackoff(), settings.retries), health_check_interval=0, **timeouts
        )
        return primary
    return redis.Redis.from_url(
        url, retry=Retry(NoBackoff(), settings.retries), health_check_interval=0, **timeouts
    )


class WorkerState:
    """One worker process's service, executor and cleanup thread.

    One lock guards the service's memory: the request thread and the cleanup thread both
    touch it. A scan holds the lock only between strategies, never while one runs.
    """

    def __init__(self, settings: WebSettings, redis_conn: redis.Redis | None = None) -> None:
        self.settings = settings
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.executor = ThreadedExecutor(max_threads=settings.executor_threads)
        self.engine = open_engine(settings.database_url)
        self.redis = redis_conn or redis_client(
            settings.redis_url,
            settings.config.redis,
            settings.sentinels,
            settings.sentinel_service,
        )
        self.service = ScanService(
            config=settings.config,
            redis_client=self.redis,
            performance=PerformanceStore(
                self.engine, select_all_columns=settings.config.has("select-all-columns")
            ),
            profile=settings.profile,
            executor=self.executor,
        )
        self.service.connect()
        self._stop = threading.Event()
        self._cleanup: threading.Thread | None = None

    def start_cleanup(self) -> None:
        """Run the periodic cleanup every `cleanup_interval` on a daemon thread."""
        if self._cleanup is not None:
            return
        self._cleanup = threading.Thread(target=self._cleanup_loop, name="cleanup", daemon=True)
        self._cleanup.start()

    def _cleanup_loop(self) -> None:
        interval = self.settings.config.cleanup_interval
        while not self._stop.wait(interval):
            with self.lock:
                self.service.cleanup()

    def shutdown(self) -> None:
        self._stop.set()
        self.executor.shutdown()
        self.engine.dispose()

    def status(self, user: str, scan_id: str) -> Reply:
        with self.lock:
            return self.service.status(user, scan_id)

    def latest(self, user: str) -> Reply:
        with self.lock:
            return self.service.latest(user)

    def start_scan(self, user: str) -> Reply:
        """Run a whole scan in this request, as `ScanService.start_scan` does, under the lock."""
        with self.lock:
            run = self.service.begin_scan(user)
        if isinstance(run, Reply):
            return run
        self._mark_running(run)
        # Not in a `finally`: a worker killed by the master's timeout (SystemExit) leaves its
        # state file behind, so the harness can still tell which process ran the scan.
        try:
            reply = self._drive(run)
        except Exception:
            self._mark_running(None)
            raise
        self._mark_running(None)
        return reply

    def _drive(self, run: ScanRun) -> Reply:
        steps = run.steps()
        try:
            with self.lock:
                call = next(steps)
            while True:
                outcome = self.executor.run(replace(call, beat=self._locked(call.beat)))
                with self.lock:
                    call = steps.send(outcome)
        except StopIteration as stop:
            reply: Reply = stop.value
            return reply

    def _locked(self, beat: Callable[[], None]) -> Callable[[], None]:
        def locked() -> None:
            with self.lock:
                beat()

        return locked

    def _mark_running(self, run: ScanRun | None) -> None:
        if self.settings.state_dir is None:
            return
        path = Path(self.settings.state_dir) / str(self.pid)
        if run is None:
            path.unlink(missing_ok=True)
            return
        entry = run.entry
        data = {"scan_id": entry.scan_id, "user": entry.owner, "started_at": entry.started_at}
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        tmp.replace(path)


class ScanApp:
    """The WSGI application. `state` is built lazily, once per process (after the fork)."""

    def __init__(self, factory: Callable[[], WorkerState] | None = None) -> None:
        self._factory = factory or (lambda: WorkerState(WebSettings.from_env()))
        self._state: WorkerState | None = None
        self._init_lock = threading.Lock()

    @property
    def state(self) -> WorkerState:
        state = self._state
        if state is None or state.pid != os.getpid():
            with self._init_lock:
                if self._state is None or self._state.pid != os.getpid():
                    self._state = self._factory()
                state = self._state
        return state

    def worker_started(self) -> None:
        """Called after the fork: build this worker's service and start its cleanup thread.

        With a `state_dir`, the worker then leaves `ready-{pid}` there: up and serving.
        """
        state = self.state
        state.start_cleanup()
        if state.settings.state_dir is not None:
            (Path(state.settings.state_dir) / f"ready-{state.pid}").touch()

    def worker_exiting(self) -> None:
        if self._state is not None and self._state.pid == os.getpid():
            self._state.shutdown()

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "")
        pin = environ.get("HTTP_X_PIN_WORKER")
        if pin is not None and pin != str(os.getpid()):
            body = json.dumps({"status": "bad_request", "reason": "misdirected"}).encode()
            return self._send(start_response, 421, body)
        if path == "/trivial":
            return self._send(start_response, 200, b'{"ok":true}')
        if path == "/health":
            return self._send(start_response, 200, json.dumps(self._health()).encode())
        try:
            code, reply = self._route(method, path, environ)
        except Exception as error:  # an unhandled error in the service: a 500, as in production
            code, reply = 500, Reply("error", reason=f"{type(error).__name__}: {error}")
        body = json.dumps(reply.to_dict(), separators=(",", ":")).encode()
        return self._send(start_response, code, body, retry_after=reply.status == "unavailable")

    def _route(self, method: str, path: str, environ: Environ) -> tuple[int, Reply]:
        parts = path.split("/")
        if len(parts) < 2 or parts[1] != "scans" or len(parts) > 3:
            return 404, Reply("not_found", reason="no such route")
        allowed = "POST" if len(parts) == 2 else "GET"
        if len(parts) == 3 and parts[2] == "":
            allowed = "POST"
        if method != allowed:
            return 405, Reply("bad_request", reason=f"method not allowed: use {allowed}")
        user = environ.get("HTTP_X_USER")
        if user is None:
            return 400, Reply("bad_request", reason="missing X-User header")
        if allowed == "POST":
            problem = _body_problem(environ)
            if problem is not None:
                return 400, Reply("bad_request", reason=problem)
            reply = self.state.start_scan(user)
        elif parts[2] == "latest":
            reply = self.state.latest(user)
        else:
            reply = self.state.status(user, parts[2])
        return reply.http, reply

    def _health(self) -> dict[str, Any]:
        """Who answers, and the timing it runs by: a load generator's checker needs it."""
        settings = self.state.settings
        cfg = settings.config
        return {
            "status": "ok",
            "worker": os.getpid(),
            "scale": settings.scale,
            "config": {name: getattr(cfg, name) for name in TIMING_FIELDS},
            "bugs": sorted(cfg.bugs),
        }

    @staticmethod
    def _send(
        start_response: StartResponse, code: int, body: bytes, *, retry_after: bool = False
    ) -> list[bytes]:
        headers = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("X-Worker", str(os.getpid())),
        ]
        if retry_after:
            headers.append(("Retry-After", "1"))
        start_response(f"{code} {_REASONS.get(code, 'Unknown')}", headers)
        return [body]


def _body_problem(environ: Environ) -> str | None:
    """Why the start request's body is refused, or None: it must be empty or `{}`."""
    raw_length = environ.get("CONTENT_LENGTH") or "0"
    try:
        length = int(raw_length)
    except ValueError:
        return "malformed Content-Length"
    if length < 0 or length > MAX_BODY:
        return f"body too large (at most {MAX_BODY} bytes)"
    if length == 0:
        return None
    raw = environ["wsgi.input"].read(length)
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return "body is not JSON"
    if data != {}:
        return "body must be an empty JSON object"
    return None


app = ScanApp()
