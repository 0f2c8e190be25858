"""The scan entry stored in Redis and in worker memory, and the replies the service gives."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from functools import cached_property
from typing import Any, Literal

EntryStatus = Literal["scanning", "complete", "partial", "failed"]
ReplyStatus = Literal[
    "scanning",
    "complete",
    "partial",
    "failed",
    "not_found",
    "unavailable",
    "bad_request",
    "error",
    "lost",
]

TERMINAL: frozenset[str] = frozenset({"complete", "partial", "failed"})
#: a reply's `source` when the worker decided the result itself rather than finding it
JUDGED = "judged"

#: HTTP status code for each reply status (`lost` means the connection dropped: no response)
HTTP_CODES: dict[str, int] = {
    "scanning": 202,
    "complete": 200,
    "partial": 200,
    "failed": 200,
    "not_found": 404,
    "unavailable": 503,
    "bad_request": 400,
    "error": 500,
    "lost": 0,
}


@dataclass(frozen=True)
class Opportunity:
    strategy: str
    symbol: str
    score: float
    win_rate: float | None
    sharpe: float | None
    annual_return: float | None


@dataclass(frozen=True)
class ScanEntry:
    """One scan's state: what `opportunity_scan_result:{cache_key}` holds, as JSON."""

    scan_id: str
    cache_key: str
    owner: str
    status: EntryStatus
    done: int
    total: int
    started_at: float
    #: time of the last progress or heartbeat: how a dead worker's scan is detected
    updated_at: float
    finished_at: float | None = None
    reason: str | None = None
    opportunities: tuple[Opportunity, ...] = field(default=())

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @cached_property
    def null_fields(self) -> tuple[str, ...]:
        """The opportunity fields that came back null, sorted: once per entry, not per poll
        (a finished entry is answered from memory many times over)."""
        return tuple(
            sorted(
                {
                    name
                    for o in self.opportunities
                    for name in ("win_rate", "sharpe", "annual_return")
                    if getattr(o, name) is None
                }
            )
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, raw: str | bytes) -> ScanEntry:
        data: dict[str, Any] = json.loads(raw)
        data["opportunities"] = tuple(Opportunity(**o) for o in data.get("opportunities", ()))
        return cls(**data)

    def advanced(self, now: float, opportunities: tuple[Opportunity, ...]) -> ScanEntry:
        return replace(
            self,
            done=self.done + 1,
            updated_at=now,
            opportunities=self.opportunities + opportunities,
        )

    def finished(self, now: float, status: EntryStatus, reason: str | None = None) -> ScanEntry:
        return replace(self, status=status, updated_at=now, finished_at=now, reason=reason)


@dataclass(frozen=True, slots=True)
class Reply:
    """What one operation answered: the same shape in simulation and over HTTP.

    Slotted: a long history holds a million of them."""

    status: ReplyStatus
    scan_id: str | None = None
    owner: str | None = None
    done: int | None = None
    total: int | None = None
    reason: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    opportunities: int | None = None
    #: opportunity fields that came back null (e.g. a column missing from the database)
    null_fields: tuple[str, ...] = ()
    #: where the worker found the entry: "memory", "redis", `JUDGED` (it judged the scan's
    #: end itself: a stalled scan marked failed, a result it holds until a replica has it) or
    #: None
    source: str | None = None

    @property
    def http(self) -> int:
        return HTTP_CODES[self.status]

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @classmethod
    def of(cls, entry: ScanEntry, *, source: str | None = None) -> Reply:
        return cls(
            status=entry.status,
            scan_id=entry.scan_id,
            owner=entry.owner,
            done=entry.done,
            total=entry.total,
            reason=entry.reason,
            started_at=entry.started_at,
            finished_at=entry.finished_at,
            opportunities=len(entry.opportunities),
            null_fields=entry.null_fields,
            source=source,
        )

    def to_dict(self) -> dict[str, Any]:
        # Every field is flat, so no deep copy (`asdict`): this runs on every status poll.
        data = {name: getattr(self, name) for name in _REPLY_FIELDS}
        data["null_fields"] = list(self.null_fields)
        return {k: v for k, v in data.items() if v is not None and v != []}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reply:
        data = dict(data)
        data["null_fields"] = tuple(data.get("null_fields", ()))
        return cls(**data)


_REPLY_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Reply))
