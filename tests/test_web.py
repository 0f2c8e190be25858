"""The HTTP layer of the scan service: routes, codes, headers, bad input (in-process WSGI)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.live.redis_server import RedisServer
from reference_impl import ServiceConfig, StrategyProfile
from reference_impl.web import ScanApp, WebSettings
from tests._web_helpers import call, running_app

pytestmark = pytest.mark.live


@pytest.fixture
def served(tmp_path: Path, redis_server_binary: str) -> Iterator[tuple[ScanApp, RedisServer]]:
    with running_app(tmp_path, redis_server_binary) as (app, server, _):
        yield app, server


def test_start_then_status_and_latest_from_the_json_reply(
    served: tuple[ScanApp, RedisServer],
) -> None:
    app, _ = served
    started = call(app, "POST", "/scans", user="alice", body=b"{}")
    assert started.code == 200
    assert started.headers["X-Worker"] == str(os.getpid())
    reply = started.json()
    assert (reply["status"], reply["done"], reply["total"]) == ("complete", 14, 14)
    status = call(app, "GET", f"/scans/{reply['scan_id']}", user="alice")
    assert (status.code, status.json()["status"]) == (200, "complete")
    latest = call(app, "GET", "/scans/latest", user="alice")
    assert (latest.code, latest.json()["scan_id"]) == (200, reply["scan_id"])


def test_another_user_gets_404_and_malformed_input_gets_400(
    served: tuple[ScanApp, RedisServer],
) -> None:
    app, _ = served
    scan_id = call(app, "POST", "/scans", user="alice").json()["scan_id"]
    assert call(app, "GET", f"/scans/{scan_id}", user="bob").code == 404
    assert call(app, "GET", "/scans/not-an-id", user="alice").code == 400
    assert call(app, "GET", f"/scans/{scan_id}").code == 400  # no X-User
    assert call(app, "GET", "/scans/latest", user="bad user").code == 400
    assert call(app, "POST", "/scans", user="alice", body=b"[1]").code == 400
    assert call(app, "POST", "/scans", user="alice", body=b"\xff").code == 400
    assert call(app, "DELETE", f"/scans/{scan_id}", user="alice").code == 405
    assert call(app, "GET", "/nowhere", user="alice").code == 404


def test_redis_down_answers_503_with_retry_after(served: tuple[ScanApp, RedisServer]) -> None:
    app, server = served
    scan_id = call(app, "POST", "/scans", user="alice").json()["scan_id"]
    server.stop()
    try:
        # Another scan id: this worker has no copy of it, and cannot ask Redis.
        missing = call(app, "GET", "/scans/" + "0" * 32, user="alice")
        assert (missing.code, missing.json()["status"]) == (503, "unavailable")
        assert missing.headers["Retry-After"] == "1"
        assert call(app, "POST", "/scans", user="alice").code == 503
        # Its own finished scan is still served from memory.
        assert call(app, "GET", f"/scans/{scan_id}", user="alice").code == 200
    finally:
        server.start()
    assert call(app, "GET", "/scans/" + "0" * 32, user="alice").code == 404


def test_redis_errors_raise_regression_gives_500_not_a_crash(
    tmp_path: Path, redis_server_binary: str
) -> None:
    cfg = ServiceConfig(bugs=frozenset({"redis-errors-raise"}))
    with running_app(tmp_path, redis_server_binary, config=cfg) as (app, server, _):
        server.stop()
        try:
            answer = call(app, "GET", "/scans/" + "0" * 32, user="alice")
        finally:
            server.start()
    assert (answer.code, answer.json()["status"]) == (500, "error")


def test_health_trivial_and_misdirected(served: tuple[ScanApp, RedisServer]) -> None:
    app, _ = served
    assert call(app, "GET", "/health").code == 200
    trivial = call(app, "GET", "/trivial")
    assert (trivial.code, trivial.body) == (200, b'{"ok":true}')
    other = str(os.getpid() + 1)
    assert call(app, "GET", "/trivial", headers={"X-Pin-Worker": other}).code == 421
    assert call(app, "GET", "/trivial", headers={"X-Pin-Worker": str(os.getpid())}).code == 200


def test_settings_survive_the_json_file() -> None:
    settings = WebSettings(
        config=ServiceConfig(bugs=frozenset({"no-user-scope"})).scaled(0.05),
        redis_url="redis://127.0.0.1:1/0",
        database_url="sqlite:////tmp/x.sqlite",
        profile=StrategyProfile(seconds=0.1, hang=frozenset({3})),
        state_dir="/tmp/state",
    )
    assert WebSettings.from_json(settings.to_json()) == settings
