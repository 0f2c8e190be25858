"""The catalogue of planted regressions.

Each name switches one small, localized defect back into the service. All are off by default;
the fixed service is `ScanService(..., bugs=frozenset())`.
"""

from __future__ import annotations

from collections.abc import Iterable

BUGS: dict[str, str] = {
    "cleanup-ignores-redis": (
        "cleanup removes the Redis lookup after checking only memory (the 12 s 404)"
    ),
    "no-redis-fallback": "status is read from memory only: other workers answer 404",
    "lookup-memory-only": "the scan_id -> cache_key lookup is never written to Redis",
    "short-lookup-ttl": "lookup keys expire long before result keys",
    "select-all-columns": (
        "the performance query names every model column, annual_return included"
    ),
    "redis-errors-raise": "a Redis error propagates: 500s during an outage",
    "stale-memory-first": "memory copy served first even when Redis holds newer progress",
    "orphaned-scan": "a scan whose worker died stays scanning until its TTL",
    "lost-write-after-outage": ("results written while Redis was down are never persisted later"),
    "budget-over-timeout": (
        "scan budget longer than the worker timeout: the worker is killed before saving"
    ),
    "no-user-scope": "any user can read any scan by id",
    "latest-set-once": (
        "the latest-scan pointer is only set when absent: latest keeps naming an older scan"
    ),
    "complete-on-budget": "a strategy cut off by the budget ends the scan labelled complete",
    "no-replica-ack": (
        "terminal writes are trusted once the primary answers: a failover promotes a replica "
        "without them"
    ),
    "terminal-overwrite": (
        "writes are not compare-and-set: a late write overwrites a terminal result in Redis"
    ),
}


class UnknownBugError(ValueError):
    """A planted regression name that is not in `BUGS`."""

    def __init__(self, name: str) -> None:
        self.name = name
        known = ", ".join(sorted(BUGS))
        super().__init__(f"unknown planted regression {name!r}; known: {known}")


def validate_bugs(names: Iterable[str]) -> frozenset[str]:
    """Return the names as a frozenset, refusing any that is not in the catalogue.

    >>> sorted(validate_bugs(["no-user-scope"]))
    ['no-user-scope']
    """
    result = frozenset(names)
    for name in sorted(result):
        if name not in BUGS:
            raise UnknownBugError(name)
    return result
