"""The RQ target live: real redis-server, real Gunicorn web workers, RQ's real WorkerPool.

`worker-restart-mid-scan` runs as the library has it, its timeline compressed (`--scale 0.6`):
RQ's timers are wall seconds and stay as the target files set them, and the checker judges the
durations the files declare in wall seconds. With RQ's defaults the scan whose whole worker
was SIGKILLed reads `started` past the promised bound (`terminates` red); tuned, RQ moves it to
failed (`AbandonedJobError`) within it. docs/findings.md gives the figures.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import psutil
import pytest
import redis
from rq import Queue, SimpleWorker
from rq.job import Job, JobStatus

from harness.live import leftovers
from harness.live.contract import Contract
from harness.live.redis_server import RedisServer
from harness.live.runner import LiveOptions, run_live
from harness.live.timing import DEFAULT_SCALE, live_config
from harness.runner import RunResult, service_config
from harness.scenario import Poll, RestartWorker, Scenario, Start, load
from harness.target import TargetError, load_target
from targets.rq_scans.app import create_app
from targets.rq_scans.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DEFAULTS = ROOT / "targets" / "rq_scans" / "target.toml"
TUNED = ROOT / "targets" / "rq_scans" / "tuned.toml"
#: wall seconds per scenario second: the 260 s scenario in 156 s; a defaults run needs reads
#: past 126 wall seconds (budget 20 + stall 75 + heartbeat 30 + cleanup 1) to judge them
SCALE = 0.6

# The work-horse alone is killed: its worker sees it die and fails the job at once.
HORSE = Scenario(
    name="horse-kill",
    description="the work-horse running a scan is SIGKILLed; its worker survives",
    duration=40.0,
    steps=(
        Start(at=0.0, user="alice", scan="s1"),
        Poll(scan="s1", start=1.0, until=40.0, every=1.0),
    ),
    faults=(RestartWorker(at=5.0, scan="s1"),),
)


class BurstWorker(SimpleWorker):
    """RQ's in-process worker (no work-horse) without its command channel: the pubsub thread's
    join at teardown can wait out redis-py's `run_in_thread(sleep_time=60)`, a minute."""

    def subscribe(self) -> None:
        pass

    def unsubscribe(self) -> None:
        pass


def _run(args: tuple[Scenario, Path, LiveOptions]) -> RunResult:
    scenario, path, options = args
    return run_live(scenario, options=options, target=load_target(path))


@pytest.fixture(scope="module")
def runs(redis_server_binary: str) -> dict[str, RunResult]:
    """The three live runs, side by side (each is mostly waiting on RQ's timers)."""
    scenario, _ = load("worker-restart-mid-scan")
    compressed = LiveOptions(redis_server=redis_server_binary, scale=SCALE)
    horse = LiveOptions(redis_server=redis_server_binary, kill="horse")
    plan = {
        "defaults": (scenario, DEFAULTS, compressed),
        "tuned": (scenario, TUNED, compressed),
        "horse": (HORSE, TUNED, horse),
    }
    with ThreadPoolExecutor(max_workers=len(plan)) as pool:
        done = dict(zip(plan, pool.map(_run, plan.values()), strict=True))
    return done


def _s1(result: RunResult) -> str:
    return next(op.scan_id for op in result.history.ops if op.label == "s1" and op.scan_id)


@pytest.mark.live
def test_with_rq_defaults_a_killed_workers_scan_reads_started_past_the_bound(
    runs: dict[str, RunResult],
) -> None:
    result = runs["defaults"]
    [restart] = [f for f in result.history.faults if f.fault == "worker-restart"]
    assert (restart.target or "").startswith("rq-worker-")
    [violation] = result.verdict.violations
    assert violation.invariant == "terminates" and violation.scan_id == _s1(result)
    evidence = set(violation.evidence)
    witnesses = [op for op in result.history.ops if op.index in evidence]
    # Past the deadline in wall seconds (126 s), every read of the scan still says `started`.
    assert witnesses and all(op.reply.status == "scanning" for op in witnesses)
    assert min(op.start for op in witnesses) * SCALE > 126.0
    assert "should be terminal by" in violation.message
    # RQ's own word for it: the job is still `started` at the scenario's end.
    last = max(
        (op for op in result.history.ops if op.scan_id == _s1(result) and op.op == "status"),
        key=lambda op: op.end,
    )
    assert last.reply.status == "scanning" and last.end > 250.0
    # The other scan ran to its end on the surviving worker.
    s2 = [op for op in result.history.ops if op.label == "s2" and op.op == "status"]
    assert s2[-1].reply.status == "complete" and s2[-1].reply.done == 14


