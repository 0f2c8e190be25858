"""How the harness talks to a live service: a target's `[http]` contract, requests out and
replies in.

Every live request goes through a `Contract`, the reference's too (`reference_contract()`, the
same contract `targets/reference_wsgi.toml` writes down): the endpoint and its path template,
who the user is (a header, a cookie or a bearer token) and where each part of a reply sits in
the JSON body. A reply becomes the harness's `Reply`: the service's status word mapped through
`statuses`; a body without a known word mapped by its HTTP code through `codes`; anything else is
`error` (5xx) or `bad_request`, with the body's reason when it has one, except a success whose
body does not parse, which is an answer cut off by its worker's death (`lost`). Times stay the
service's wall clock (epoch seconds, or ISO 8601 text): the live schedule puts them in scenario
time.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, cast
from urllib.parse import quote

from harness.target._model import (
    HARNESS_STATUSES,
    Endpoint,
    HttpBody,
    HttpContract,
    UserIdentity,
)
from reference_impl import Reply

__all__ = ["Contract", "Operation", "reference_contract"]

Operation = Literal["start", "status", "latest"]


@functools.cache
def reference_contract() -> Contract:
    """How `reference_impl.web` speaks: `X-User`, flat `Reply.to_dict()` bodies, every reply
    carrying its status word (so no HTTP code needs mapping)."""
    # Every body field sits under its own name.
    names = HttpBody.__struct_fields__
    return Contract(
        HttpContract(
            start=Endpoint(method="POST", path="/scans"),
            status=Endpoint(method="GET", path="/scans/{scan_id}"),
            latest=Endpoint(method="GET", path="/scans/latest"),
            user=UserIdentity(header="X-User"),
            body=HttpBody(**{name: name for name in names}),
            statuses={status: status for status in HARNESS_STATUSES},
            runs_to_end=True,
        )
    )


@dataclass(frozen=True)
class Contract:
    """A target's `[http]` table, as the client uses it."""

    spec: HttpContract

    @property
    def runs_to_end(self) -> bool:
        return self.spec.runs_to_end

    def endpoint(self, op: Operation, user: str, scan_id: str | None = None) -> tuple[str, str]:
        """The method and path of `op` for `user` (and `scan_id`), placeholders URL-quoted."""
        endpoint: Endpoint = getattr(self.spec, op)
        path = endpoint.path.replace("{user}", quote(user, safe=""))
        if scan_id is not None:
            path = path.replace("{scan_id}", quote(scan_id, safe=""))
        return endpoint.method, path

    def identify(self, user: str) -> dict[str, str]:
        """The header that says `user` sends a request."""
        who = self.spec.user
        value = who.value.replace("{user}", user)
        if who.header is not None:
            return {who.header: value}
        if who.cookie is not None:
            return {"Cookie": f"{who.cookie}={value}"}
        return {"Authorization": f"Bearer {value}"}

    def reply(self, code: int, raw: bytes) -> Reply:
        """The harness's reading of one HTTP answer."""
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            data = None
        if not isinstance(data, dict):
            mapped = self.spec.codes.get(str(code))
            if mapped is not None:
                return Reply(cast("Any", mapped))
            if code < 400:
                # A success whose body does not parse: its worker died while sending it (seen
                # under load when a worker is killed mid-answer), not a request it refused.
                return Reply("lost", reason=f"HTTP {code}: the answer was cut off")
            return Reply(_fallback(code), reason=f"HTTP {code}: not a scan reply")
        body = self.spec.body
        word = _at(data, body.status)
        status = self.spec.statuses.get(word) if isinstance(word, str) else None
        status = status or self.spec.codes.get(str(code))
        reason = _text(_at(data, body.reason))
        if status is None:
            status = _fallback(code)
            if reason is None:
                reason = f"HTTP {code}: status {word!r} is not one of the target's status words"
        return Reply(
            status=cast("Any", status),
            scan_id=_text(_at(data, body.scan_id)),
            owner=_text(_at(data, body.owner)),
            done=_count(_at(data, body.done)),
            total=_count(_at(data, body.total)),
            reason=reason,
            started_at=_time(_at(data, body.started_at)),
            finished_at=_time(_at(data, body.finished_at)),
            opportunities=_count(_at(data, body.opportunities), lengths=True),
            null_fields=_names(_at(data, body.null_fields)),
            source=_text(_at(data, body.source)),
        )


def _fallback(code: int) -> Literal["error", "bad_request"]:
    # Not a reply the contract describes: a server error, or a request the service refused.
    return "error" if code >= 500 else "bad_request"


def _at(data: Any, path: str | None) -> Any:
    """The value at dotted `path` in `data`, or None when any step is missing."""
    if path is None:
        return None
    for key in path.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    return value if isinstance(value, str) else str(value)


def _count(value: Any, *, lengths: bool = False) -> int | None:
    if lengths and isinstance(value, list):
        return len(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value) if math.isfinite(value) else None


def _names(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(str(v) for v in value)


def _time(value: Any) -> float | None:
    """Epoch seconds from a number or ISO 8601 text (no zone: UTC)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if not isinstance(value, str):
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
