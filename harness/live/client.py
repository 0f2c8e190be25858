"""The harness's HTTP client for the live service: one request, one `Reply`, who served it."""

from __future__ import annotations

import http.client
import json
import time
from dataclasses import dataclass

from reference_impl import Reply

USER_HEADER = "X-User"
WORKER_HEADER = "X-Worker"


@dataclass(frozen=True)
class Exchange:
    """One HTTP exchange: what came back, from which worker pid, sent and answered when."""

    reply: Reply
    worker: int | None
    sent: float  # time.time()
    answered: float  # time.time()
    code: int


def call(
    port: int, method: str, path: str, *, user: str | None, timeout: float, body: bytes = b""
) -> Exchange:
    """Send one request on a fresh connection (as a load balancer would), never raising.

    A dropped connection or a client timeout reads as `lost`; a response that is not a JSON
    reply (e.g. Gunicorn's own error page) reads as `error` with its HTTP code.
    """
    headers = {"Connection": "close"}
    if user is not None:
        headers[USER_HEADER] = user
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
