"""The WSGI adapter: any target's WSGI app served under the harness's Gunicorn, unchanged.

Gunicorn loads `harness.live.wsgi_adapter:app`, which imports the target's `module:app` (named
by `SCANCHAOS_WSGI_APP`, found on the folders in `SCANCHAOS_WSGI_PATH`) and wraps it in the
middleware every live cluster relies on, so that the app itself needs no change:

- every response names the worker process in `X-Worker: <pid>` (the history records it);
- a request carrying `X-Pin-Worker: <pid>` that another worker accepted is answered 421 here,
  without reaching the app, and the harness's client sends it again (sticky routing's stand-in);
- while a start request that carries `X-Scanchaos-Label` runs, the worker keeps a state file
  `{SCANCHAOS_STATE_DIR}/{pid}` naming that label (the format `harness.live.state` reads, the
  reference's own), so that "restart the worker running scan X" works for any app; the file
  outlives a worker killed mid-scan, as the reference's does.

The harness's headers are taken out of the request before the app sees it. Run with
`gunicorn -c python:harness.live.adapter_conf ... harness.live.wsgi_adapter:app`; the config's
`post_fork` imports the app and leaves `ready-{pid}` in the state folder.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "APP_ENV",
    "HEALTH_ENV",
    "HEALTH_PATH",
    "LABEL_HEADER",
    "PATH_ENV",
    "STATE_ENV",
    "Adapter",
    "app",
]

APP_ENV = "SCANCHAOS_WSGI_APP"
PATH_ENV = "SCANCHAOS_WSGI_PATH"
STATE_ENV = "SCANCHAOS_STATE_DIR"
#: what `HEALTH_PATH` declares beside the worker's pid (JSON: the scale, the scaled durations
#: and the regressions switched on), as the reference's `GET /health` does for a load test
HEALTH_ENV = "SCANCHAOS_HEALTH"
#: the start request's label, sent by the harness's client (`harness.live.schedule`)
LABEL_HEADER = "X-Scanchaos-Label"
#: answered by the adapter itself: the master is up, whatever routes the app has
HEALTH_PATH = "/__scanchaos__/health"
_HARNESS_KEYS = ("HTTP_X_PIN_WORKER", "HTTP_X_SCANCHAOS_LABEL")

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def load_app(ref: str, folders: Iterable[str]) -> WsgiApp:
    """Import `module:attribute` with `folders` first on the import path."""
    for folder in reversed(list(folders)):
        if folder and folder not in sys.path:
            sys.path.insert(0, folder)
    module, _, attr = ref.partition(":")
    loaded: WsgiApp = getattr(importlib.import_module(module), attr)
    return loaded


def _from_env() -> WsgiApp:
    ref = os.environ.get(APP_ENV)
    if not ref:
        raise RuntimeError(f"set {APP_ENV} to the target's WSGI app, `module:attribute`")
    return load_app(ref, os.environ.get(PATH_ENV, "").split(os.pathsep))


class Adapter:
    """The middleware around a target's app; the app is imported once per worker process."""

    def __init__(
        self, load: Callable[[], WsgiApp] = _from_env, state_dir: str | None = None
    ) -> None:
        self._load = load
        self._app: WsgiApp | None = None
        self._state_dir = state_dir

    @property
    def state_dir(self) -> Path | None:
        folder = self._state_dir if self._state_dir is not None else os.environ.get(STATE_ENV)
        return Path(folder) if folder else None

    @property
    def app(self) -> WsgiApp:
        if self._app is None:
            self._app = self._load()
        return self._app

    def worker_started(self) -> None:
        """After the fork: import the app now (an import error stops the worker at boot, not
        at its first request), then say this worker is up."""
        _ = self.app
        if self.state_dir is not None:
            (self.state_dir / f"ready-{os.getpid()}").touch()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        pid = str(os.getpid())
        pin = environ.get("HTTP_X_PIN_WORKER")
        if pin is not None and pin != pid:
            return _answer(start_response, "421 Misdirected Request", b'{"misdirected":true}')
        if environ.get("PATH_INFO") == HEALTH_PATH:
            health = {**json.loads(os.environ.get(HEALTH_ENV) or "{}"), "worker": int(pid)}
            return _answer(start_response, "200 OK", json.dumps(health).encode())
        label = environ.get("HTTP_X_SCANCHAOS_LABEL")
        environ = {k: v for k, v in environ.items() if k not in _HARNESS_KEYS}

        def named(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            mine = [(k, v) for k, v in headers if k.lower() != "x-worker"]
            return start_response(status, [*mine, ("X-Worker", pid)], *exc)

        if label is None:
            return self.app(environ, named)
        self._mark(label)
        try:
            body = self.app(environ, named)
        except Exception:
            self._unmark()
            raise
        # Not on BaseException: a worker killed by the master's timeout (SystemExit) leaves its
        # file behind, so the harness can still tell which process ran the scan.
        return _Closing(body, self._unmark)

    def _path(self) -> Path | None:
        folder = self.state_dir
        return None if folder is None else folder / str(os.getpid())

    def _mark(self, label: str) -> None:
        path = self._path()
        if path is None:
            return
        data = {"scan_id": None, "user": None, "label": label, "started_at": time.time()}
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        tmp.replace(path)

    def _unmark(self) -> None:
        path = self._path()
        if path is not None:
            path.unlink(missing_ok=True)


class _Closing:
    """The app's response body, calling `done` once the server closed it (the request ended)."""

    def __init__(self, body: Iterable[bytes], done: Callable[[], None]) -> None:
        self._body = body
        self._done = done

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._body)

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._done()


def _answer(start_response: StartResponse, status: str, body: bytes) -> list[bytes]:
    start_response(
        status,
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("X-Worker", str(os.getpid())),
        ],
    )
    return [body]


app = Adapter()