@pytest.mark.live
def test_tuned_rq_fails_a_killed_workers_scan_within_the_bound(
    runs: dict[str, RunResult],
) -> None:
    result = runs["tuned"]
    assert result.verdict.passed, result.verdict.violations
    [restart] = [f for f in result.history.faults if f.fault == "worker-restart"]
    reads = [op for op in result.history.ops if op.scan_id == _s1(result) and op.op == "status"]
    failed = [op for op in reads if op.reply.status == "failed"]
    assert failed and "AbandonedJobError" in (failed[0].reply.reason or "")
    # RQ adds 60 s to the heartbeat's TTL: never failed sooner than that after the kill.
    after = (failed[0].end - restart.start) * SCALE
    assert 60.0 <= after <= 75.0, after


@pytest.mark.live
def test_a_killed_work_horse_fails_its_job_at_once(runs: dict[str, RunResult]) -> None:
    result = runs["horse"]
    assert result.verdict.passed, result.verdict.violations
    [restart] = [f for f in result.history.faults if f.fault == "worker-restart"]
    assert (restart.target or "").startswith("rq-horse-")
    failed = [op for op in result.history.ops if op.reply.status == "failed"]
    assert failed and failed[0].end - restart.start < 5.0
    assert "terminated unexpectedly" in (failed[0].reply.reason or "")


@pytest.mark.live
def test_no_rq_process_outlives_its_run(runs: dict[str, RunResult]) -> None:
    """Pools, workers, work-horses and RQ's scheduler: each run stopped every one it started."""
    left = []
    for proc in psutil.process_iter(["cmdline"]):
        with contextlib.suppress(psutil.Error):
            if "harness.live.rq_pool" in " ".join(proc.info["cmdline"] or []) and (
                proc.environ().get(leftovers.TOKEN_ENV) == leftovers.token()
            ):
                left.append(proc.pid)
    assert runs and not left


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        (
            "maintenance_interval = 600",
            "maintenance_interval = 0",
            "field jobs.maintenance_interval: must be a whole number of seconds, at least 1",
        ),
        ("runs_to_end = false", "runs_to_end = true", "field http.runs_to_end: with [jobs]"),
        ("real = true", "real = false", "field durations.real: a job queue's timers"),
        ('kind = "rq"', 'kind = "celery"', "field jobs.kind"),
    ],
)
def test_a_malformed_rq_target_field_is_one_error_line(
    tmp_path: Path, old: str, new: str, problem: str
) -> None:
    text = DEFAULTS.read_text(encoding="utf-8")
    assert old in text
    broken = tmp_path / "rq_scans" / "target.toml"
    broken.parent.mkdir()
    broken.write_text(text.replace(old, new), encoding="utf-8")
    # The app's package beside it, as the file's pythonpath expects.
    (tmp_path / "rq_scans" / "wsgi.py").write_text("", encoding="utf-8")
    with pytest.raises(TargetError) as raised:
        load_target(broken)
    message = str(raised.value)
    assert "\n" not in message and message.startswith(f"{broken}: {problem}"), message


@pytest.fixture
def rq_redis(redis_server_binary: str, tmp_path: Path) -> Iterator[redis.Redis]:
    with RedisServer(tmp_path / "redis", binary=redis_server_binary) as server:
        client = server.client()
        try:
            yield client
        finally:
            client.close()


