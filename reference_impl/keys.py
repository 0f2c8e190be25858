"""The Redis key contract and the validation of ids that go into keys.

No key is ever built from unchecked input: ids are validated first. The key builders raise
`InvalidIdError` (not `assert`, which `python -O` strips) so the guard holds in an optimised run.
"""

from __future__ import annotations

import re

__all__ = [
    "LATEST_PREFIX",
    "LOOKUP_PREFIX",
    "RESULT_PREFIX",
    "SCANS_PREFIX",
    "USER_ID_RULE",
    "InvalidIdError",
    "is_contract_key",
    "latest_key",
    "lookup_key",
    "result_key",
    "user_id_problem",
    "user_scans_key",
    "valid_cache_key",
    "valid_scan_id",
    "valid_user_id",
]

LOOKUP_PREFIX = "opportunity_scan_lookup:"
LATEST_PREFIX = "opportunity_user_latest_scan:"
RESULT_PREFIX = "opportunity_scan_result:"
SCANS_PREFIX = "opportunity_user_scans:"
#: against a replicated Redis only: the primary the workers know, and when one first noticed it
PRIMARY_KEY = "opportunity_scan_primary"
#: against a replicated Redis only: when a worker last asked which server is primary
CONTACT_KEY = "opportunity_scan_contact"

_SCAN_ID = re.compile(r"^[0-9a-f]{32}$")
_USER_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_CACHE_KEY = re.compile(r"^[0-9a-f]{24}$")
#: what a user id may be, in words, for error messages
USER_ID_RULE = "1-64 characters, each a letter, a digit, '_', '.' or '-'"


class InvalidIdError(ValueError):
    """An id that must never become part of a Redis key."""


def valid_scan_id(scan_id: str) -> bool:
    return isinstance(scan_id, str) and bool(_SCAN_ID.fullmatch(scan_id))


def valid_user_id(user_id: str) -> bool:
    return isinstance(user_id, str) and bool(_USER_ID.fullmatch(user_id))


def user_id_problem(user_id: object) -> str | None:
    """Why the service would refuse `user_id` (None when it would take it)."""
    if not isinstance(user_id, str):
        return f"a user id is a string, not {type(user_id).__name__}"
    if valid_user_id(user_id):
        return None
    return f"{user_id!r} is not a valid user id ({USER_ID_RULE})"


def valid_cache_key(cache_key: str) -> bool:
    return isinstance(cache_key, str) and bool(_CACHE_KEY.fullmatch(cache_key))


def lookup_key(scan_id: str) -> str:
    if not valid_scan_id(scan_id):
        raise InvalidIdError(f"malformed scan id {scan_id!r}")
    return LOOKUP_PREFIX + scan_id


def latest_key(user_id: str) -> str:
    if not valid_user_id(user_id):
        raise InvalidIdError(f"malformed user id {user_id!r}")
    return LATEST_PREFIX + user_id


def user_scans_key(user_id: str) -> str:
    if not valid_user_id(user_id):
        raise InvalidIdError(f"malformed user id {user_id!r}")
    return SCANS_PREFIX + user_id


def result_key(cache_key: str) -> str:
    if not valid_cache_key(cache_key):
        raise InvalidIdError(f"malformed cache key {cache_key!r}")
    return RESULT_PREFIX + cache_key


def is_contract_key(key: str) -> bool:
    """True when `key` is one of the four key families of the contract, with a valid id (or,
    against a replicated Redis, the primary record and the contact stamp)."""
    if key.startswith(LOOKUP_PREFIX):
        return valid_scan_id(key[len(LOOKUP_PREFIX) :])
    if key.startswith(LATEST_PREFIX):
        return valid_user_id(key[len(LATEST_PREFIX) :])
    if key.startswith(SCANS_PREFIX):
        return valid_user_id(key[len(SCANS_PREFIX) :])
    if key.startswith(RESULT_PREFIX):
        return valid_cache_key(key[len(RESULT_PREFIX) :])
    return key in (PRIMARY_KEY, CONTACT_KEY)
