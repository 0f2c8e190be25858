"""One worker of the opportunity-scan service.

The service keeps the contract of docs/design.md: four Redis keys that live together, per-worker
memory maps with a short TTL, a periodic cleanup that calls `unregister_scan_lookup`, and a
resolution chain (memory, then Redis, restoring into memory). It reads time through the standard
library, talks to Redis through redis-py and runs strategies through the executor it is given; it
does not know whether it runs in a simulation or under Gunicorn.

A scan is a generator (`ScanRun.steps`) that yields one `StrategyCall` per strategy and is sent
back its `StrategyOutcome`. `start_scan` drives it to the end with the service's executor, inside
the start request, as the incident's sync workers did; a simulation drives the same generator
from its event loop instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import time
import uuid
from collections.abc import Callable, Generator
from dataclasses import dataclass, replace
from typing import Protocol, TypeVar

import redis
from redis.exceptions import RedisError, WatchError

from reference_impl import keys
from reference_impl.config import ServiceConfig
from reference_impl.entry import JUDGED, Opportunity, Reply, ScanEntry
from reference_impl.follow import Follow, decoded
from reference_impl.performance import PerformanceStore
from reference_impl.strategies import StrategyProfile, strategy_names, strategy_runner

Probe = Callable[[str], None]

_T = TypeVar("_T")


@dataclass(frozen=True)
class StrategyCall:
    """One strategy to run, with the time it may take before the scan stops waiting."""

    index: int
    name: str
    run: Callable[[], tuple[Opportunity, ...]]
    #: how long the strategy takes (its upstream latency); `inf` when it hangs
    duration: float
    #: the scan budget left: past it the scan is saved as `partial`
    timeout: float
    #: to be called every `beat_interval` seconds while waiting, so the scan stays alive
    beat: Callable[[], None]
    beat_interval: float


@dataclass(frozen=True)
class StrategyOutcome:
    opportunities: tuple[Opportunity, ...] = ()
    timed_out: bool = False
    error: Exception | None = None


class StrategyExecutor(Protocol):
    def run(self, call: StrategyCall) -> StrategyOutcome: ...


class RedisUnavailable(Exception):
    """Redis could not be reached and the worker has no copy it may serve."""


@dataclass
class _Cached:
    value: str | ScanEntry
    expires: float  # time.monotonic()


def _no_probe(_: str) -> None:
    return None


def _no_beat() -> None:
    return None


class ScanRun:
    """A registered scan: drive `steps()` to run its strategies and save its result."""

    def __init__(self, service: ScanService, entry: ScanEntry, profile: StrategyProfile) -> None:
        self.service = service
        self.entry = entry
        self._profile = profile
        #: the terminal entry another worker recorded (e.g. `failed`, worker lost, after a
        #: stall it judged), which this run's writes may not overwrite: the run ends with it
        self._ended_elsewhere: ScanEntry | None = None

    def ended_elsewhere(self) -> ScanEntry | None:
        return self._ended_elsewhere

    @property
    def scan_id(self) -> str:
        return self.entry.scan_id

    def steps(self) -> Generator[StrategyCall, StrategyOutcome, Reply]:
        svc = self.service
        cfg = svc.config
        began = time.monotonic()
        deadline = began + cfg.effective_budget
        status: str = "complete"
        reason: str | None = None
        for index, name in enumerate(strategy_names(cfg.strategies)):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                status, reason = "partial", "budget exhausted"
                break
            outcome = yield StrategyCall(
                index=index,
                name=name,
                run=strategy_runner(svc.performance, name),
                duration=self._profile.duration(index),
                timeout=remaining,
                beat=self._beat,
                beat_interval=cfg.heartbeat_interval,
            )
            if outcome.timed_out:
                if not cfg.has("complete-on-budget"):
                    status, reason = "partial", "budget exhausted"
                break
            if (ended := self.ended_elsewhere()) is not None:
                return Reply.of(ended)
            if outcome.error is not None:
                self.entry = self.entry.finished(time.time(), "failed", "strategy error")
                svc.save(self.entry)
                raise outcome.error
            advanced = self.entry.advanced(time.time(), outcome.opportunities)
            if advanced.done == advanced.total:
                # The last strategy: written once, together with the end, so that no reader
                # ever sees `scanning` with every strategy done.
                self.entry = advanced
                continue
            self._save(advanced)
            if (ended := self.ended_elsewhere()) is not None:
                return Reply.of(ended)
        self._save(self.entry.finished(time.time(), status, reason))  # type: ignore[arg-type]
        if not (yield from self._until_durable(began)):
            return Reply(
                "unavailable",
                scan_id=self.scan_id,
                owner=self.entry.owner,
                reason="result not saved yet",
            )
        return Reply.of(self.ended_elsewhere() or self.entry)

    def _until_durable(self, began: float) -> Generator[StrategyCall, StrategyOutcome, bool]:
        """Hold the reply until the terminal write reached Redis; False if it did not in time.

        A result only this worker's memory holds is not a result: were the worker restarted (or
        another worker, blind to the outage, to judge the scan stalled), the client would have
        been told `complete` for a scan that then reads `failed` or vanishes. So the request
        waits, writing again each cleanup interval, and answers `unavailable` two intervals
        before the worker timeout; the write stays pending for the cleanup to repair.

        A write the primary took and no replica acknowledged yet does not hold the reply: every
        worker reads the result from the primary, and this one keeps writing it until a
        replica has it (through a failover, to the promoted one). Holding the reply would turn
        a lagging replica, which clients cannot see, into 503s for every scan that ends.
        """
        svc = self.service
        cfg = svc.config
        limit = began + cfg.worker_timeout - 2 * cfg.cleanup_interval
        while svc.unsaved(self.entry.cache_key) and self.ended_elsewhere() is None:
            left = limit - time.monotonic()
            if left <= 0:
                return False
            yield StrategyCall(
                index=cfg.strategies,
                name="wait-for-redis",
                run=tuple,
                duration=min(cfg.cleanup_interval, left),
                timeout=left,
                beat=_no_beat,
                beat_interval=cfg.heartbeat_interval,
            )
            self._save(self.entry)
        return True

    def _save(self, entry: ScanEntry) -> None:
        self.entry = entry
        stored = self.service.save(entry)
        if stored.terminal and stored != entry:
            self._ended_elsewhere = stored

    def _beat(self) -> None:
        if self._ended_elsewhere is None:
            self._save(replace(self.entry, updated_at=time.time()))


class ScanService:
    """One worker's view of the scan service: its memory, its Redis client, its executor."""

    def __init__(
        self,
        *,
        config: ServiceConfig,
        redis_client: redis.Redis,
        performance: PerformanceStore,
        profile: StrategyProfile | None = None,
        executor: StrategyExecutor | None = None,
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
        probe: Probe = _no_probe,
    ) -> None:
        self.config = config
        self.performance = performance
        self._redis = redis_client
        self._follow = Follow(redis_client)
        self._profile = profile or StrategyProfile()
        self._executor = executor
        self._new_id = new_id
        self._probe = probe
        self._lookups: dict[str, _Cached] = {}
        self._results: dict[str, _Cached] = {}
        #: scan_id -> cache key of the results other workers registered that this one restored
        #: from Redis: a poll of one that ended reads only its lookup (see `_resolve`)
        self._restored: dict[str, _Cached] = {}
        #: entries whose last Redis write failed, to be written again once Redis answers
        self._pending: dict[str, ScanEntry] = {}
        #: of those, the terminal writes the primary took and no replica acknowledged yet
        self._unacked: set[str] = set()
        #: the breaks (wall-time spans) in which this worker saw Redis fail, oldest first, and
        #: since when the current one lasts (None: Redis answers). A new worker has seen no
        #: break: its own start is not a recovery.
        self._breaks: list[tuple[float, float]] = []
        self._break_since: float | None = None
        self._seen_redis_answer = False
        self._last_contact = -math.inf
        #: against a replicated Redis: the run id of the primary last seen, whether to ask it
        #: again (at first contact and after each break), whether a break since may have been
        #: a failover, and when the primary last changed
        self._primary: str | None = None
        self._doubt_primary = config.redis.replica_acks > 0
        self._after_break = False
        self._primary_changed_at = -math.inf
        #: whether the last break began while this worker still doubted a new primary
        self._break_in_doubt = False
        #: the contact stamp another worker left before this worker's last look
        self._last_stamp = -math.inf

    def connect(self) -> None:
        """The worker's first contact, as it starts. Against a replicated Redis it learns which
        server is primary: a failover before its first request is then noticed as one (a
        worker that first meets the promoted replica cannot tell it from the primary it always
        was). A failure is a break like any other."""
        if self.config.redis.replica_acks > 0 and self._doubt_primary:
            self._check_primary()

    # -- starting and running scans -------------------------------------------------------

    def begin_scan(self, user_id: str) -> ScanRun | Reply:
        """Register a new scan for `user_id`; a `Reply` when it cannot be started."""
        if not keys.valid_user_id(user_id):
            return Reply("bad_request", reason="malformed user id")
        scan_id = self._new_id()
        digest = hashlib.sha256(f"{user_id}:{scan_id}".encode()).hexdigest()
        now = time.time()
        entry = ScanEntry(
            scan_id=scan_id,
            cache_key=digest[:24],
            owner=user_id,
            status="scanning",
            done=0,
            total=self.config.strategies,
            started_at=now,
            updated_at=now,
        )
        try:
            self._write(entry, registering=True)
        except RedisError:
            self._redis_failed()
            if self.config.has("redis-errors-raise"):
                raise
            return Reply("unavailable", reason="redis unavailable: scan not started")
        self._remember(entry)
        return ScanRun(self, entry, self._profile)

    def start_scan(self, user_id: str) -> Reply:
        """Start a scan and run it to the end inside this call (a sync worker's request)."""
        if self._executor is None:
            raise RuntimeError("start_scan needs an executor; pass executor= to ScanService")
        run = self.begin_scan(user_id)
        if isinstance(run, Reply):
            return run
        steps = run.steps()
        try:
            call = next(steps)
            while True:
                call = steps.send(self._executor.run(call))
        except StopIteration as stop:
            reply: Reply = stop.value
            return reply

    def save(self, entry: ScanEntry) -> ScanEntry:
        """Keep `entry` in memory and write it to Redis; a failed write waits for repair.

        Returns what the scan now is: `entry`, or the terminal entry Redis already held, which
        no write overwrites (then memory keeps that one too).
        """
        self._remember(entry)
        try:
            stored = self._reconnecting(lambda: self._persist(entry))
        except RedisError:
            self._redis_failed()
            self._unacked.discard(entry.cache_key)
            if not self.config.has("lost-write-after-outage"):
                self._pending[entry.cache_key] = entry
            self._probe("write-deferred")
            return entry
        if stored is not entry:
            self._probe("terminal-kept")
            self._remember(stored)
        return stored

    def pending(self, cache_key: str) -> bool:
        """Whether this worker holds a write for `cache_key` that Redis has not taken yet (or,
        for a terminal write against a replicated Redis, that no replica acknowledged)."""
        return cache_key in self._pending

    def unsaved(self, cache_key: str) -> bool:
        """Whether the write for `cache_key` has not reached Redis at all: pending, and not
        merely waiting for a replica's acknowledgement (the primary holds that one already)."""
        return cache_key in self._pending and cache_key not in self._unacked

    def _persist(self, entry: ScanEntry) -> ScanEntry:
        """Write `entry` and return what Redis then holds; `RedisError` when the write failed.

        A terminal result no replica acknowledged stays pending, written again like a write in
        an outage: the primary answered, but a failover would promote a replica without it.
        """
        stored = self._write(entry)
        # Past its expiry the write deleted what Redis held of the scan; that too stays
        # pending until a replica has it, or a failover would bring back an older copy.
        if stored.terminal and not self._replicated():
            self._pending[entry.cache_key] = stored
            self._unacked.add(entry.cache_key)
            self._probe("write-unacked")
        else:
            self._pending.pop(entry.cache_key, None)
            self._unacked.discard(entry.cache_key)
        return stored

    def _expired(self, entry: ScanEntry) -> bool:
        """Whether `entry` is a result past its expiry (the result TTL from its end)."""
        finished = entry.finished_at
        return finished is not None and finished + self.config.result_ttl <= time.time()

    def _replicated(self) -> bool:
        """Whether the replicas hold this worker's writes so far (`WAIT`).

        `WAIT` counts the writes of the connection it is sent on. Every call into the service
        runs under one lock (see `reference_impl.web`) and redis-py's pool hands out the
        connection released last, so it is the connection that just wrote.
        """
        wanted = self.config.redis.replica_acks
        if wanted == 0 or self.config.has("no-replica-ack"):
            return True
        timeout_ms = max(1, int(self.config.redis.replica_ack_timeout * 1000))
        try:
            acked = int(self._redis.wait(wanted, timeout_ms))
        except RedisError:
            self._redis_failed()
            return False
        return acked >= wanted

    # -- reading --------------------------------------------------------------------------

    def status(self, user_id: str, scan_id: str) -> Reply:
        """The status of `scan_id` as seen by `user_id`."""
        if not keys.valid_user_id(user_id) or not keys.valid_scan_id(scan_id):
            return Reply("bad_request", reason="malformed id")
        try:
            found = self._resolve(scan_id)
        except RedisUnavailable:
            return Reply("unavailable", scan_id=scan_id, reason="redis unavailable")
        if found is None:
            if self._doubting_failover(ask=True):
                return Reply("unavailable", scan_id=scan_id, reason="redis failed over")
            return Reply("not_found", scan_id=scan_id)
        entry, source = found
        if entry.owner != user_id and not self.config.has("no-user-scope"):
            return Reply("not_found", scan_id=scan_id)
        judged = self._judge_stall(entry)
        if judged is None:
            return Reply("unavailable", scan_id=scan_id, reason="redis failed over")
        return Reply.of(judged, source=source if judged is entry else JUDGED)

    def latest(self, user_id: str) -> Reply:
        """The latest scan of `user_id`."""
        if not keys.valid_user_id(user_id):
            return Reply("bad_request", reason="malformed user id")
        if self._doubting_failover(ask=True):
            # The pointer may be one the promotion rolled back, to an older scan of the user's,
            # until every worker has written its own again.
            return Reply("unavailable", reason="redis failed over")
        try:
            followed = self._redis_follow(keys.latest_key(user_id))
            raw = (
                followed[1] if followed is not None and keys.valid_cache_key(followed[0]) else None
            )
            if raw is None:
                raw = self._newest_stored(user_id)
        except RedisUnavailable:
            return Reply("unavailable", reason="redis unavailable")
        if raw is None:
            if self._doubting_failover():
                return Reply("unavailable", reason="redis failed over")
            return Reply("not_found")
        entry = ScanEntry.from_json(raw)
        if entry.owner != user_id:
            return Reply("not_found")
        judged = self._judge_stall(entry)
        if judged is None:
            return Reply("unavailable", reason="redis failed over")
        if judged.terminal:
            # Kept as a read by id keeps it: a result this worker served is one it writes back
            # when a failover promotes a replica that lacks it.
            self._remember(judged, restored=True)
        return Reply.of(judged, source="redis" if judged is entry else JUDGED)

    def _newest_stored(self, user_id: str) -> str | None:
        """The newest of the user's scans Redis still holds, when the latest pointer names none:
        the newest scan can expire before an older one that ran (or failed) later, and until
        the older one expires it is the user's latest."""
        index = keys.user_scans_key(user_id)
        try:
            members = self._redis.zrevrange(index, 0, -1)
        except RedisError:
            self._redis_failed()
            if self.config.has("redis-errors-raise"):
                raise
            raise RedisUnavailable(index) from None
        self._redis_answered()
        gone: list[str] = []
        found: str | None = None
        for member in members:
            cache_key = member.decode() if isinstance(member, bytes) else str(member)
            if not keys.valid_cache_key(cache_key):
                gone.append(cache_key)
                continue
            found = self._redis_get(keys.result_key(cache_key))
            if found is not None:
                break
            gone.append(cache_key)
        if gone:
            with contextlib.suppress(RedisError):
                self._redis.zrem(index, *gone)
        return found

    def _resolve(self, scan_id: str) -> tuple[ScanEntry, str] | None:
        # The lookup map in memory holds the scans this worker registered; other workers find
        # the cache key through Redis. Results found in Redis are restored into memory.
        cache_key = self._memory_value(self._lookups, scan_id)
        #: the result as Redis held it when the lookup was read with it (one round trip)
        fetched: str | None = None
        if not isinstance(cache_key, str):
            if self.config.has("no-redis-fallback"):
                return None
            if self._holds_result(scan_id):
                # A result is final: with a copy in memory only the lookup is read, so a
                # deleted lookup still means 404 (the incident), without fetching the result.
                cache_key = self._redis_get(keys.lookup_key(scan_id))
                if cache_key is None or not keys.valid_cache_key(cache_key):
                    return None
            else:
                followed = self._redis_follow(keys.lookup_key(scan_id))
                if followed is None or not keys.valid_cache_key(followed[0]):
                    return None
                cache_key, fetched = followed
        pending = self._pending.get(cache_key)
        if pending is not None and pending.scan_id == scan_id:
            settled = self._settle(pending)
            return None if settled is None else (settled, "memory")
        cached = self._memory_value(self._results, cache_key)
        if (
            isinstance(cached, ScanEntry)
            and cached.scan_id == scan_id
            and (
                cached.terminal
                or self.config.has("stale-memory-first")
                or self.config.has("no-redis-fallback")
            )
        ):
            return cached, "memory"
        if self.config.has("no-redis-fallback"):
            return None
        # A scanning copy may be stale: Redis has the newest progress. Without Redis the worker
        # cannot tell, so it answers unavailable rather than serve old progress.
        raw = fetched if fetched is not None else self._redis_get(keys.result_key(cache_key))
        if raw is None:
            self._results.pop(cache_key, None)
            return None
        entry = ScanEntry.from_json(raw)
        if entry.scan_id != scan_id:
            return None
        self._probe("redis-fallback")
        self._remember(entry, restored=True)
        return entry, "redis"

    def _holds_result(self, scan_id: str) -> bool:
        """Whether memory holds a result (a terminal copy) of `scan_id` restored from Redis."""
        cache_key = self._memory_value(self._restored, scan_id)
        if not isinstance(cache_key, str):
            return False
        cached = self._memory_value(self._results, cache_key)
        return isinstance(cached, ScanEntry) and cached.terminal and cached.scan_id == scan_id

    def _settle(self, pending: ScanEntry) -> ScanEntry | None:
        """A read of a scan whose last write Redis has not taken: write it first, as the cleanup
        would, and answer what Redis then holds; `RedisUnavailable` while Redis is down; None
        for a result past its expiry (a write no replica acknowledged is kept until one does,
        and its result can expire meanwhile: it is then written as the deletion of its keys).

        What only this worker's memory holds is not yet the scan's result: served while Redis
        is down, a `complete` could be contradicted by a worker that, blind to the outage,
        judges the scan stalled as Redis returns (then compare-and-set keeps its `failed`).
        """
        try:
            stored = self._reconnecting(lambda: self._persist(pending))
        except RedisError:
            self._redis_failed()
            if self.config.has("redis-errors-raise"):
                raise
            raise RedisUnavailable(pending.cache_key) from None
        if self._expired(stored):
            self._probe("pending-expired")
            return None
        if not self.pending(pending.cache_key):
            self._probe("write-repaired")
        self._remember(stored)
        return stored

    def _check_primary(self) -> bool:
        """Ask which server is the primary (its run id). A new one (a failover) may lack what
        this worker wrote: everything of its own its memory holds is written again, and for one
        cleanup interval a missing key may be one another worker has not rewritten yet, so it
        is answered `unavailable`, not `not_found` (every worker notices within an interval)."""
        try:
            run_id = str(self._redis.info("server")["run_id"])
            noticed = self._primary_record(run_id)
            if self._break_in_doubt and run_id == self._primary:
                # A break within a failover's doubt kept every worker from writing back what
                # the promotion lost: the doubt runs again from the break's end, also for the
                # workers yet to start (they read when it began from the record).
                self._renotice(run_id)
        except RedisError:
            self._redis_failed()
            return False
        # Redis answered: a break after this one can be dated (a worker whose first look
        # succeeded, then met an outage, would otherwise date it from the beginning of time,
        # and take it for one that began while it doubted the failover it read of).
        self._seen_redis_answer = True
        self._doubt_primary = self._after_break = self._break_in_doubt = False
        if self._primary is None and noticed is not None:
            # A worker's first look: another worker noticed this primary not long ago, or it
            # is a promoted replica nobody had noticed (the record named the one before).
            self._primary_changed_at = noticed
            if self._unanswered_since_doubt(noticed):
                self._renotice(run_id)
        if self._primary is not None and run_id != self._primary:
            self._primary_changed_at = time.time()
            self._probe("primary-changed")
            own = {c.value for c in self._lookups.values()}
            for cache_key, cached in self._results.items():
                entry = cached.value
                if isinstance(entry, ScanEntry) and (entry.terminal or cache_key in own):
                    self._pending.setdefault(cache_key, entry)
        self._primary = run_id
        return True

    def _unanswered_since_doubt(self, noticed: float) -> bool:
        """For a worker's first look: did no worker reach Redis for a while (an outage: no
        cleanup tick stamped its contact), beginning while the failover noticed at `noticed`
        was still in doubt? Then nobody could write back what the promotion lost in it, and
        the doubt runs again from now, as it does for a worker that saw the break itself."""
        now = time.time()
        gap = now - self._last_stamp > 2 * self.config.cleanup_interval
        return gap and self._last_stamp < noticed + self._failover_doubt

    def _renotice(self, run_id: str) -> None:
        self._primary_changed_at = time.time()
        self._redis.set(keys.PRIMARY_KEY, f"{run_id} {self._primary_changed_at!r}")

    def _primary_record(self, run_id: str) -> float | None:
        """Keep the primary record (`keys.PRIMARY_KEY`: the run id the workers know, and when
        the first of them noticed it) and return when `run_id` was first noticed, now if it
        is news, None if it was the primary since the record began. The record travels with
        the data: a promoted replica holds the one naming the primary before it, so a worker
        that first meets the promoted one still learns that it is new."""
        now = time.time()
        # Every worker stamps its contact (a cleanup tick, at the latest); the stamp before
        # this one says whether Redis went unanswered for a while (see `_check_primary`).
        pipe = self._redis.pipeline(transaction=False)
        pipe.get(keys.PRIMARY_KEY)
        pipe.set(keys.CONTACT_KEY, repr(now), get=True)
        raw, contact = pipe.execute()
        self._last_stamp = -math.inf if contact is None else float(decoded(contact))
        if raw is None:
            self._redis.set(keys.PRIMARY_KEY, f"{run_id} -inf", nx=True)
            return None
        known, _, since = decoded(raw).partition(" ")
        if known != run_id:
            self._redis.set(keys.PRIMARY_KEY, f"{run_id} {now!r}")
            return now
        noticed = float(since) if since not in ("", "-inf") else -math.inf
        return min(noticed, now) if math.isfinite(noticed) else None

    def _doubting_failover(self, *, ask: bool = False) -> bool:
        """Whether what Redis holds may be older than what the workers wrote: a missing key, or
        a `scanning` entry gone quiet, may be a write a failover lost that its holder has not
        written again yet (asked now if a break came since). Every worker notices a new
        primary at its next contact, a cleanup tick or a running scan's heartbeat, and writes
        back at once: so for the longer of the two after this worker noticed.

        `ask`: ask which server is primary now, break or not, before answering that a key is
        missing or which scan is a user's latest. A failover can pass between two requests
        without a single error: redis-py checks a pooled connection as it hands it out and
        silently reconnects one whose server closed it, and the reconnection reaches the
        promoted replica. If the question fails, the worker cannot tell: it doubts."""
        asking = self._doubt_primary or (ask and self.config.redis.replica_acks > 0)
        if asking and not self._check_primary() and ask:
            return True
        changed = time.time() - self._primary_changed_at < self._failover_doubt
        return self._after_break or changed

    @property
    def _failover_doubt(self) -> float:
        cfg = self.config
        return max(cfg.cleanup_interval, cfg.heartbeat_interval)

    def _judge_stall(self, entry: ScanEntry) -> ScanEntry | None:
        """A scanning entry that has not moved for the stall timeout belongs to a dead worker.

        None while a failover is in doubt: the entry may be an older copy the promoted replica
        held, its scan ended or still running on a live worker that is about to write it again
        (marked failed, it would overwrite that worker's result: compare-and-set keeps the
        first terminal write)."""
        if entry.terminal or self.config.has("orphaned-scan"):
            return entry
        now = time.time()
        # No worker runs a scan past the worker timeout (the arbiter kills it first), whatever
        # this worker could see of Redis: a worker whose first contact failed cannot date the
        # break, and so excuses all earlier silence, but not a scan older than that.
        outlived = now - entry.started_at >= self.config.worker_timeout
        if not outlived and self._silent_for(entry.updated_at, now) <= self.config.stall_timeout:
            return entry
        # Asked, not only remembered: the quiet entry may be the older copy a failover that
        # passed without an error rolled back to.
        if self._doubting_failover(ask=True):
            return None
        failed = entry.finished(now, "failed", "worker lost")
        self._probe("orphan-marked-failed")
        return self.save(failed)

    def _silent_for(self, since: float, now: float) -> float:
        """How long a scan last heard of at `since` has been silent, not counting the breaks in
        which this worker saw Redis fail: heartbeats missed in an outage are no sign of death,
        those missed before it are (a scan orphaned long before a short outage is still
        orphaned after it)."""
        if self._break_since is not None:
            return 0.0  # Redis fails right now: this worker cannot tell
        excused = sum(max(0.0, min(end, now) - max(start, since)) for start, end in self._breaks)
        return now - since - excused

    # -- cleanup --------------------------------------------------------------------------

    def cleanup(self) -> None:
        """The periodic cleanup: repair deferred writes, drop expired memory entries."""
        self._repair_pending()
        now = time.monotonic()
        for cache_key, cached in list(self._results.items()):
            if cached.expires <= now and cache_key not in self._pending:
                del self._results[cache_key]
        for scan_id, cached in list(self._restored.items()):
            if cached.expires <= now:
                del self._restored[scan_id]
        for scan_id, cached in list(self._lookups.items()):
            if cached.expires <= now and cached.value not in self._pending:
                del self._lookups[scan_id]
                assert isinstance(cached.value, str)
                self.unregister_scan_lookup(scan_id, cached.value)

    def unregister_scan_lookup(self, scan_id: str, cache_key: str) -> None:
        """Forget the Redis scan_id -> cache_key mapping once the result is gone everywhere.

        Called by the cleanup for each registration whose memory copy expired. Memory alone
        cannot tell: the result lives on in Redis, and other workers find it through this
        mapping, so it is kept while Redis still holds the result.
        """
        if isinstance(self._memory_value(self._lookups, scan_id), str):
            return  # registered again since
        if self.config.has("cleanup-ignores-redis"):
            self._delete_lookup(scan_id)
            return
        try:
            still_there = self._redis.exists(keys.result_key(cache_key))
        except RedisError:
            self._redis_failed()
            return
        self._redis_answered()
        if still_there:
            self._probe("cleanup-kept-mapping")
            return
        self._delete_lookup(scan_id)

    def _delete_lookup(self, scan_id: str) -> None:
        try:
            self._redis.delete(keys.lookup_key(scan_id))
            self._redis_answered()
        except RedisError:
            self._redis_failed()

    def _repair_pending(self) -> None:
        # The cleanup doubles as the health probe that tells this worker when Redis came back
        # (see `_judge_stall`); a worker that talked to Redis since the last tick already knows.
        quiet = time.monotonic() - self._last_contact >= self.config.cleanup_interval
        # Against a replicated Redis every tick asks which server is primary, so that each
        # worker notices a failover within an interval: one can pass without a single error
        # (redis-py silently reconnects a pooled connection its server closed, and reaches
        # the promoted replica).
        replicated = self.config.redis.replica_acks > 0
        if not (self._pending or quiet or replicated):
            return
        try:
            self._reconnecting(self._redis.ping)
        except RedisError:
            self._redis_failed()
            return
        self._redis_answered()
        if replicated:
            self._check_primary()
        for cache_key, entry in list(self._pending.items()):
            try:
                stored = self._persist(entry)
            except RedisError:
                self._redis_failed()
                return
            if stored is not entry:
                self._remember(stored)
            if not self.pending(cache_key):
                self._probe("write-repaired")

    # -- memory and Redis ------------------------------------------------------------------

    def _remember(self, entry: ScanEntry, *, restored: bool = False) -> None:
        expires = time.monotonic() + self.config.memory_ttl
        if entry.finished_at is not None:
            # Never keep a copy past the result's own expiry: no zombies in memory.
            left = entry.finished_at + self.config.result_ttl - time.time()
            expires = min(expires, time.monotonic() + left)
        self._results[entry.cache_key] = _Cached(entry, expires)
        if restored:
            self._restored[entry.scan_id] = _Cached(entry.cache_key, expires)
            self._probe("memory-restored")
        else:
            self._lookups[entry.scan_id] = _Cached(entry.cache_key, expires)

    def _memory_value(self, table: dict[str, _Cached], key: str) -> str | ScanEntry | None:
        cached = table.get(key)
        if cached is None or cached.expires <= time.monotonic():
            return None
        return cached.value

    def _write(self, entry: ScanEntry, *, registering: bool = False) -> ScanEntry:
        """Write the scan's four keys together; returns what Redis holds for the scan after.

        A terminal entry in Redis is never overwritten (compare-and-set through WATCH): when
        another worker already recorded a terminal result, that entry is returned unchanged.
        """
        cfg = self.config
        now = time.time()
        # A running scan's keys live until its result could expire at the latest (it ends by
        # the worker timeout), not a TTL from each write: through an outage no write refreshes
        # them, and the result written after it must still be found through them.
        ttl = entry.started_at + cfg.worker_timeout + cfg.result_ttl - now
        # A repaired write keeps the result's original expiry. Past it nothing of the scan may
        # be read, yet Redis can hold an older copy that lives longer (the running entry a
        # failover rolled back to, or one an outage kept, its TTL reaching the worker timeout):
        # it goes, or a reader would raise it as failed.
        expired = False
        if entry.finished_at is not None:
            ttl = entry.finished_at + cfg.result_ttl - now
            expired = ttl <= 0
        px = max(1, int(ttl * 1000))
        result_key = keys.result_key(entry.cache_key)
        guarded = not registering and not cfg.has("terminal-overwrite")
        with self._redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    if guarded:
                        pipe.watch(result_key)  # type: ignore[no-untyped-call]
                        raw = pipe.get(result_key)
                        held = ScanEntry.from_json(raw) if raw is not None else None
                        if (
                            held is not None
                            and held.terminal
                            and held.scan_id == entry.scan_id
                            and not (expired and held == entry)
                        ):
                            # A verdict in Redis stands, even against the deletion of an
                            # expired result: another worker recorded it since, and showed it.
                            pipe.unwatch()
                            self._redis_answered()
                            return entry if held == entry else held
                        pipe.multi()
                    if expired:
                        pipe.delete(result_key, keys.lookup_key(entry.scan_id))
                    else:
                        self._queue_keys(pipe, entry, px, registering=registering)
                    current = pipe.execute()[-1]
                    break
                except WatchError:
                    continue  # another worker wrote the scan meanwhile: look again
        if expired:
            self._redis_answered()
            return entry
        latest = keys.latest_key(entry.owner)
        if registering and cfg.has("latest-set-once"):
            self._redis.set(latest, entry.cache_key, px=px, nx=True)
        elif registering or current in (None, entry.cache_key, entry.cache_key.encode()):
            self._redis.set(latest, entry.cache_key, px=px)
        elif not cfg.has("latest-set-once") and self._names_older(entry, current):
            # A pointer to an older scan of the user's: a promotion rolled it back (it is set
            # to each scan as it registers, newest last).
            self._redis.set(latest, entry.cache_key, px=px)
        self._redis_answered()
        return entry

    def _names_older(self, entry: ScanEntry, current: bytes | str) -> bool:
        """Whether the latest pointer `current` names a scan begun before `entry`."""
        began = self._redis.zscore(keys.user_scans_key(entry.owner), current)
        return began is None or float(began) < entry.started_at

    def _queue_keys(
        self, pipe: redis.client.Pipeline, entry: ScanEntry, px: int, *, registering: bool
    ) -> None:
        cfg = self.config
        pipe.set(keys.result_key(entry.cache_key), entry.to_json(), px=px)
        if not cfg.has("lookup-memory-only"):
            if cfg.has("short-lookup-ttl"):
                if registering:
                    short = max(1, int(cfg.short_lookup_ttl * 1000))
                    pipe.set(keys.lookup_key(entry.scan_id), entry.cache_key, px=short)
            else:
                pipe.set(keys.lookup_key(entry.scan_id), entry.cache_key, px=px)
        # Every scan of the user, by start time, for `latest` once the newest has expired.
        index = keys.user_scans_key(entry.owner)
        pipe.zadd(index, {entry.cache_key: entry.started_at})
        pipe.pexpire(index, px, nx=True)
        pipe.pexpire(index, px, gt=True)
        pipe.get(keys.latest_key(entry.owner))

    def _redis_get(self, key: str) -> str | None:
        try:
            value = self._reconnecting(lambda: self._redis.get(key))
        except RedisError:
            self._redis_failed()
            if self.config.has("redis-errors-raise"):
                raise
            raise RedisUnavailable(key) from None
        self._redis_answered()
        return None if value is None else decoded(value)

    def _redis_follow(self, pointer: str) -> tuple[str, str | None] | None:
        """`pointer`'s value and the result it names, in one round trip (`Follow`)."""
        try:
            found = self._reconnecting(lambda: self._follow(pointer, keys.RESULT_PREFIX))
        except RedisError:
            self._redis_failed()
            if self.config.has("redis-errors-raise"):
                raise
            raise RedisUnavailable(pointer) from None
        self._redis_answered()
        return found

    def _reconnecting(self, command: Callable[[], _T]) -> _T:
        """`command`, once more if its connection was refused, against a replicated Redis: a
        pooled connection to a primary that died fails once, then the pool connects to the one
        now serving. So every worker notices a promotion at its next contact, and each one's
        doubt about missing keys (`_doubting_failover`) ends an interval after it."""
        try:
            return command()
        except redis.ConnectionError:
            if self.config.redis.replica_acks == 0:
                raise
            self._redis_failed()  # a break, however short: the primary may have changed
            return command()

    def _redis_failed(self) -> None:
        if self._break_since is None:
            # A worker whose very first contact failed cannot tell since when Redis is down.
            self._break_since = time.time() if self._seen_redis_answer else -math.inf
        self._last_contact = time.monotonic()

    def _redis_answered(self) -> None:
        self._seen_redis_answer = True
        if self._break_since is not None:
            self._doubt_primary = self._after_break = self.config.redis.replica_acks > 0
            doubted_until = self._primary_changed_at + self._failover_doubt
            # A break this worker cannot date (its first contact failed) is not taken to have
            # begun in a doubt: its first look asks the contact stamp instead (`_check_primary`).
            self._break_in_doubt = (
                self._after_break
                and math.isfinite(self._break_since)
                and self._break_since < doubted_until
            )
            now = time.time()
            self._breaks.append((self._break_since, now))
            self._break_since = None
            # Only breaks a scan still stored can have lived through matter.
            horizon = now - self.config.result_ttl - self.config.stall_timeout
            self._breaks = [b for b in self._breaks if b[1] >= horizon]
        self._last_contact = time.monotonic()