@pytest.mark.live
def test_rq_statuses_map_to_the_harness_statuses(rq_redis: redis.Redis) -> None:
    """Each RQ job status, as the app reports it, read through the target file's contract."""
    url = rq_redis.connection_pool.connection_kwargs
    settings = Settings(
        redis_url=f"redis://{url['host']}:{url['port']}/0",
        strategy_seconds=0.01,
        scan_budget=5.0,
        job_timeout=10.0,
    )
    web = create_app(settings, rq_redis).test_client()
    http = load_target(DEFAULTS).spec.http
    assert http is not None
    contract = Contract(http)

    def read(path: str, user: str = "alice") -> tuple[str, Any]:
        answer = web.get(path, headers={"X-User": user})
        body = json.loads(answer.data)
        return contract.reply(answer.status_code, answer.data).status, body

    def started(user: str = "alice") -> str:
        answer = web.post("/scans", headers={"X-User": user})
        assert answer.status_code == 202
        reply = contract.reply(answer.status_code, answer.data)
        assert reply.status == "scanning" and reply.done == 0 and reply.total == 14
        return str(json.loads(answer.data)["scan"]["id"])

    queue = Queue(settings.queue, connection=rq_redis)
    queued = started()
    assert read(f"/scans/{queued}")[0] == "scanning"
    assert read(f"/scans/{queued}")[1]["scan"]["state"] == "queued"
    assert read("/scans/latest")[1]["scan"]["id"] == queued
    # Another user's scan, a job RQ never had, and a malformed id.
    assert read(f"/scans/{queued}", user="bob")[0] == "not_found"
    assert read("/scans/00000000-0000-4000-8000-000000000000")[0] == "not_found"
    assert read("/scans/latest", user="bob")[0] == "not_found"
    assert read("/scans/not-a-job")[0] == "bad_request"
    # RQ runs it (in this process: a SimpleWorker forks no work-horse): finished, all done.
    BurstWorker([queue], connection=rq_redis).work(burst=True)
    status, body = read(f"/scans/{queued}")
    assert (status, body["scan"]["state"], body["scan"]["done"]) == ("complete", "finished", 14)
    # A budget too short for every strategy: finished by RQ, partial to the client.
    web.application.extensions["rq_scans"] = (replace(settings, scan_budget=0.03), rq_redis)
    partial = started()
    BurstWorker([queue], connection=rq_redis).work(burst=True)
    status, body = read(f"/scans/{partial}")
    assert (status, body["scan"]["state"]) == ("partial", "finished_partial")
    assert 0 < body["scan"]["done"] < 14 and body["scan"]["reason"] == "scan budget exhausted"
    # started, stopped, canceled and failed, set as RQ sets them.
    for state, harness in (
        (JobStatus.STARTED, "scanning"),
        (JobStatus.STOPPED, "failed"),
        (JobStatus.CANCELED, "failed"),
        (JobStatus.FAILED, "failed"),
    ):
        job_id = started()
        Job.fetch(job_id, connection=rq_redis).set_status(state)
        status, body = read(f"/scans/{job_id}")
        assert (status, body["scan"]["state"]) == (harness, state.value)
        if harness == "failed":
            assert body["scan"]["reason"]  # honest-status: a failure says why
    # No Redis to answer: 503, which the contract maps to `unavailable`.
    nowhere = replace(settings, redis_url="redis://127.0.0.1:1/0", redis_timeout=0.2)
    web = create_app(nowhere).test_client()
    assert read(f"/scans/{queued}")[0] == "unavailable"


def test_wall_second_durations_run_at_scale_1_and_are_judged_as_declared() -> None:
    """`durations.real`: scale 1 unless told; `--scale S` compresses only the timeline, so the
    service still gets its declared seconds and the checker judges them as `value / S`."""
    rq, flask = load_target(TUNED), load_target(ROOT / "targets" / "flask_scans" / "target.toml")
    assert LiveOptions().scale_for(rq) == 1.0
    assert LiveOptions().scale_for(flask) == DEFAULT_SCALE
    assert LiveOptions(scale=0.6).scale_for(rq) == 0.6
    scenario, _ = load("worker-restart-mid-scan")
    judged = service_config(scenario, (), rq, 0.6)
    assert judged.stall_timeout == pytest.approx(75.0 / 0.6)
    assert live_config(judged, 0.6).worker_timeout == pytest.approx(30.0)  # RQ's job_timeout
    assert service_config(scenario, (), flask, 0.6).stall_timeout == 30.0  # scaled by the run
    assert "wall seconds" in rq.describe() and "RQ WorkerPool of 2" in rq.describe()
