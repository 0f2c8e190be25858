"""The invariants of the service contract, each a function from an indexed history to its
violations. Names are part of the interface: scenarios, the CLI and reports use them.

Each invariant reports at most one `Violation` per scan: the first witness, how many operations
witnessed it, and their indices as evidence.
"""

from __future__ import annotations

from harness.checker._common import Invariant, describe
from harness.checker._reachability import (
    expires_after_ttl,
    latest_is_newest,
    reachable_until_expiry,
    terminates,
)
from harness.checker._results import honest_status, monotonic_reads, terminal_is_final
from harness.checker._safety import isolated, no_server_errors, saved_before_timeout

__all__ = ["INVARIANTS", "Invariant", "describe"]

INVARIANTS: dict[str, Invariant] = {
    inv.name: inv
    for inv in (
        Invariant(
            "reachable-until-expiry",
            "from its first showing until completion + result TTL, its owner never gets "
            "not_found, by id or through latest",
            reachable_until_expiry,
        ),
        Invariant(
            "expires-after-ttl",
            "well after completion + result TTL (+ memory TTL) reads answer not_found",
            expires_after_ttl,
        ),
        Invariant(
            "monotonic-reads",
            "a later read of a scan never shows less progress, whichever worker served it",
            monotonic_reads,
        ),
        Invariant(
            "terminal-is-final",
            "once a reply showed a terminal result, every later one shows the same until expiry",
            terminal_is_final,
        ),
        Invariant(
            "latest-is-newest",
            "latest answers the user's newest scan begun before the read and not expired",
            latest_is_newest,
        ),
        Invariant(
            "honest-status",
            "complete means all done; partial fewer, with a reason; failed has a reason",
            honest_status,
        ),
        Invariant(
            "terminates",
            "every scan is seen terminal within budget + stall timeout; vanishing is not ending",
            terminates,
        ),
        Invariant("isolated", "no user ever reads another user's scan", isolated),
        Invariant(
            "no-server-errors",
            "no 5xx but 503 inside a declared fault window; no dropped connection outside one",
            no_server_errors,
        ),
        Invariant(
            "saved-before-timeout",
            "a scan that outruns its budget is saved partial before the worker timeout",
            saved_before_timeout,
        ),
    )
}
