"""Locust users for `bench/load_throughput.py`: status polls, and the trivial endpoint beside them.

`PollUser` polls finished scans by id as their owners (`SCANCHAOS_BENCH_SCANS`: comma-separated
`user:scan_id` pairs); `TrivialUser` asks `GET /trivial`, the framework's ceiling under the same
Gunicorn settings. Pick one per run: `locust -f bench/locust_bench.py PollUser ...`.
"""

from __future__ import annotations

import os
import random

from locust import FastHttpUser, constant, task

SCANS = [
    tuple(pair.split(":", 1)) for pair in os.environ.get("SCANCHAOS_BENCH_SCANS", "").split(",")
]


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


class TrivialUser(FastHttpUser):
    wait_time = constant(0)

    @task
    def trivial(self) -> None:
        self.client.get("/trivial", name="/trivial")
