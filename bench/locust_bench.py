"""Locust users for `bench/load_throughput.py`: status polls, and the trivial endpoint beside them.

`PollUser` polls finished scans by id as their owners (`SCANCHAOS_BENCH_SCANS`: comma-separated
`user:scan_id` pairs); `RecordedPollUser` sends the same polls and records each one as the
harness's locustfile does (the reply read through the contract, one `OpRecorder` line per
request, in `SCANCHAOS_BENCH_RECORD_DIR`); `TrivialUser` asks `GET /trivial`, the framework's
ceiling under the same Gunicorn settings. Pick one per run: `locust -f bench/locust_bench.py
PollUser ...`.
"""

from __future__ import annotations

import os
import random
import tempfile
import time
from pathlib import Path

from locust import FastHttpUser, constant, task
from locust.env import Environment

from harness.live.contract import reference_contract
from harness.load.record import OpRecorder, ServiceInfo

SCANS = [
    tuple(pair.split(":", 1)) for pair in os.environ.get("SCANCHAOS_BENCH_SCANS", "").split(",")
]
RECORD_DIR = "SCANCHAOS_BENCH_RECORD_DIR"
CONTRACT = reference_contract()


class PollUser(FastHttpUser):
    wait_time = constant(0)

    @task
    def poll(self) -> None:
        user, scan_id = random.choice(SCANS)
        with self.client.get(
            f"/scans/{scan_id}", name="/scans/[id]", headers={"X-User": user}, catch_response=True
        ) as response:
            if response.status_code != 200 or b'"complete"' not in (response.content or b""):
                response.failure(f"not the finished result: HTTP {response.status_code}")


def _recorder(environment: Environment) -> OpRecorder:
    # One per Locust process, on its environment, as the harness's locustfile keeps its own.
    recorder = getattr(environment, "bench_recorder", None)
    if not isinstance(recorder, OpRecorder):
        folder = Path(os.environ.get(RECORD_DIR) or tempfile.mkdtemp(prefix="scanchaos-bench-"))
        recorder = OpRecorder(folder, ServiceInfo())
        environment.bench_recorder = recorder  # type: ignore[attr-defined]
    return recorder


class RecordedPollUser(FastHttpUser):
    """`PollUser`'s requests, recorded as `scenarios/locustfile.py` records every request."""

    wait_time = constant(0)

    @task
    def poll(self) -> None:
        user, scan_id = random.choice(SCANS)
        start = time.time()
        with self.client.get(
            f"/scans/{scan_id}", name="/scans/[id]", headers={"X-User": user}, catch_response=True
        ) as response:
            end = time.time()
            reply = CONTRACT.reply(response.status_code, response.content or b"")
            if reply.status != "complete":
                response.failure(f"not the finished result: HTTP {response.status_code}")
        worker = str(response.headers.get("X-Worker") or "?") if response.headers else "?"
        _recorder(self.environment).record(
            "status", user=user, worker=worker, start=start, end=end, reply=reply, scan_id=scan_id
        )


class TrivialUser(FastHttpUser):
    """`PollUser`'s client work (a scan picked, the owner's header, the body checked) sent to
    `GET /trivial`: the one difference between the two is what the server does."""

    wait_time = constant(0)

    @task
    def trivial(self) -> None:
        user, _ = random.choice(SCANS)
        with self.client.get(
            "/trivial", name="/trivial", headers={"X-User": user}, catch_response=True
        ) as response:
            if response.status_code != 200 or b'"ok"' not in (response.content or b""):
                response.failure(f"not the constant answer: HTTP {response.status_code}")
