"""`ReplicatedRedis`: a real primary, a real replica and three real Sentinels on 127.0.0.1.

>>> with ReplicatedRedis(Path("/tmp/r"), down_after=0.5) as redis_pair:  # doctest: +SKIP
...     redis_pair.sentinel_addresses, redis_pair.primary.port
([('127.0.0.1', 40201), ('127.0.0.1', 40202), ('127.0.0.1', 40203)], 40111)

Every process is a `RedisServer` (started, watched and stopped like the single Redis, dying
with the harness). The service finds the primary through the Sentinels
(`redis.sentinel.Sentinel(...).master_for(SERVICE_NAME)`); the harness keeps track of which
server is primary and when.

Faults, as production meets them:

- `kill_primary()` SIGKILLs the primary. The Sentinels notice after `down_after` seconds, agree
  (quorum 2 of 3) and promote the replica with what it had received: replication is
  asynchronous, so writes the primary acknowledged but had not shipped are gone.
  `wait_promoted()` returns once the Sentinels name the new primary and it says so itself;
  `rejoin()` starts the old one again on its port as the new primary's replica (what an operator
  or an orchestrator does; Sentinel alone would take ten seconds and more to reconfigure it).
- `lag_begins()` / `lag_ends()`: the replica stops receiving writes, then catches up. The
  replica authenticates to its primary as a dedicated ACL user (`masteruser`); the lag turns that
  user off on every server and drops the replica's link, so the replica keeps what it had and
  retries every second in vain. Pausing the replica (SIGSTOP) does not do it: the kernel
  buffers what the primary sends, and the replica applies it when resumed.

Sentinel timing is scaled down: `down_after` (`down-after-milliseconds`) is what the harness
sets; `failover-timeout` stays long enough (10 s) that a Sentinel that lost the election does
not start a second failover during a run. `repl-diskless-sync-delay 0`: a rejoining replica is
synced at once, not after the default 5 s. `min-replicas-to-write` stays 0: with 1, a lagging
replica would make the primary refuse every write (an outage); the service counts a write saved
only once `WAIT` says a replica has it instead (`RedisSettings.replica_acks`).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from pathlib import Path

import redis

from harness.live.redis_server import LiveClusterError, RedisServer

__all__ = ["SERVICE_NAME", "ReplicatedRedis", "SentinelServer"]

#: the name the Sentinels monitor the primary under (`master_for(SERVICE_NAME)`)
SERVICE_NAME = "scanchaos"
#: Sentinels that must agree the primary is down (of three)
QUORUM = 2
#: wall seconds to wait for a start, a promotion or a resync
READY_TIMEOUT = 30.0
_REPL_USER = "scanchaos-replica"


def _replication(server: RedisServer) -> dict[str, object]:
    """`INFO replication` of `server`."""
    client = server.client()
    try:
        info: dict[str, object] = client.info("replication")
        return info
    finally:
        client.close()


class SentinelServer(RedisServer):
    """`redis-server --sentinel` with its own configuration file."""

    what = "redis-sentinel"

    def __init__(
        self,
        directory: Path,
        *,
        binary: str | None,
        primary_port: int,
        down_after: float,
        failover_timeout: float,
    ) -> None:
        self.primary_port = primary_port
        self.down_after_ms = max(1, round(down_after * 1000))
        self.failover_timeout_ms = max(1, round(failover_timeout * 1000))
        super().__init__(directory, binary=binary)

    @property
    def config_file(self) -> Path:
        return self.directory / "sentinel.conf"

    @property
    def log(self) -> Path:
        return self.directory / "sentinel.log"

    def _command(self, port: int) -> list[str]:
        # Sentinel rewrites its file with what it learns, so each one has its own.
        self.directory.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(
            f"sentinel monitor {SERVICE_NAME} 127.0.0.1 {self.primary_port} {QUORUM}\n"
            f"sentinel down-after-milliseconds {SERVICE_NAME} {self.down_after_ms}\n"
            f"sentinel failover-timeout {SERVICE_NAME} {self.failover_timeout_ms}\n"
            f"sentinel parallel-syncs {SERVICE_NAME} 1\n",
            encoding="utf-8",
        )
        return [self.binary, str(self.config_file), "--sentinel", *self._process_args(port)]

    def master(self) -> dict[str, object]:
        """What this Sentinel says of the primary (`SENTINEL MASTER`)."""
        client = self.client()
        try:
            state = client.sentinel_master(SERVICE_NAME)
            return state if isinstance(state, dict) else {}
        finally:
            client.close()


class ReplicatedRedis:
    """A primary, its replica and three Sentinels; see the module docstring."""

    def __init__(
        self,
        directory: Path,
        *,
        binary: str | None = None,
        down_after: float = 0.5,
        failover_timeout: float = 10.0,
    ) -> None:
        self.directory = directory
        self.binary = binary
        self.down_after = down_after
        self.failover_timeout = failover_timeout
        self._password = secrets.token_hex(16)
        self.servers: list[RedisServer] = []
        self.sentinels: list[SentinelServer] = []
        #: index in `servers` of the primary (after a promotion: the promoted one)
        self.primary_index = 0
        #: (wall time, port) each time a server became primary, the first at start
        self.primaries: list[tuple[float, int]] = []
        self.lagging = False
        #: the server killed by `kill_primary`, until `rejoin` starts it again
        self.dead: RedisServer | None = None

    # -- lifecycle ----------------------------------------------------------------------

    def __enter__(self) -> ReplicatedRedis:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _server_args(self, replica_of: int | None) -> list[str]:
        args = [
            "--repl-diskless-sync-delay",
            "0",
            "--min-replicas-to-write",
            "0",
            "--user",
            _REPL_USER,
            "on",
            f">{self._password}",
            "+psync",
            "+replconf",
            "+ping",
            "--masteruser",
            _REPL_USER,
            "--masterauth",
            self._password,
        ]
        if replica_of is not None:
            args += ["--replicaof", "127.0.0.1", str(replica_of)]
        return args

    def _start(self) -> None:
        primary = RedisServer(
            self.directory / "redis-a", binary=self.binary, extra_args=self._server_args(None)
        )
        self.servers.append(primary)
        primary.__enter__()
        replica = RedisServer(
            self.directory / "redis-b",
            binary=self.binary,
            extra_args=self._server_args(primary.port),
        )
        self.servers.append(replica)
        replica.__enter__()
        self.primaries.append((time.time(), primary.port))
        self._wait(lambda: self._in_sync(replica), "the replica's first sync")
        for n in range(3):
            sentinel = SentinelServer(
                self.directory / f"sentinel-{n}",
                binary=self.binary,
                primary_port=primary.port,
                down_after=self.down_after,
                failover_timeout=self.failover_timeout,
            )
            self.sentinels.append(sentinel)
            sentinel.__enter__()
        # Sentinels find the replica through the primary's INFO and each other through its
        # hello channel (every 2 s): a failover needs both.
        self._wait(self._sentinels_ready, "the Sentinels to find the replica and each other")

    def close(self) -> None:
        # Sentinels first: stopping the servers under them must not start a failover.
        for server in [*self.sentinels, *self.servers]:
            try:
                server.close()
            except Exception:  # every process is stopped, whatever one did
                server.kill()
        self.sentinels.clear()
        self.servers.clear()

    # -- where things are ---------------------------------------------------------------

    @property
    def primary(self) -> RedisServer:
        return self.servers[self.primary_index]

    @property
    def replica(self) -> RedisServer:
        return self.servers[1 - self.primary_index]

    @property
    def sentinel_addresses(self) -> list[tuple[str, int]]:
        return [("127.0.0.1", s.port) for s in self.sentinels]

    @property
    def pids(self) -> list[int]:
        return [pid for s in [*self.servers, *self.sentinels] if (pid := s.pid) is not None]

    # -- faults -------------------------------------------------------------------------

    def kill_primary(self) -> None:
        """SIGKILL the primary; the Sentinels take it from there."""
        if self.dead is not None:
            raise LiveClusterError("a server is down already")
        self.dead = self.primary
        self.primary.kill()

    def wait_promoted(self, timeout: float = READY_TIMEOUT) -> float:
        """Wait until the Sentinels name the replica primary and it says so; its wall time."""
        new = self.replica

        def promoted() -> bool:
            try:
                named = {int(str(s.master()["port"])) for s in self.sentinels}
                role = _replication(new)["role"]
            except (redis.RedisError, KeyError, ValueError):
                return False
            return named == {new.port} and role == "master"

        self._wait(promoted, "Sentinel to promote the replica", timeout)
        at = time.time()
        self.primary_index = 1 - self.primary_index
        self.primaries.append((at, new.port))
        return at

    def rejoin(self, timeout: float = READY_TIMEOUT) -> None:
        """Start the old primary again, as the new primary's replica, and wait for its sync
        (unless the replication user is off: then once the lag ends)."""
        old = self.replica
        old.restart(self._server_args(self.primary.port))
        self.dead = None
        if self.lagging:
            self._set_replication_user(on=False)
        else:
            self._wait(lambda: self._in_sync(old), "the old primary to resync", timeout)

    def lag_begins(self) -> None:
        """The replica receives nothing more until `lag_ends` (see the module docstring)."""
        self.lagging = True
        self._set_replication_user(on=False)
        if self.dead is None:
            client = self.primary.client()
            try:
                client.client_kill_filter(_type="replica")
            finally:
                client.close()

    def lag_ends(self, timeout: float = READY_TIMEOUT) -> None:
        """The replica may connect again; returns once it holds what the primary holds (at
        once while a server is dead: no replica is left to catch up)."""
        self.lagging = False
        self._set_replication_user(on=True)
        if self.dead is None:
            self._wait(lambda: self._in_sync(self.replica), "the replica to catch up", timeout)

    def _set_replication_user(self, *, on: bool) -> None:
        for server in self.servers:
            if server is self.dead:
                continue
            client = server.client()
            try:
                client.acl_setuser(_REPL_USER, enabled=on)
            finally:
                client.close()

    # -- conditions ---------------------------------------------------------------------

    def _in_sync(self, replica: RedisServer) -> bool:
        """`replica` is linked to the primary and has applied everything it sent."""
        try:
            theirs = _replication(replica)
            ours = _replication(self.primary)
        except redis.RedisError:
            return False
        return (
            theirs.get("master_link_status") == "up"
            and theirs.get("master_port") == self.primary.port
            and theirs.get("slave_repl_offset") == ours.get("master_repl_offset")
        )

    def _sentinels_ready(self) -> bool:
        try:
            states = [s.master() for s in self.sentinels]
        except redis.RedisError:
            return False
        return all(
            state.get("num-slaves") == 1 and state.get("num-other-sentinels") == 2
            for state in states
        )

    def _wait(
        self, condition: Callable[[], bool], what: str, timeout: float = READY_TIMEOUT
    ) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise LiveClusterError(
                    f"timed out after {timeout:.0f} s waiting for {what} (logs: {self.directory})"
                )
            time.sleep(0.01)
