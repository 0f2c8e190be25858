"""`SimRedis`: the simulation's Redis, a primary and (when replicated) one replica, on fakeredis.

Replication is modelled as Redis documents it: asynchronous, so a write the primary
acknowledged reaches the replica later, and a failover promotes the replica with only what
it had received ("Sentinel + Redis distributed system does not guarantee that acknowledged
writes are retained during failures"). The model keeps three states of the replica:

- *in sync*: it holds what the primary holds (shipping takes no virtual time);
- *lagging* (`lag_begins` .. `lag_ends`, a paused replica): it holds what the primary held
  when the lag began; at the end it catches up;
- *gone*: after a promotion, until the old primary rejoins as the new one's replica.

`WAIT n timeout` answers what the replica has at once: 1 in sync, 0 lagging or gone (the
timeout passes in no virtual time). `INFO server` names the primary's run id, which changes
with each promotion. Faults are state on this object, as fakeredis keeps `connected` on its
server: clients connect to whichever server is primary when they connect, and a connection to
a primary that died fails, as a socket to a killed process does.

>>> redis = SimRedis()
>>> client = redis.client()
>>> client.set("k", "v")
True
>>> redis.lag_begins()
>>> client.set("k", "newer")
True
>>> client.wait(1, 100)
0
>>> redis.primary_dies()
>>> redis.promote()  # the keys the promotion lost or rolled back
[b'k']
>>> client.get("k")  # the pooled connection still points at the dead primary
Traceback (most recent call last):
...
redis.exceptions.ConnectionError: FakeRedis is emulating a connection error.
>>> client.get("k")  # a new one reaches the promoted replica, without the newer write
b'v'
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import fakeredis
import redis

__all__ = ["SimRedis"]


@dataclass(frozen=True)
class _Key:
    name: bytes
    dump: bytes
    #: absolute expiry (time.time()), None for a key without TTL
    expires: float | None


class SimRedis:
    """The simulated Redis a `SimCluster`'s workers share; see the module docstring."""

    def __init__(self) -> None:
        self.primary = fakeredis.FakeServer()
        self.generation = 0
        #: what the replica holds while it lags behind (None: in sync, or gone)
        self._behind: list[_Key] | None = None
        self.replica_up = True
        self._primary_dead = False

    @property
    def run_id(self) -> str:
        return f"{self.generation + 1:040x}"

    def client(self) -> redis.Redis:
        pool = redis.ConnectionPool(connection_class=_PrimaryConnection, sim_redis=self)
        return redis.Redis(connection_pool=pool)

    # -- faults ---------------------------------------------------------------------------

    @property
    def up(self) -> bool:
        return bool(self.primary.connected)

    @up.setter
    def up(self, value: bool) -> None:
        """A Redis outage: the primary refuses every connection (its data survives). A dead
        primary stays dead: only a promotion brings a primary back."""
        self.primary.connected = value and not self._primary_dead

    def lag_begins(self) -> None:
        """The replica stops receiving writes (paused, or its link slow)."""
        if self.replica_up and self._behind is None:
            self._behind = _snapshot(self.primary)

    def lag_ends(self) -> None:
        """The replica catches up with the primary, unless the primary died meanwhile (an
        outage cuts clients off the primary, not the replica's link to it)."""
        if not self._primary_dead:
            self._behind = None

    def primary_dies(self) -> None:
        """The primary's process is killed: what it had not shipped exists nowhere else."""
        if self._behind is None and self.replica_up:
            self._behind = _snapshot(self.primary)
        self.primary.connected = False
        self._primary_dead = True

    def promote(self) -> list[bytes]:
        """The replica becomes the primary, with what it holds; returns the keys the old primary
        held that it lacks or holds older (what the failover lost)."""
        old = _snapshot_everything(self.primary)
        held = self._behind or []
        server = fakeredis.FakeServer()
        _restore(server, held)
        self.primary = server
        self.generation += 1
        self._behind = None
        self.replica_up = False
        self._primary_dead = False
        kept = {k.name: k.dump for k in held}
        return sorted(name for name, dump in old.items() if kept.get(name) != dump)

    def rejoin(self) -> None:
        """The old primary comes back as the new primary's replica, resynchronised in full."""
        self.replica_up = True
        self._behind = None

    def acks(self) -> int:
        """How many replicas hold every write so far (what `WAIT` answers)."""
        return 1 if self.replica_up and self._behind is None else 0


def _snapshot(server: fakeredis.FakeServer) -> list[_Key]:
    connected = server.connected
    server.connected = True
    try:
        client = fakeredis.FakeRedis(server=server)
        now = time.time()
        found: list[_Key] = []
        for name in sorted(client.keys("*")):
            dump = client.dump(name)
            ttl = client.pttl(name)
            if dump is None or ttl == -2:
                continue
            found.append(
                _Key(
                    name if isinstance(name, bytes) else name.encode(),
                    dump,
                    None if ttl < 0 else now + ttl / 1000,
                )
            )
        return found
    finally:
        server.connected = connected


def _snapshot_everything(server: fakeredis.FakeServer) -> dict[bytes, bytes]:
    return {k.name: k.dump for k in _snapshot(server)}


def _restore(server: fakeredis.FakeServer, held: list[_Key]) -> None:
    client = fakeredis.FakeRedis(server=server)
    now = time.time()
    for key in held:
        if key.expires is None:
            client.restore(key.name, 0, key.dump)
        elif key.expires > now:
            client.restore(key.name, max(1, int((key.expires - now) * 1000)), key.dump)


class _PrimaryConnection(fakeredis.FakeRedisConnection):
    """A connection to whichever server is primary when it connects, with `WAIT` and
    `INFO server` answered by the replication model (fakeredis has neither)."""

    def __init__(self, *args: Any, sim_redis: SimRedis, **kwargs: Any) -> None:
        self._sim = sim_redis
        self._canned: list[Any] = []
        super().__init__(*args, server=sim_redis.primary, **kwargs)

    def _connect(self) -> Any:
        self._server = self._sim.primary
        return super()._connect()

    def send_command(self, *args: Any, **kwargs: Any) -> None:
        name = str(args[0]).upper() if args else ""
        if name in ("WAIT", "INFO"):
            if not self._sim.up:
                raise redis.ConnectionError("Connection refused: the primary is gone")
            if name == "WAIT":
                self._canned.append(min(int(args[1]), self._sim.acks()))
            else:
                self._canned.append(f"# Server\r\nrun_id:{self._sim.run_id}\r\n".encode())
            return
        super().send_command(*args, **kwargs)  # type: ignore[no-untyped-call]

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        if self._canned:
            return self._canned.pop(0)
        return super().read_response(*args, **kwargs)
