"""Ports without races: a port taken between choosing and binding costs a retry, not the run."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.live import redis_server as redis_module
from harness.live.cluster import LiveCluster
from harness.live.processes import listening_ports
from harness.live.redis_server import RedisServer, free_port
from harness.load import run as load_run
from harness.load.run import LoadOptions
from reference_impl import ServiceConfig

pytestmark = pytest.mark.live


def _taken(listen: bool) -> Iterator[socket.socket]:
    """A port this test holds: listening (someone else's server) or only bound."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    if listen:
        sock.listen()
    try:
        yield sock
    finally:
        sock.close()


@pytest.fixture(params=[True, False], ids=["another-server-listens", "bound-not-listening"])
def taken_port(request: pytest.FixtureRequest) -> Iterator[int]:
    for sock in _taken(request.param):
        yield sock.getsockname()[1]


def _first_then_free(port: int) -> object:
    ports = iter([port])
    return lambda: next(ports, None) or free_port()


def test_redis_server_moves_to_another_port_when_its_port_is_taken(
    tmp_path: Path, redis_server_binary: str, taken_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redis_module, "free_port", _first_then_free(taken_port))
    with RedisServer(tmp_path / "redis", binary=redis_server_binary) as server:
        assert server.port != taken_port
        client = server.client()
        try:
            assert client.info("server")["process_id"] == server.pid
        finally:
            client.close()


def test_redis_server_gives_up_after_its_attempts(
    tmp_path: Path, redis_server_binary: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for sock in _taken(listen=True):
        port = sock.getsockname()[1]
        monkeypatch.setattr(redis_module, "free_port", lambda: port)  # noqa: B023
        server = RedisServer(tmp_path / "redis", binary=redis_server_binary)
        with pytest.raises(redis_module.LiveClusterError, match=f"127.0.0.1:{port}"):
            server.__enter__()
        assert server.pid is None


def test_gunicorn_binds_a_port_of_its_own_choosing(redis_server_binary: str) -> None:
    with LiveCluster(workers=1, config=ServiceConfig(), redis_server=redis_server_binary) as c:
        assert c.port != 0
        assert c.port in listening_ports(c.master_pid)


def test_the_locust_master_moves_when_its_port_is_taken(
    tmp_path: Path, taken_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(load_run, "free_port", _first_then_free(taken_port))
    options = LoadOptions(users=1, duration=30, locust_workers=1, out=tmp_path)
    (tmp_path / "raw").mkdir()
    procs = load_run._Processes(options, "http://127.0.0.1:9", tmp_path / "locust.log")
    try:
        assert len(procs.procs) == 2
        ports = listening_ports(procs.main.pid)
        assert ports and taken_port not in ports
        assert all(proc.poll() is None for proc in procs.procs)
    finally:
        procs.stop(grace=5)
