"""The flask_scans example target, driven through Flask's test client.

Each "worker" is an app instance of its own (its own memory and scan manager) sharing one
fakeredis server and one SQLite file, as Gunicorn's workers share Redis and the database. Time
is a fake clock every worker reads: a strategy's market-data wait advances it, and so do the
tests, so nothing sleeps.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import fakeredis
import pytest
from flask import Flask
from sqlalchemy import Engine, create_engine, inspect

from harness.target import load_target
from targets.flask_scans.app import cleanup_thread, create_app, scans
from targets.flask_scans.scans import idx_key, job_key, recent_key
from targets.flask_scans.settings import Settings, SettingsError
from targets.flask_scans.strategies import OPTIONAL_COLUMNS, drop_column, init_db

TARGET_FILE = Path(__file__).parents[1] / "targets" / "flask_scans" / "target.toml"
START = 1_800_000_000.0


class WorkerKilled(BaseException):
    """Stands in for SIGKILL: the request dies mid-scan, writing nothing more."""


class FakeClock:
    """Wall time that only moves when a strategy waits or a test says so."""

    def __init__(self) -> None:
        self.now = START
        #: called after every sleep, with the time it slept until
        self.on_sleep: Callable[[float], None] | None = None

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)
        if self.on_sleep is not None:
            self.on_sleep(self.now)

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Cluster:
    server: fakeredis.FakeServer
    clock: FakeClock
    database_url: str
    settings: Settings
    engines: list[Engine]

    @property
    def redis(self) -> fakeredis.FakeRedis:
        return fakeredis.FakeRedis(server=self.server, decode_responses=True)

    def worker(self, **changes: Any) -> Flask:
        """A new worker: its own app and memory, the shared Redis, database and clock."""
        settings = replace(self.settings, **changes)
        engine = create_engine(settings.database_url)
        self.engines.append(engine)
        app = create_app(
            settings,
            redis_client=fakeredis.FakeRedis(server=self.server, decode_responses=True),
            engine=engine,
            clock=self.clock,
            cleanup_thread=False,
        )
        app.testing = True
        return app


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    url = f"sqlite:///{tmp_path / 'stats.sqlite'}"
    init_db(url, 14)
    settings = Settings(redis_url="redis://unused", database_url=url, strategy_seconds=1.0)
    made = Cluster(fakeredis.FakeServer(), FakeClock(), url, settings, [])
    yield made
    for engine in made.engines:
        engine.dispose()


def as_user(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {user}"}


def start(app: Flask, user: str = "alice") -> tuple[int, dict[str, Any]]:
    reply = app.test_client().post("/api/scans", headers=as_user(user))
    return reply.status_code, reply.get_json()


def status(app: Flask, scan_id: str, user: str = "alice") -> tuple[int, dict[str, Any]]:
    reply = app.test_client().get(f"/api/scans/{scan_id}", headers=as_user(user))
    return reply.status_code, reply.get_json()


def latest(app: Flask, user: str = "alice") -> tuple[int, dict[str, Any]]:
    reply = app.test_client().get("/api/scans/latest", headers=as_user(user))
    return reply.status_code, reply.get_json()


# -- a scan, read from every worker -------------------------------------------------------


def test_a_scan_completes_and_another_worker_reads_it_complete(cluster: Cluster) -> None:
    one, two = cluster.worker(), cluster.worker()
    code, body = start(one)
    assert code == 200
    scan = body["scan"]
    assert scan["state"] == "done"
    assert scan["progress"] == {"completed": 14, "total": 14}
    assert scan["owner"] == "alice" and scan["reason"] is None
    assert scan["finished_at"] == pytest.approx(START + 14.0)
    assert scan["signals"], "the strategy table's rows come back as signals"

    code, seen = status(two, scan["id"])
    assert (code, seen["scan"]) == (200, scan)
    code, newest = latest(two)
    assert (code, newest["scan"]["id"]) == (200, scan["id"])


def test_a_scans_keys_are_written_together_with_one_ttl(cluster: Cluster) -> None:
    _, body = start(cluster.worker())
    scan_id = body["scan"]["id"]
    r = cluster.redis
    job_id = r.get(idx_key(scan_id))
    assert job_id is not None
    ttls = [r.pttl(idx_key(scan_id)), r.pttl(job_key(job_id)), r.pttl(recent_key("alice"))]
    assert all(299_000 < ttl <= 300_000 for ttl in ttls), ttls
    assert max(ttls) - min(ttls) < 1_000
    assert json.loads(r.get(job_key(job_id)))["state"] == "done"


def test_progress_is_in_redis_while_the_scan_runs(cluster: Cluster) -> None:
    one, two = cluster.worker(), cluster.worker()
    seen: list[tuple[int, dict[str, Any]]] = []

    def poll(now: float) -> None:
        if not seen and now >= START + 5.0:
            _, newest = latest(two)
            seen.append(status(two, newest["scan"]["id"]))

    cluster.clock.on_sleep = poll
    assert start(one)[0] == 200
    [(code, running)] = seen
    assert code == 200
    assert running["scan"]["state"] == "running"
    assert running["scan"]["progress"] == {"completed": 4, "total": 14}


def test_latest_is_the_newest_scan(cluster: Cluster) -> None:
    one, two = cluster.worker(), cluster.worker()
    _, first = start(one)
    _, second = start(one)
    assert first["scan"]["id"] != second["scan"]["id"]
    assert latest(two)[1]["scan"]["id"] == second["scan"]["id"]


# -- the incident switch ---------------------------------------------------------------------


@pytest.mark.parametrize("bug", [True, False], ids=["cleanup-bug", "fixed"])
def test_the_cleanup_bug_makes_every_worker_answer_404_while_redis_holds_the_result(
    cluster: Cluster, bug: bool
) -> None:
    one, two = cluster.worker(cleanup_bug=bug), cluster.worker(cleanup_bug=bug)
    _, body = start(one)
    scan_id = body["scan"]["id"]
    job_id = cluster.redis.get(idx_key(scan_id))
    assert status(two, scan_id)[0] == 200

    # memory TTL + cleanup interval after completion: both workers' copies expired, and their
    # cleanup threads ran
    cluster.clock.advance(cluster.settings.memory_ttl + cluster.settings.cleanup_interval)
    scans(one).cleanup()
    scans(two).cleanup()
    third = cluster.worker(cleanup_bug=bug)

    assert cluster.redis.exists(job_key(job_id)) == 1, "the result is still in Redis"
    if bug:
        assert cluster.redis.exists(idx_key(scan_id)) == 0
        for worker in (one, two, third):
            code, reply = status(worker, scan_id)
            assert code == 404
            assert reply["error"]["code"] == "scan_not_found"
        assert latest(third)[0] == 404
    else:
        for worker in (one, two, third):
            code, reply = status(worker, scan_id)
            assert (code, reply["scan"]["state"]) == (200, "done")
        assert latest(third)[1]["scan"]["id"] == scan_id


def test_cleanup_drops_expired_memory_copies(cluster: Cluster) -> None:
    one = cluster.worker()
    start(one)
    assert scans(one).memory_size() == 1
    cluster.clock.advance(cluster.settings.memory_ttl - 0.5)
    scans(one).cleanup()
    assert scans(one).memory_size() == 1
    cluster.clock.advance(1.0)
    scans(one).cleanup()
    assert scans(one).memory_size() == 0


# -- Redis down ------------------------------------------------------------------------------


def test_redis_down_answers_503_with_retry_after_not_500(cluster: Cluster) -> None:
    one, two = cluster.worker(), cluster.worker()
    _, body = start(one)
    scan_id = body["scan"]["id"]
    cluster.server.connected = False

    for reply in (
        two.test_client().get(f"/api/scans/{scan_id}", headers=as_user("alice")),
        two.test_client().get("/api/scans/latest", headers=as_user("alice")),
        two.test_client().post("/api/scans", headers=as_user("alice")),
    ):
        assert reply.status_code == 503
        assert reply.headers["Retry-After"] == "2"
        assert reply.get_json()["error"]["code"] == "backend_unavailable"
    # The worker that holds a final copy answers from it.
    assert status(one, scan_id)[1]["scan"]["state"] == "done"

    cluster.server.connected = True
    assert status(two, scan_id)[1]["scan"]["state"] == "done"


def test_a_real_client_fails_fast_against_a_redis_that_is_not_there(cluster: Cluster) -> None:
    engine = create_engine(cluster.database_url)
    cluster.engines.append(engine)
    settings = replace(cluster.settings, redis_url="redis://127.0.0.1:1/0", redis_timeout=0.2)
    app = create_app(settings, engine=engine, cleanup_thread=False)
    reply = app.test_client().get(
        "/api/scans/0b6f3c1e-9d4a-4c55-8f7e-2a1b3c4d5e6f", headers=as_user("alice")
    )
    assert reply.status_code == 503
    scans(app)._redis.close()


def test_a_final_write_redis_does_not_take_is_503_then_repaired_by_the_cleanup(
    cluster: Cluster,
) -> None:
    one, two = cluster.worker(), cluster.worker()
    outage = (START + 13.5, START + 400.0)

    def redis_down(now: float) -> None:
        cluster.server.connected = not (outage[0] <= now < outage[1])
        scans(two).cleanup()  # worker two's cleanup thread, which sees the outage

    cluster.clock.on_sleep = redis_down
    reply = one.test_client().post("/api/scans", headers=as_user("alice"))
    assert reply.status_code == 503
    assert reply.get_json()["error"]["code"] == "result_not_saved"
    scan_id = reply.get_json()["scan"]["id"]
    # it waited for Redis, but left the answer to the cleanup before the worker timeout
    assert cluster.clock.now < START + cluster.settings.worker_timeout

    cluster.clock.on_sleep = None
    cluster.server.connected = True
    scans(two).cleanup()
    # Redis has the last progress; the heartbeats it missed in the outage are no sign of death
    code, seen = status(two, scan_id)
    assert (code, seen["scan"]["state"]) == (200, "running")
    scans(one).cleanup()
    code, seen = status(two, scan_id)
    assert (code, seen["scan"]["state"]) == (200, "done")
    assert seen["scan"]["progress"]["completed"] == 14


# -- isolation and bad input ----------------------------------------------------------------


def test_another_users_scan_reads_404(cluster: Cluster) -> None:
    one, two = cluster.worker(), cluster.worker()
    _, body = start(one, "alice")
    scan_id = body["scan"]["id"]
    for worker in (one, two):
        code, reply = status(worker, scan_id, "mallory")
        assert code == 404 and "scan" not in reply
    assert latest(two, "mallory")[0] == 404
    assert status(two, scan_id, "alice")[0] == 200


@pytest.mark.parametrize(
    "scan_id",
    [
        "nope",
        "*",
        "scans:idx:*",
        "0B6F3C1E-9D4A-4C55-8F7E-2A1B3C4D5E6F",
        "0b6f3c1e9d4a4c558f7e2a1b3c4d5e6f",
        "a/b",
        "x" * 300,
    ],
)
def test_a_malformed_id_is_400_without_touching_redis(cluster: Cluster, scan_id: str) -> None:
    worker = cluster.worker()
    cluster.server.connected = False  # any Redis call would answer 503
    code, reply = status(worker, scan_id)
    assert code == 400
    assert reply["error"]["code"] == "bad_scan_id"


def test_key_builders_refuse_unchecked_input() -> None:
    for build, value in ((idx_key, "*"), (job_key, "../x"), (recent_key, "a b")):
        with pytest.raises(ValueError, match="malformed"):
            build(value)


def test_a_request_without_a_user_is_401(cluster: Cluster) -> None:
    worker = cluster.worker()
    assert worker.test_client().post("/api/scans").status_code == 401
    bad = {"Authorization": "Bearer not a user"}
    assert worker.test_client().get("/api/scans/latest", headers=bad).status_code == 401


# -- missing optional columns -------------------------------------------------------------


def test_a_missing_optional_column_reads_as_null(tmp_path: Path, cluster: Cluster) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    init_db(url, 14, missing=["annual_return"])
    code, body = start(cluster.worker(database_url=url))
    assert (code, body["scan"]["state"]) == (200, "done")
    signals = body["scan"]["signals"]
    assert signals
    assert all(s["annual_return"] is None for s in signals)
    assert all(s["hit_rate"] is not None and s["sharpe_ratio"] is not None for s in signals)


def test_a_column_dropped_between_scans_reads_as_null(cluster: Cluster) -> None:
    worker = cluster.worker()
    assert start(worker)[1]["scan"]["signals"][0]["hit_rate"] is not None
    drop_column(cluster.database_url, "hit_rate")  # the worker has the old columns cached
    code, body = start(worker)
    assert (code, body["scan"]["state"]) == (200, "done")
    assert all(s["hit_rate"] is None for s in body["scan"]["signals"])


# -- a lost worker, the budget ---------------------------------------------------------------


def test_a_running_scan_whose_worker_died_reads_failed_worker_lost(cluster: Cluster) -> None:
    one, two = cluster.worker(), cluster.worker()

    def die(now: float) -> None:
        if now >= START + 5.5:
            raise WorkerKilled

    cluster.clock.on_sleep = die
    with pytest.raises(WorkerKilled):
        start(one)
    cluster.clock.on_sleep = None
    _, newest = latest(two)
    scan_id = newest["scan"]["id"]
    assert newest["scan"]["state"] == "running"
    stalled_at = newest["scan"]["heartbeat_at"]

    cluster.clock.now = stalled_at + cluster.settings.stall_timeout - 1
    assert status(two, scan_id)[1]["scan"]["state"] == "running"
    cluster.clock.now = stalled_at + cluster.settings.stall_timeout + 1
    code, body = status(two, scan_id)
    assert code == 200
    assert (body["scan"]["state"], body["scan"]["reason"]) == ("error", "worker lost")
    assert body["scan"]["progress"]["completed"] == 5

    # recorded in Redis: a fresh worker, later, reads the same
    cluster.clock.advance(60)
    code, again = status(cluster.worker(), scan_id)
    assert (code, again["scan"]) == (200, body["scan"])


def test_the_budget_stops_a_scan_early_and_saves_it_with_a_reason(cluster: Cluster) -> None:
    one, two = cluster.worker(scan_budget=20.0, strategy_seconds=2.0), cluster.worker()
    code, body = start(one)
    scan = body["scan"]
    assert code == 200
    assert (scan["state"], scan["reason"]) == ("stopped_early", "scan budget exhausted")
    assert scan["progress"] == {"completed": 10, "total": 14}
    assert status(two, scan["id"])[1]["scan"] == scan


def test_a_hanging_strategy_is_cut_by_the_budget_and_keeps_beating(cluster: Cluster) -> None:
    settings = cluster.settings
    one, two = cluster.worker(hang_strategies=frozenset({3})), cluster.worker()
    beats: list[float] = []

    def watch(now: float) -> None:
        _, newest = latest(two)
        if newest["scan"]["state"] == "running" and now > START + 10:
            beats.append(now - newest["scan"]["heartbeat_at"])

    cluster.clock.on_sleep = watch
    _, body = start(one)
    cluster.clock.on_sleep = None
    scan = body["scan"]
    assert (scan["state"], scan["reason"]) == ("stopped_early", "scan budget exhausted")
    assert scan["progress"]["completed"] == 3
    assert scan["finished_at"] - scan["started_at"] == pytest.approx(settings.scan_budget)
    assert scan["finished_at"] - scan["started_at"] < settings.worker_timeout
    assert len(beats) > 20, "the hanging wait was watched"
    assert max(beats) <= settings.heartbeat_interval, "no read ever saw a stale heartbeat"


# -- settings, the cleanup thread, the database command, the target file ---------------------


def test_settings_come_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "FLASK_SCANS_REDIS_URL": "redis://127.0.0.1:7000/1",
            "FLASK_SCANS_RESULT_TTL": "15",
            "FLASK_SCANS_MEMORY_TTL": "0.5",
            "FLASK_SCANS_HANG_STRATEGIES": "2, 5",
            "FLASK_SCANS_CLEANUP_BUG": "1",
            "FLASK_SCANS_STRATEGIES": "3",
        }
    )
    assert settings.redis_url == "redis://127.0.0.1:7000/1"
    assert (settings.result_ttl, settings.memory_ttl, settings.strategies) == (15.0, 0.5, 3)
    assert settings.hang_strategies == frozenset({2, 5}) and settings.cleanup_bug
    assert not Settings.from_env({}).cleanup_bug


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"FLASK_SCANS_STALL_TIMEOUT": "-1"}, "FLASK_SCANS_STALL_TIMEOUT: must be a positive"),
        ({"FLASK_SCANS_RESULT_TTL": "soon"}, "FLASK_SCANS_RESULT_TTL: not a number"),
        ({"FLASK_SCANS_CLEANUP_BUG": "maybe"}, "FLASK_SCANS_CLEANUP_BUG: expected 0 or 1"),
        ({"FLASK_SCANS_SCAN_BUDGET": "200"}, "FLASK_SCANS_SCAN_BUDGET: the scan budget"),
    ],
)
def test_bad_settings_are_refused_naming_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


def test_the_cleanup_thread_starts_on_the_first_request(cluster: Cluster) -> None:
    engine = create_engine(cluster.database_url)
    cluster.engines.append(engine)
    app = create_app(
        cluster.settings, redis_client=cluster.redis, engine=engine, clock=cluster.clock
    )
    thread = cleanup_thread(app)
    assert not thread.running
    try:
        assert app.test_client().get("/healthz").status_code == 200
        assert thread.running
    finally:
        thread.stop()
    assert not thread.running


def test_init_db_command_seeds_the_table(tmp_path: Path, cluster: Cluster) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.sqlite'}"
    app = cluster.worker(database_url=url)
    result = app.test_cli_runner().invoke(args=["init-db", "--missing", "sharpe_ratio"])
    assert result.exit_code == 0, result.output
    engine = create_engine(url)
    try:
        columns = {c["name"] for c in inspect(engine).get_columns("strategy_stats")}
    finally:
        engine.dispose()
    assert set(OPTIONAL_COLUMNS) - columns == {"sharpe_ratio"}
    # seeding again (another run, other missing columns) starts from a fresh table
    init_db(url, 3, missing=["hit_rate"])
    engine = create_engine(url)
    try:
        columns = {c["name"] for c in inspect(engine).get_columns("strategy_stats")}
    finally:
        engine.dispose()
    assert set(OPTIONAL_COLUMNS) - columns == {"hit_rate"}


def test_the_target_file_is_valid_and_names_the_apps_variables() -> None:
    target = load_target(TARGET_FILE)
    spec = target.spec
    assert spec.wsgi is not None and spec.http is not None
    assert spec.wsgi.app == "flask_scans.wsgi:app"
    assert spec.wsgi.redis_url_env == "FLASK_SCANS_REDIS_URL"
    assert set(spec.durations.env.values()) <= {
        f"FLASK_SCANS_{n.upper()}" for n in Settings.__dataclass_fields__
    }
    [regression] = spec.regression
    assert regression.env == {"FLASK_SCANS_CLEANUP_BUG": "1"}
    assert set(spec.faults.drop_column) == set(OPTIONAL_COLUMNS)


def test_the_wsgi_module_builds_the_app_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, cluster: Cluster
) -> None:
    import importlib
    import sys

    monkeypatch.setenv("FLASK_SCANS_DATABASE_URL", cluster.database_url)
    monkeypatch.setenv("FLASK_SCANS_RESULT_TTL", "15")
    monkeypatch.delitem(sys.modules, "targets.flask_scans.wsgi", raising=False)
    module = importlib.import_module("targets.flask_scans.wsgi")
    app: Flask = module.app
    assert scans(app).settings.result_ttl == 15.0
    scans(app)._data._engine.dispose()
