"""Calling the WSGI app in-process (no sockets), against a real redis-server."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from wsgiref.util import setup_testing_defaults

from harness.live.redis_server import RedisServer
from reference_impl import ServiceConfig, StrategyProfile, open_engine, seed_database
from reference_impl.config import RedisSettings
from reference_impl.strategies import strategy_names
from reference_impl.web import ScanApp, WebSettings, WorkerState


@dataclass
class Response:
    code: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    app: ScanApp,
    method: str,
    path: str,
    *,
    user: str | None = None,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> Response:
    """One request through the WSGI interface, as a server would pass it (PEP 3333 strings)."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        # A server hands PATH_INFO over as bytes decoded as latin-1.
        "PATH_INFO": path.encode("utf-8", "surrogatepass").decode("latin-1"),
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    if user is not None:
        environ["HTTP_X_USER"] = user
    for name, value in (headers or {}).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    setup_testing_defaults(environ)
    captured: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]]) -> None:
        captured["code"] = int(status.split()[0])
        captured["headers"] = dict(response_headers)

    out = b"".join(app(environ, start_response))
    return Response(captured["code"], captured["headers"], out)


@contextmanager
def running_app(
    tmp: Path, binary: str, *, config: ServiceConfig | None = None
) -> Iterator[tuple[ScanApp, RedisServer, WorkerState]]:
    """A worker's app on a fresh redis-server; strategies take a millisecond."""
    cfg = config or ServiceConfig(redis=RedisSettings(connect_timeout=0.2, socket_timeout=0.2))
    database = tmp / "performance.sqlite"
    engine = open_engine(f"sqlite:///{database}")
    seed_database(engine, strategy_names(cfg.strategies))
    engine.dispose()
    with RedisServer(tmp / "redis", binary=binary) as server:
        settings = WebSettings(
            config=cfg,
            redis_url=server.url,
            database_url=f"sqlite:///{database}",
            profile=StrategyProfile(seconds=0.001),
        )
        state = WorkerState(settings)
        try:
            yield ScanApp(lambda: state), server, state
        finally:
            state.shutdown()
            state.redis.close()
