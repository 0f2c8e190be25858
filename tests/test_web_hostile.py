"""Hostile input at the HTTP service: always a 4xx, never a 5xx, no key outside the contract.

Hypothesis throws malformed ids (Redis patterns such as `*` and `:`, very long strings, unicode,
control characters), user headers and bodies at the in-process WSGI app, which talks to a real
redis-server. A request the contract calls well-formed (a valid user, a `{}` or empty start body)
may succeed; every other one must get a 4xx.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reference_impl.keys import is_contract_key
from reference_impl.web import ScanApp
from tests._web_helpers import call, running_app

pytestmark = pytest.mark.live

PATTERNS = ["*", ":", "?", "[a-z]", "\\", "opportunity_scan_lookup:*", "\x00", "..", "%2A", " "]
hostile_text = st.one_of(
    st.sampled_from(PATTERNS),
    st.text(min_size=0, max_size=40),
    st.text(alphabet=st.sampled_from("*:?[]\\ab0f-_."), max_size=80),
    st.text(min_size=1000, max_size=5000).map(lambda s: s + "x" * 4000),
    st.from_regex(r"[0-9a-f]{31,33}", fullmatch=True),
)
users = st.one_of(st.none(), hostile_text, st.sampled_from(["alice", "u" * 64, "u" * 65]))
bodies = st.one_of(
    st.binary(max_size=64),
    st.sampled_from([b"[]", b"null", b'{"user":"*"}', b"{", b"\xff\xfe", b"x" * 5000]),
)


@pytest.fixture(scope="module")
def hostile_target(
    tmp_path_factory: pytest.TempPathFactory, redis_server_binary: str
) -> Iterator[tuple[ScanApp, redis.Redis]]:
    with running_app(tmp_path_factory.mktemp("hostile"), redis_server_binary) as (app, srv, _):
        client = srv.client()
        yield app, client
        client.close()


#: the contract's user ids, written out here rather than taken from the service under test
VALID_USER = re.compile(r"[A-Za-z0-9_.-]{1,64}")
VALID_SCAN_ID = re.compile(r"[0-9a-f]{32}")


def _check(
    app: ScanApp,
    client: redis.Redis,
    method: str,
    path: str,
    *,
    well_formed: bool,
    user: str | None,
    body: bytes = b"",
) -> None:
    answer = call(app, method, path, user=user, body=body)
    assert answer.code < 500, (method, path, user, body, answer)
    if not well_formed:
        assert 400 <= answer.code < 500, (method, path, user, body, answer)
        assert answer.json()["status"] in ("bad_request", "not_found"), answer
    stray = [k for k in client.keys("*") if not is_contract_key(k.decode("latin-1"))]
    assert not stray, stray


SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SETTINGS
@given(scan_id=hostile_text, user=users)
def test_status_of_hostile_ids(
    hostile_target: tuple[ScanApp, redis.Redis], scan_id: str, user: str | None
) -> None:
    app, client = hostile_target
    ok = _user_ok(user) and VALID_SCAN_ID.fullmatch(scan_id) is not None
    _check(app, client, "GET", "/scans/" + scan_id, well_formed=ok, user=user)


@SETTINGS
@given(user=users)
def test_latest_for_hostile_users(
    hostile_target: tuple[ScanApp, redis.Redis], user: str | None
) -> None:
    app, client = hostile_target
    _check(app, client, "GET", "/scans/latest", well_formed=_user_ok(user), user=user)


@SETTINGS
@given(user=users, body=bodies)
def test_start_with_hostile_user_or_body(
    hostile_target: tuple[ScanApp, redis.Redis], user: str | None, body: bytes
) -> None:
    app, client = hostile_target
    ok = _user_ok(user) and body.strip() in (b"", b"{}")
    _check(app, client, "POST", "/scans", well_formed=ok, user=user, body=body)


@SETTINGS
@given(
    path=st.one_of(
        hostile_text.map(lambda s: "/" + s), hostile_text.map(lambda s: "/scans/" + s + "/x")
    )
)
def test_hostile_paths(hostile_target: tuple[ScanApp, redis.Redis], path: str) -> None:
    app, client = hostile_target
    well_formed = path in ("/health", "/trivial", "/scans/latest")
    _check(app, client, "GET", path, well_formed=well_formed, user="alice")


def _user_ok(user: str | None) -> bool:
    return user is not None and VALID_USER.fullmatch(user) is not None
