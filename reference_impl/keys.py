"""The Redis key contract and the validation of ids that go into keys.

No key is ever built from unchecked input: ids are validated first.
"""

from __future__ import annotations

import re

LOOKUP_PREFIX = "opportunity_scan_lookup:"
LATEST_PREFIX = "opportunity_user_latest_scan:"
RESULT_PREFIX = "opportunity_scan_result:"

_SCAN_ID = re.compile(r"^[0-9a-f]{32}$")
_USER_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_CACHE_KEY = re.compile(r"^[0-9a-f]{24}$")


def valid_scan_id(scan_id: str) -> bool:
    return bool(_SCAN_ID.match(scan_id))


def valid_user_id(user_id: str) -> bool:
    return bool(_USER_ID.match(user_id))


def valid_cache_key(cache_key: str) -> bool:
    return bool(_CACHE_KEY.match(cache_key))


def lookup_key(scan_id: str) -> str:
    assert valid_scan_id(scan_id), scan_id
    return LOOKUP_PREFIX + scan_id


def latest_key(user_id: str) -> str:
    assert valid_user_id(user_id), user_id
    return LATEST_PREFIX + user_id


def result_key(cache_key: str) -> str:
    assert valid_cache_key(cache_key), cache_key
    return RESULT_PREFIX + cache_key


def is_contract_key(key: str) -> bool:
    """True when `key` is one of the three key families of the contract, with a valid id."""
    if key.startswith(LOOKUP_PREFIX):
        return valid_scan_id(key[len(LOOKUP_PREFIX) :])
    if key.startswith(LATEST_PREFIX):
        return valid_user_id(key[len(LATEST_PREFIX) :])
    if key.startswith(RESULT_PREFIX):
        return valid_cache_key(key[len(RESULT_PREFIX) :])
    return False
