"""The simulation's model of asynchronous replication (`SimRedis`): what a promotion keeps."""

from __future__ import annotations

import pytest
import redis

from harness.sim.replication import SimRedis


def test_in_sync_a_failover_keeps_every_acknowledged_write() -> None:
    sim = SimRedis()
    client = sim.client()
    client.set("k", "v", px=60_000)
    assert client.wait(1, 100) == 1
    sim.primary_dies()
    with pytest.raises(redis.ConnectionError):
        client.get("k")
    assert sim.promote() == []
    assert client.get("k") == b"v"  # the failed command dropped the socket: a new one
    assert 0 < client.pttl("k") <= 60_000


def test_a_lagging_replica_is_promoted_without_what_it_missed() -> None:
    sim = SimRedis()
    client = sim.client()
    client.set("old", "1")
    sim.lag_begins()
    client.set("old", "2")
    client.set("new", "1")
    assert client.wait(1, 100) == 0
    old_id = client.info("server")["run_id"]
    sim.primary_dies()
    sim.lag_ends()  # resumed after the primary died: nothing left to catch up from
    assert sim.promote() == [b"new", b"old"]
    for _ in range(2):
        try:
            values = (client.get("old"), client.get("new"))
            break
        except redis.ConnectionError:
            continue
    assert values == (b"1", None)
    assert client.info("server")["run_id"] != old_id
    assert client.wait(1, 100) == 0  # no replica until the old primary rejoins
    sim.rejoin()
    assert client.wait(1, 100) == 1


def test_a_lag_that_ends_while_the_primary_lives_catches_up() -> None:
    sim = SimRedis()
    client = sim.client()
    sim.lag_begins()
    client.set("k", "v")
    sim.lag_ends()
    assert client.wait(1, 100) == 1
    sim.primary_dies()
    assert sim.promote() == []


def test_an_outage_loses_nothing_and_wait_fails_like_any_command() -> None:
    sim = SimRedis()
    client = sim.client()
    client.set("k", "v")
    sim.up = False
    with pytest.raises(redis.ConnectionError):
        client.wait(1, 100)
    sim.up = True
    assert client.get("k") == b"v"
