"""Live targets: a `[wsgi]` app under the harness's Gunicorn through the WSGI adapter, spoken to
through its `[http]` contract, with its own regression switched on by its environment.

The target is the reference's app configured from its environment (`targets/reference_wsgi.toml`):
the same code as the reference, but reached only through the generic path. Short scenarios keep
each live run to a few wall seconds.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.live.contract import Contract, reference_contract
from harness.live.runner import LiveOptions, run_live
from harness.live.wsgi_adapter import Adapter
from harness.scenario import Poll, RestartWorker, Scenario, Start
from harness.target import load_target
from reference_impl import Reply
from tests.histories import INCIDENT_SHORT as INCIDENT
from tests.histories import SHORT

ROOT = Path(__file__).resolve().parents[1]
REFERENCE_WSGI = ROOT / "targets" / "reference_wsgi.toml"


RESTART = Scenario(
    name="restart-short",
    description="the worker running a scan is killed mid-scan",
    duration=60.0,
    steps=(
        Start(at=0.0, user="alice", scan="s1"),
        Poll(scan="s1", start=1.0, until=60.0, every=1.0, fanout=2),
    ),
    faults=(RestartWorker(at=10.0, scan="s1"),),
    config=SHORT,
)


@pytest.mark.live
def test_a_wsgi_target_passes_fixed_and_its_regression_404s_about_12_s_after_completion(
    redis_server_binary: str,
) -> None:
    target = load_target(REFERENCE_WSGI)
    options = LiveOptions(redis_server=redis_server_binary)
    fixed = run_live(INCIDENT, options=options, target=target)
    assert fixed.verdict.passed, fixed.verdict.violations
    workers = {op.worker for op in fixed.history.ops}
    assert len(workers) == 3 and all(w.isdigit() for w in workers)  # the adapter's X-Worker
    assert "--target" in fixed.history.info.command
    buggy = run_live(INCIDENT, bugs=("cleanup-ignores-redis",), options=options, target=target)
    [violation] = buggy.verdict.violations
    assert violation.invariant == "reachable-until-expiry"
    assert violation.after_completion is not None and 9.0 <= violation.after_completion <= 16.0


@pytest.mark.live
def test_the_worker_running_a_labelled_scan_is_found_and_killed(redis_server_binary: str) -> None:
    # The app writes no state file of its own: the adapter files the start under its label.
    result = run_live(
        RESTART,
        options=LiveOptions(redis_server=redis_server_binary),
        target=load_target(REFERENCE_WSGI),
    )
    [restart] = [f for f in result.history.faults if f.fault == "worker-restart"]
    [start] = [op for op in result.history.ops if op.op == "start"]
    assert start.worker == restart.target and start.reply.status == "lost"
    assert result.verdict.passed, result.verdict.violations
    assert any(op.reply.status == "failed" for op in result.history.ops if op.op == "status")


def test_a_wsgi_target_in_simulation_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "post-completion-404", "--target", str(REFERENCE_WSGI)]) == 2
    err = capsys.readouterr().err
    assert "field wsgi: a WSGI app runs over HTTP, in live mode only" in err


def test_the_reference_wsgi_contract_is_the_one_its_live_cluster_speaks() -> None:
    http = load_target(REFERENCE_WSGI).spec.http
    assert http == reference_contract().spec


FLASK_LIKE = Contract(
    load_target(ROOT / "tests" / "targets" / "shaped.toml").spec.http  # type: ignore[arg-type]
)


@pytest.mark.parametrize(
    ("code", "body", "expected"),
    [
        (
            200,
            {"scan": {"id": "a1", "owner": "bob", "state": "done", "progress": {"completed": 14}}},
            Reply("complete", scan_id="a1", owner="bob", done=14),
        ),
        (
            202,
            {"scan": {"id": "a1", "state": "running", "started_at": "1970-01-01T00:01:40Z"}},
            Reply("scanning", scan_id="a1", started_at=100.0),
        ),
        (404, {"error": {"code": "scan_not_found"}}, Reply("not_found")),
        (503, {"error": {"code": "backend_unavailable"}}, Reply("unavailable")),
        (500, {"error": "boom"}, None),
        (200, {"scan": {"id": "a1", "state": "bogus"}}, None),
    ],
)
def test_a_reply_maps_through_the_contract(
    code: int, body: dict[str, Any], expected: Reply | None
) -> None:
    reply = FLASK_LIKE.reply(code, json.dumps(body).encode())
    if expected is not None:
        assert reply == expected
    else:
        assert reply.status == ("error" if code >= 500 else "bad_request")
        assert reply.reason is not None and f"HTTP {code}" in reply.reason


def test_a_request_names_the_user_and_fills_the_path_as_the_contract_says() -> None:
    assert FLASK_LIKE.endpoint("status", "bob", "a/1") == ("GET", "/api/scans/a%2F1")
    assert FLASK_LIKE.identify("bob") == {"Authorization": "Bearer bob"}
    assert reference_contract().identify("bob") == {"X-User": "bob"}
    assert FLASK_LIKE.reply(502, b"<html>").status == "error"  # Gunicorn's own page
    assert FLASK_LIKE.reply(200, b'{"scan": {"id"').status == "lost"  # its worker died mid-answer


def _wsgi(app: Adapter, headers: dict[str, str]) -> tuple[str, dict[str, str], bytes]:
    seen: dict[str, Any] = {}

    def start_response(status: str, hdrs: list[tuple[str, str]], *exc: Any) -> None:
        seen["status"], seen["headers"] = status, dict(hdrs)

    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/scans", "wsgi.input": io.BytesIO()}
    environ.update({"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()})
    body = app(environ, start_response)
    data = b"".join(body)
    getattr(body, "close", lambda: None)()
    return seen["status"], seen["headers"], data


def test_the_adapter_names_the_worker_pins_and_files_the_running_label(tmp_path: Path) -> None:
    during: list[Any] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        during.append(json.loads((tmp_path / str(os.getpid())).read_text()))
        assert "HTTP_X_SCANCHAOS_LABEL" not in environ  # the harness's headers stay its own
        start_response("200 OK", [("X-Worker", "app's own")])
        return [b"ok"]

    adapter = Adapter(lambda: app, state_dir=str(tmp_path))
    status, headers, data = _wsgi(adapter, {"X-Scanchaos-Label": "s1"})
    assert (status, headers["X-Worker"], data) == ("200 OK", str(os.getpid()), b"ok")
    assert during[0]["label"] == "s1"
    assert not (tmp_path / str(os.getpid())).exists()  # the request ended: no longer running
    status, headers, _ = _wsgi(adapter, {"X-Pin-Worker": "1", "X-Scanchaos-Label": "s2"})
    assert status.startswith("421") and headers["X-Worker"] == str(os.getpid())
    assert len(during) == 1  # a misdirected request never reaches the app


def test_live_mode_refuses_an_in_process_target_other_than_the_reference(
    capsys: pytest.CaptureFixture[str],
) -> None:
    renamed = ROOT / "tests" / "targets" / "renamed.toml"
    args = ["run", "post-completion-404", "--mode", "live", "--target", str(renamed)]
    assert main(args) == 2
    assert "live mode serves an in-process service only for the reference" in (
        capsys.readouterr().err
    )


def test_a_load_nemesis_the_target_cannot_take_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    args = ["load", "--target", str(REFERENCE_WSGI), "--nemesis", "failover@5s"]
    assert main([*args, "--out", str(tmp_path / "load")]) == 2
    err = capsys.readouterr().err
    assert "--nemesis failover: target 'reference-wsgi' cannot take it" in err
    assert "faults.replication = false" in err


@pytest.mark.live
def test_the_pytest_plugin_runs_a_scenario_on_a_target(run_scenario: Any) -> None:
    buggy = run_scenario(
        INCIDENT, mode="live", bugs=("cleanup-ignores-redis",), target=REFERENCE_WSGI
    )
    assert buggy.verdict.violated() == {"reachable-until-expiry"}
    with pytest.raises(ValueError, match="a WSGI target runs live only"):
        run_scenario(INCIDENT, target=REFERENCE_WSGI)


@pytest.mark.live
def test_an_app_that_cannot_start_is_named_with_its_error(
    redis_server_binary: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    broken = ROOT / "tests" / "targets" / "broken.toml"
    args = ["run", "post-completion-404", "--mode", "live", "--target", str(broken)]
    assert main([*args, "--redis-server", redis_server_binary, "--out", str(tmp_path)]) == 3
    err = capsys.readouterr().err
    assert "Gunicorn exited while starting" in err
    assert "RuntimeError: broken_app cannot start: BROKEN_APP_URL is not set" in err
