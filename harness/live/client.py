"""The harness's HTTP client for the live service: one request, one `Reply`, who served it."""

from __future__ import annotations

import http.client
import json
import time
from dataclasses import dataclass, replace

from reference_impl import Reply

USER_HEADER = "X-User"
WORKER_HEADER = "X-Worker"
PIN_HEADER = "X-Pin-Worker"
#: wall seconds between two attempts to reach a pinned worker
PIN_BACKOFF = 0.005


@dataclass(frozen=True)
class Exchange:
    """One HTTP exchange: what came back, from which worker pid, sent and answered when."""

    reply: Reply
    worker: int | None
    sent: float  # time.time()
    answered: float  # time.time()
    code: int


def call(
    port: int,
    method: str,
    path: str,
    *,
    user: str | None,
    timeout: float,
    body: bytes = b"",
    pin: int | None = None,
) -> Exchange:
    """Send one request on a fresh connection (as a load balancer would), never raising.

    A dropped connection or a client timeout reads as `lost`; a response that is not a JSON
    reply (e.g. Gunicorn's own error page) reads as `error` with its HTTP code.
    """
    headers = {"Connection": "close"}
    if user is not None:
        headers[USER_HEADER] = user
    if pin is not None:
        return _pinned(port, method, path, headers, pin, timeout, body)
    return _once(port, method, path, headers, timeout, body)


def _pinned(
    port: int,
    method: str,
    path: str,
    headers: dict[str, str],
    pin: int,
    timeout: float,
    body: bytes,
) -> Exchange:
    """Send until worker `pin` takes the request; it counts as sent at the first attempt."""
    headers = {**headers, PIN_HEADER: str(pin)}
    first = time.time()
    deadline = time.monotonic() + timeout
    while True:
        ex = _once(port, method, path, headers, max(0.1, deadline - time.monotonic()), body)
        if ex.code != 421:
            return replace(ex, sent=first)
        if time.monotonic() >= deadline:
            reply = Reply("lost", reason=f"worker {pin} never took the request")
            return Exchange(reply, None, first, time.time(), 0)
        time.sleep(PIN_BACKOFF)


def _once(
    port: int, method: str, path: str, headers: dict[str, str], timeout: float, body: bytes
) -> Exchange:
    sent = time.time()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body or None, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        answered = time.time()
    except (OSError, http.client.HTTPException) as error:
        return Exchange(
            Reply("lost", reason=f"connection dropped: {type(error).__name__}"),
            None,
            sent,
            time.time(),
            0,
        )
    finally:
        conn.close()
    pid_text = response.getheader(WORKER_HEADER)
    worker = int(pid_text) if pid_text and pid_text.isdigit() else None
    try:
        reply = Reply.from_dict(json.loads(raw))
    except (ValueError, TypeError):
        reply = Reply(
            "error" if response.status >= 500 else "bad_request",
            reason=f"HTTP {response.status}: not a scan reply",
        )
    return Exchange(reply, worker, sent, answered, response.status)
