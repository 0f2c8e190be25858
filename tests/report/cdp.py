"""A small DevTools-protocol driver for headless Chromium: load a page, collect what it says.

Chromium runs with its own flags only (headless, no sandbox, no network side traffic, a fresh
profile), on a loopback debugging port it picks itself, in its own process group so that every
process it spawns is stopped with it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import websocket

from tests.waiting import wait_for

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-extensions",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)
START_DEADLINE = 30.0
LOAD_DEADLINE = 30.0


def chromium_or_skip() -> str:
    """The chromium binary; in CI (CI set) a missing browser fails the test instead of skipping."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        message = "chromium is not installed (apt-get install -y chromium)"
        if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@dataclass
class PageLoad:
    """What happened while a page loaded."""

    url: str
    console_errors: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    #: the value of the expression evaluated once the page had loaded
    value: Any = None

    @property
    def errors(self) -> list[str]:
        return self.console_errors + self.exceptions + self.failed_requests


class Browser:
    def __init__(self, ws: websocket.WebSocket) -> None:
        self.ws = ws
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        deadline = time.monotonic() + LOAD_DEADLINE
        while time.monotonic() < deadline:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return dict(reply.get("result", {}))
            self.events.append(reply)
        raise TimeoutError(f"no answer to {method}")

    def wait_event(self, method: str, session: str) -> None:
        deadline = time.monotonic() + LOAD_DEADLINE
        while not any(
            e.get("method") == method and e.get("sessionId") == session for e in self.events
        ):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {method} event")
            self.events.append(json.loads(self.ws.recv()))

    def load(self, path: Path, expression: str) -> PageLoad:
        """Open `path` from file:// in a new tab, wait for its load event, evaluate `expression`."""
        url = path.resolve().as_uri()
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Runtime", "Log", "Page", "Network"):
            self.send(f"{domain}.enable", session)
        self.events.clear()
        self.send("Page.navigate", session, url=url)
        self.wait_event("Page.loadEventFired", session)
        result = self.send("Runtime.evaluate", session, expression=expression, returnByValue=True)
        page = PageLoad(url, value=result.get("result", {}).get("value"))
        for event in self.events:
            if event.get("sessionId") != session:
                continue
            params = event.get("params", {})
            method = event.get("method")
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                page.console_errors.append(
                    " ".join(str(a.get("value", a.get("description"))) for a in params["args"])
                )
            elif method == "Runtime.exceptionThrown":
                page.exceptions.append(params["exceptionDetails"].get("text", "exception"))
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                page.console_errors.append(params["entry"].get("text", ""))
            elif method == "Network.requestWillBeSent":
                page.requests.append(params["request"]["url"])
            elif method == "Network.loadingFailed":
                page.failed_requests.append(params.get("errorText", "request failed"))
        self.send("Target.closeTarget", targetId=target)
        return page


def _devtools_url(profile: Path, proc: subprocess.Popen[bytes]) -> str:
    """Chromium writes its port and path to DevToolsActivePort once it listens."""
    marker = profile / "DevToolsActivePort"

    def url() -> str:
        if proc.poll() is not None:
            raise RuntimeError(f"chromium exited early with {proc.returncode}")
        lines = marker.read_text().split() if marker.is_file() else []
        return f"ws://127.0.0.1:{lines[0]}{lines[1]}" if len(lines) == 2 else ""

    found = wait_for(url, START_DEADLINE, 0.05)
    if not found:
        raise TimeoutError("chromium did not open its debugging port")
    return found


@contextmanager
def chromium(binary: str, profile: Path) -> Iterator[Browser]:
    """A headless Chromium with a fresh profile; stopped (with its children) on exit."""
    proc = subprocess.Popen(
        [binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    ws: websocket.WebSocket | None = None
    try:
        ws = websocket.create_connection(_devtools_url(profile, proc), timeout=LOAD_DEADLINE)
        browser = Browser(ws)
        yield browser
        with suppress(websocket.WebSocketException, ConnectionError):
            browser.send("Browser.close")
        proc.wait(timeout=10)
    finally:
        if ws is not None:
            ws.close()
        # the whole group: the browser and the renderer and helper processes it started
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
