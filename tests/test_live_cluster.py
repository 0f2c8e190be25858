"""`LiveCluster`: real processes up and ready, real faults, and nothing left behind."""

from __future__ import annotations

import time
from pathlib import Path

import psutil
import pytest
import redis

from harness.live.client import call
from harness.live.cluster import LiveCluster, live_config
from reference_impl import ServiceConfig
from tests.waiting import wait_for

pytestmark = pytest.mark.live


def gone(pids: list[int]) -> bool:
    return not [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]


def test_workers_serve_through_one_port_and_a_killed_one_is_replaced(
    live_cluster: LiveCluster,
) -> None:
    pids = live_cluster.worker_pids()
    assert len(pids) == 3
    served = {
        call(live_cluster.port, "GET", "/health", user=None, timeout=5).worker for _ in range(10)
    }
    assert served <= set(pids)
    victim = pids[0]
    live_cluster.kill_worker(victim)
    assert wait_for(lambda: victim not in live_cluster.worker_pids(), 15.0, 0.01), (
        "condition not met before the deadline"
    )
    live_cluster.wait_for_workers()
    assert len(live_cluster.worker_pids()) == 3


def test_redis_stop_keeps_data_and_pause_times_out(live_cluster: LiveCluster) -> None:
    client = live_cluster.redis_client()
    client.set("probe", "1", px=60_000)
    live_cluster.stop_redis()
    with pytest.raises(redis.ConnectionError):
        client.ping()
    live_cluster.start_redis()
    assert client.get("probe") == b"1"
    assert 0 < client.pttl("probe") <= 60_000
    live_cluster.pause_redis()
    quick = redis.Redis(port=live_cluster.redis_port, socket_timeout=0.2, retry=None)
    try:
        with pytest.raises(redis.TimeoutError):
            quick.ping()
    finally:
        live_cluster.resume_redis()
    assert quick.ping()
    quick.close()
    client.close()


def test_time_and_config_are_scaled(live_cluster: LiveCluster) -> None:
    cfg = live_cluster.worker_config
    assert cfg.result_ttl == pytest.approx(300 * live_cluster.scale)
    assert cfg.redis.socket_timeout >= 0.25
    now = time.time()
    assert live_cluster.clock.from_wall(now) == pytest.approx(
        live_cluster.clock.from_monotonic(time.monotonic()), abs=0.5
    )
    assert live_cluster.clock.from_monotonic(
        live_cluster.clock.monotonic_at(12.0)
    ) == pytest.approx(12.0)
    assert live_config(ServiceConfig(), 0.1).worker_timeout == pytest.approx(18.0)


def test_drop_column_reaches_running_workers(live_cluster: LiveCluster) -> None:
    live_cluster.alter_drop_column("annual_return")
    answer = call(live_cluster.port, "POST", "/scans", user="alice", timeout=30)
    assert answer.reply.status == "complete"
    assert "annual_return" in answer.reply.null_fields


def test_nothing_outlives_a_failing_block(redis_server_binary: str, tmp_path: Path) -> None:
    seen: list[int] = []
    with (
        pytest.raises(RuntimeError, match="boom"),
        LiveCluster(
            workers=2, config=ServiceConfig(), redis_server=redis_server_binary, workdir=tmp_path
        ) as cluster,
    ):
        seen = [cluster.master_pid, *cluster.worker_pids()]
        assert cluster.redis_pid is not None
        seen.append(cluster.redis_pid)
        raise RuntimeError("boom")
    assert len(seen) == 4
    assert gone(seen)
