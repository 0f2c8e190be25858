"""One round trip from a pointer key to the result it names (a Lua script on the Redis server).

A status read by scan id goes lookup -> cache key -> result, and a `latest` read goes latest
pointer -> cache key -> result: two dependent GETs, two round trips, on the request a client
sends most. The script does both on the server. It keeps every meaning of the two GETs: a
missing pointer (the incident's deleted lookup) is still a missing pointer, answered as before.

The result key is built from the pointer's value on the server, so it is not declared in
`KEYS`: that is fine against one Redis and a replicated one, not against Redis Cluster (the
reference does not run on a cluster).

>>> import fakeredis
>>> client = fakeredis.FakeRedis()
>>> follow = Follow(client)
>>> client.set("scan:lookup:s1", "c1"), client.set("scan:result:c1", "{}")
(True, True)
>>> follow("scan:lookup:s1", "scan:result:")
('c1', '{}')
>>> follow("scan:lookup:s2", "scan:result:") is None
True
"""

from __future__ import annotations

from typing import Any

import redis

__all__ = ["Follow", "decoded"]

_SCRIPT = """
local target = redis.call('GET', KEYS[1])
if not target then
  return false
end
return {target, redis.call('GET', ARGV[1] .. target)}
"""


def decoded(value: Any) -> str:
    """A value as redis-py returns it (bytes, unless the client decodes), as text."""
    return value.decode() if isinstance(value, bytes) else str(value)


class Follow:
    """`follow(pointer, prefix)`: None when `pointer` is missing, else (its value, the value of
    `prefix + value` or None), in one round trip; raises `redis.RedisError` as a GET would.
    redis-py sends the script by its hash and loads it again where the server lacks it (a
    restarted or promoted server)."""

    def __init__(self, client: redis.Redis) -> None:
        self._script = client.register_script(_SCRIPT)

    def __call__(self, pointer: str, prefix: str) -> tuple[str, str | None] | None:
        found = self._script(keys=[pointer], args=[prefix])
        if found is None:
            return None
        target, value = found
        return decoded(target), None if value is None else decoded(value)
