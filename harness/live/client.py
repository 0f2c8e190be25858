"""The harness's HTTP client for a live service: one request, one `Reply`, who served it.

What a request says and how its answer reads are the target's `[http]` contract
(`harness.live.contract`; the reference's by default)."""

from __future__ import annotations

import http.client
import time
from dataclasses import dataclass, replace

from harness.live.contract import Contract, reference_contract
from reference_impl import Reply

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
    contract: Contract | None = None,
    headers: dict[str, str] | None = None,
) -> Exchange:
    """Send one request on a fresh connection (as a load balancer would), never raising.

    `user` is named as `contract` says (default: the reference's `X-User`), and the answer read
    through it. A dropped connection or a client timeout reads as `lost`; a response that is
    not a reply of the contract (e.g. Gunicorn's own error page) reads as `error` or
    `bad_request` with its HTTP code.
    """
    contract = contract or reference_contract()
    sent_headers = {"Connection": "close", **(headers or {})}
    if user is not None:
        sent_headers.update(contract.identify(user))
    if pin is not None:
        return _pinned(port, method, path, sent_headers, pin, timeout, body, contract)
    return _once(port, method, path, sent_headers, timeout, body, contract)


def _pinned(
    port: int,
    method: str,
    path: str,
    headers: dict[str, str],
    pin: int,
    timeout: float,
    body: bytes,
    contract: Contract,
) -> Exchange:
    """Send until worker `pin` takes the request; it counts as sent at the first attempt."""
    headers = {**headers, PIN_HEADER: str(pin)}
    first = time.time()
    deadline = time.monotonic() + timeout
    while True:
        left = max(0.1, deadline - time.monotonic())
        ex = _once(port, method, path, headers, left, body, contract)
        if ex.code != 421:
            return replace(ex, sent=first)
        if time.monotonic() >= deadline:
            reply = Reply("lost", reason=f"worker {pin} never took the request")
            return Exchange(reply, None, first, time.time(), 0)
        time.sleep(PIN_BACKOFF)


def _once(
    port: int,
    method: str,
    path: str,
    headers: dict[str, str],
    timeout: float,
    body: bytes,
    contract: Contract,
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
    return Exchange(contract.reply(response.status, raw), worker, sent, answered, response.status)
