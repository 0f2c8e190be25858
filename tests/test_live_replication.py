"""A real primary, replica and three Sentinels (`harness.live.sentinel`), and the failover
scenario run live against them."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import psutil
import pytest
import redis
from redis.sentinel import Sentinel

from harness.history import History
from harness.live.sentinel import SERVICE_NAME, ReplicatedRedis
from tests.cli_runs import run_cli

pytestmark = pytest.mark.live


def _alive(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.NoSuchProcess:
            continue
    return alive


def test_a_lagging_replica_is_promoted_without_what_it_missed(
    tmp_path: Path, redis_server_binary: str
) -> None:
    with ReplicatedRedis(tmp_path, binary=redis_server_binary, down_after=0.5) as pair:
        sentinel = Sentinel(pair.sentinel_addresses, socket_timeout=1.0)  # type: ignore[no-untyped-call]
        primary: redis.Redis = sentinel.master_for(SERVICE_NAME, socket_timeout=1.0)  # type: ignore[no-untyped-call]
        primary.set("shipped", "1")
        assert primary.wait(1, 1000) == 1
        pair.lag_begins()
        primary.set("acknowledged-only", "1")
        assert primary.wait(1, 200) == 0  # the primary answered; no replica has it
        first = pair.primary.port
        pair.kill_primary()
        pair.wait_promoted()
        assert pair.primary.port != first
        # The client follows the Sentinels to the promoted replica, which lacks the write;
        # its pooled connection to the dead primary fails once first (the service retries once).
        with contextlib.suppress(redis.ConnectionError):
            primary.ping()
        assert primary.get("shipped") == b"1"
        assert primary.get("acknowledged-only") is None
        pair.lag_ends()
        pair.rejoin()
        primary.set("after", "1")
        assert primary.wait(1, 1000) == 1
        assert [port for _, port in pair.primaries] == [first, pair.primary.port]
        pids = pair.pids
        assert len(pids) == 5
    assert _alive(pids) == []


def test_failover_after_completion_runs_live(tmp_path: Path, redis_server_binary: str) -> None:
    base = ["run", "failover-after-completion", "--mode", "live"]
    base += ["--redis-server", redis_server_binary]
    fixed = run_cli(base, tmp_path / "fixed")
    assert fixed.code == 0, fixed.out + fixed.err
    broken = run_cli([*base, "--bug", "no-replica-ack"], tmp_path / "broken")
    assert broken.code == 1, broken.out + broken.err
    verdict = json.loads((tmp_path / "broken" / "verdict.json").read_text())
    assert verdict["invariants"]["reachable-until-expiry"]["violations"] >= 1
    for folder in ("fixed", "broken"):
        history = History.read(tmp_path / folder / "history.jsonl")
        [failover] = [f for f in history.faults if f.fault == "redis-failover"]
        [lag] = [f for f in history.faults if f.fault == "replica-lag"]
        assert failover.target is not None and " s after primary 127.0.0.1:" in failover.target
        assert failover.start == pytest.approx(50.0, abs=2.0) and failover.end > failover.start
        # The promotion, as Sentinel timed it, in scenario seconds like the window it falls in.
        assert failover.promoted is not None
        assert failover.start < failover.promoted <= failover.end
        assert lag.start == pytest.approx(0.5, abs=2.0)
    # The promoted replica lacked the scan's keys in both runs: the fixed service wrote them
    # again, the broken one had forgotten them.
    summary = (tmp_path / "broken" / "summary.md").read_text()
    assert "lacking" in summary and "opportunity_scan_lookup:" in summary
