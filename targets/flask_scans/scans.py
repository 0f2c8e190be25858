"""The scan manager: runs a scan, keeps it in Redis and in this worker's memory, cleans up.

Redis layout. A scan's keys are written together, in one MULTI, with the same TTL
(`result_ttl` from each write, so the final write refreshes them all):

| key | value |
| --- | --- |
| `scans:idx:{scan_id}` | the scan's job id: the shared index every worker looks a scan up by |
| `scans:job:{job_id}` | the job document (JSON): state, progress, heartbeat, times, signals |
| `scans:user:{user}:recent` | sorted set of the user's scan ids by start time (for *latest*) |

A job document is never overwritten once it is final (`done`, `stopped_early`, `error`): the
write is a WATCH/MULTI compare-and-set, so a worker that judged a silent scan lost and the scan's
own late write cannot both win.

Each worker keeps its own copies (index and job) for `memory_ttl`. A final copy is served from
memory (it cannot be older than Redis's); a running one is always read from Redis, and memory is
only the fallback while Redis is unreachable. With neither, the caller gets `BackendUnavailable`.

The cleanup (one daemon thread per worker, see `app.CleanupThread`) drops expired memory copies,
retries final writes Redis did not take, and pings Redis. With `cleanup_bug` it also deletes the
Redis index of every scan whose memory copy expired, having looked only at its memory: the
incident, after which every worker answers 404 for a result that is still in Redis.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, Literal, TypeVar

import redis
from redis.exceptions import RedisError, WatchError
from sqlalchemy.exc import SQLAlchemyError

from .settings import Settings
from .strategies import Clock, MarketFeed, StrategyData, strategy_names

log = logging.getLogger(__name__)

State = Literal["running", "done", "stopped_early", "error"]
FINAL_STATES: frozenset[str] = frozenset({"done", "stopped_early", "error"})

_SCAN_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
_JOB_ID = re.compile(r"[0-9a-f]{16}")
_USER = re.compile(r"[A-Za-z0-9_.@-]{1,64}")

_T = TypeVar("_T")


def valid_scan_id(value: str) -> bool:
    return bool(_SCAN_ID.fullmatch(value))


def valid_user(value: str) -> bool:
    return bool(_USER.fullmatch(value))


def _checked(pattern: re.Pattern[str], value: str, what: str) -> str:
    if not pattern.fullmatch(value):
        raise ValueError(f"refusing to build a Redis key from a malformed {what}: {value!r}")
    return value


def idx_key(scan_id: str) -> str:
    return f"scans:idx:{_checked(_SCAN_ID, scan_id, 'scan id')}"


def job_key(job_id: str) -> str:
    return f"scans:job:{_checked(_JOB_ID, job_id, 'job id')}"


def recent_key(user: str) -> str:
    return f"scans:user:{_checked(_USER, user, 'user')}:recent"


class BackendUnavailable(Exception):
    """Redis could not be reached and this worker holds no copy it may answer with."""


@dataclass(frozen=True)
class Job:
    scan_id: str
    job_id: str
    owner: str
    state: State
    completed: int
    total: int
    started_at: float
    heartbeat_at: float
    finished_at: float | None = None
    reason: str | None = None
    signals: tuple[dict[str, Any], ...] = ()

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES

    def to_json(self) -> str:
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["signals"] = list(self.signals)
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> Job:
        data = json.loads(raw)
        data["signals"] = tuple(data.get("signals", ()))
        return cls(**data)

    def public(self) -> dict[str, Any]:
        """The job as the API shows it."""
        return {
            "id": self.scan_id,
            "owner": self.owner,
            "state": self.state,
            "progress": {"completed": self.completed, "total": self.total},
            "reason": self.reason,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "heartbeat_at": self.heartbeat_at,
            "signals": list(self.signals),
        }


@dataclass(frozen=True)
class Outcome:
    """How a scan ended, for the request that ran it: `saved` is False when Redis never took
    its final write (the cleanup keeps retrying it)."""

    job: Job
    saved: bool


class SystemClock:
    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def _ended(job: Job) -> bool:
    # A function, not `job.final` inline: the heartbeat replaces the job while a strategy waits.
    return job.final


def _text(value: object) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


class ScanManager:
    """One worker's scans: its Redis client, its memory copies, its cleanup."""

    def __init__(
        self,
        settings: Settings,
        client: redis.Redis,
        data: StrategyData,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        self._redis = client
        self._data = data
        self._clock: Clock = clock or SystemClock()
        self._feed = MarketFeed(settings.strategy_seconds, settings.hang_strategies, self._clock)
        self._names = strategy_names(settings.strategies)
        self._lock = threading.Lock()
        #: scan id -> (job id, expires at)
        self._idx: dict[str, tuple[str, float]] = {}
        #: job id -> (job, expires at)
        self._jobs: dict[str, tuple[Job, float]] = {}
        #: final jobs Redis has not taken yet, by job id: the cleanup retries them
        self._unsaved: dict[str, Job] = {}
        #: whether the last Redis call failed, and when Redis last came back after failing
        self._redis_down = False
        self._redis_back_at = 0.0

    # -- running a scan -------------------------------------------------------------------

    def run_scan(self, owner: str) -> Outcome:
        """Start a scan for `owner` and run it to its end, inside the calling request.

        Raises `BackendUnavailable` when the scan cannot even be registered."""
        s = self.settings
        now = self._clock.time()
        job = Job(
            scan_id=str(uuid.uuid4()),
            job_id=secrets.token_hex(8),
            owner=owner,
            state="running",
            completed=0,
            total=len(self._names),
            started_at=now,
            heartbeat_at=now,
        )
        job = self._save(job)
        self._remember(job)
        log.info("scan %s started for %s", job.scan_id, owner)
        deadline = now + s.scan_budget
        current = job

        def beat() -> None:
            nonlocal current
            current = self._progress(replace(current, heartbeat_at=self._clock.time()))

        for index, name in enumerate(self._names):
            if _ended(current):
                return Outcome(current, saved=True)  # another worker ended it meanwhile
            if self._clock.time() >= deadline:
                return self._finish(current, "stopped_early", "scan budget exhausted")
            came = self._feed.fetch(
                index, deadline=deadline, beat=beat, beat_every=s.heartbeat_interval
            )
            if _ended(current):  # a heartbeat found it ended
                return Outcome(current, saved=True)
            if not came:
                return self._finish(current, "stopped_early", "scan budget exhausted")
            try:
                signals = self._data.signals_for(name)
            except SQLAlchemyError:
                log.exception("strategy %s failed", name)
                return self._finish(current, "error", f"strategy {name} failed")
            current = replace(
                current,
                completed=current.completed + 1,
                heartbeat_at=self._clock.time(),
                signals=current.signals + tuple(signals),
            )
            if current.completed < current.total:
                current = self._progress(current)
        return self._finish(current, "done", None)

    def _progress(self, job: Job) -> Job:
        """Write a running job's progress; an outage only delays it (the next write catches up).
        Returns what the scan now is: another worker may have ended it."""
        try:
            stored = self._save(job)
        except BackendUnavailable:
            log.warning("scan %s: progress not saved, Redis unavailable", job.scan_id)
            return job
        self._remember(stored)
        return stored

    def _finish(self, job: Job, state: State, reason: str | None) -> Outcome:
        """Save the final job, waiting for Redis to come back if needed, but not past the point
        where Gunicorn would kill the worker: then the cleanup thread keeps retrying."""
        s = self.settings
        now = self._clock.time()
        job = replace(job, state=state, reason=reason, finished_at=now, heartbeat_at=now)
        give_up_at = job.started_at + s.worker_timeout - 2 * s.cleanup_interval
        while True:
            try:
                stored = self._save(job)
            except BackendUnavailable:
                if self._clock.time() + s.cleanup_interval >= give_up_at:
                    with self._lock:
                        self._unsaved[job.job_id] = job
                    log.error("scan %s ended but is not saved yet", job.scan_id)
                    return Outcome(job, saved=False)
                self._clock.sleep(s.cleanup_interval)
                continue
            self._remember(stored)
            log.info("scan %s ended: %s", stored.scan_id, stored.state)
            return Outcome(stored, saved=True)

    # -- reading --------------------------------------------------------------------------

    def get_scan(self, user: str, scan_id: str) -> Job | None:
        """`user`'s scan `scan_id`, or None (never existed, expired, or someone else's)."""
        cached = self._memory(scan_id)
        if cached is not None and cached.final:
            return cached if cached.owner == user else None
        try:
            raw = self._find(scan_id)
        except BackendUnavailable:
            if cached is not None:
                return cached if cached.owner == user else None
            raise
        if raw is None:
            self._forget(scan_id)
            return None
        job = Job.from_json(raw)
        if job.scan_id != scan_id or job.owner != user:
            return None
        job = self._judge(job)
        self._remember(job)
        return job

    def latest_scan(self, user: str) -> Job | None:
        """The newest of `user`'s scans that Redis still holds."""
        key = recent_key(user)
        members = self._call(partial(self._redis.zrevrange, key, 0, 49))
        gone: list[str] = []
        found: Job | None = None
        for member in members:
            scan_id = _text(member) or ""
            if not valid_scan_id(scan_id):
                gone.append(scan_id)
                continue
            raw = self._find(scan_id)
            if raw is None:
                gone.append(scan_id)
                continue
            job = Job.from_json(raw)
            if job.owner == user:
                found = self._judge(job)
                self._remember(found)
                break
        if gone:
            with contextlib.suppress(BackendUnavailable):
                self._call(partial(self._redis.zrem, key, *gone))
        return found

    def _judge(self, job: Job) -> Job:
        """A running job whose heartbeat stopped for `stall_timeout` lost its worker: it is
        recorded as `error`. Heartbeats missed while this worker saw Redis fail do not count,
        and no scan runs past the worker timeout (Gunicorn kills the worker first)."""
        if job.final:
            return job
        s = self.settings
        now = self._clock.time()
        silent_since = max(job.heartbeat_at, self._redis_back_at)
        outlived = now - job.started_at >= s.worker_timeout
        if not outlived and (self._redis_down or now - silent_since <= s.stall_timeout):
            return job
        log.warning("scan %s: no heartbeat since %.1f, worker lost", job.scan_id, job.heartbeat_at)
        lost = replace(job, state="error", reason="worker lost", finished_at=now)
        return self._save(lost)

    # -- cleanup ----------------------------------------------------------------------------

    def cleanup(self) -> None:
        """One cleanup pass: retry unsaved final writes, drop expired memory copies."""
        try:
            self._call(self._redis.ping)
            with self._lock:
                unsaved = list(self._unsaved.values())
            for job in unsaved:
                stored = self._save(job)
                with self._lock:
                    self._unsaved.pop(job.job_id, None)
                self._remember(stored)
                log.info("scan %s: final write repaired", job.scan_id)
        except BackendUnavailable:
            pass
        now = self._clock.time()
        with self._lock:
            expired = [sid for sid, (_, until) in self._idx.items() if until <= now]
            for scan_id in expired:
                del self._idx[scan_id]
            for job_id in [jid for jid, (_, until) in self._jobs.items() if until <= now]:
                del self._jobs[job_id]
        if self.settings.cleanup_bug:
            # The incident: "our copy expired, so the scan is done with": the shared index
            # goes too, although the job is still in Redis for other workers to read.
            for scan_id in expired:
                try:
                    self._call(partial(self._redis.delete, idx_key(scan_id)))
                except BackendUnavailable:
                    break

    # -- Redis and memory ---------------------------------------------------------------------

    def _find(self, scan_id: str) -> str | None:
        """The job document of `scan_id` through the shared index, or None."""
        job_id = _text(self._call(partial(self._redis.get, idx_key(scan_id))))
        if job_id is None or not _JOB_ID.fullmatch(job_id):
            return None
        return _text(self._call(partial(self._redis.get, job_key(job_id))))

    def _save(self, job: Job) -> Job:
        """Write the scan's keys together; returns the job Redis holds afterwards (a final job
        already there wins over `job`)."""
        s = self.settings
        ttl = s.result_ttl
        if job.finished_at is not None:
            # A repaired write keeps the result's original expiry.
            ttl = job.finished_at + s.result_ttl - self._clock.time()
            if ttl <= 0:
                return job
        px = max(1, int(ttl * 1000))
        jkey = job_key(job.job_id)
        ikey = idx_key(job.scan_id)
        rkey = recent_key(job.owner)

        def write() -> Job:
            with self._redis.pipeline(transaction=True) as pipe:
                while True:
                    try:
                        pipe.watch(jkey)  # type: ignore[no-untyped-call]
                        raw = pipe.get(jkey)
                        if raw is not None:
                            held = Job.from_json(raw)
                            if held.final:
                                pipe.unwatch()
                                return held
                        pipe.multi()
                        pipe.set(ikey, job.job_id, px=px)
                        pipe.set(jkey, job.to_json(), px=px)
                        pipe.zadd(rkey, {job.scan_id: job.started_at})
                        pipe.pexpire(rkey, px, nx=True)
                        pipe.pexpire(rkey, px, gt=True)
                        pipe.execute()
                        return job
                    except WatchError:
                        continue

        return self._call(write)

    def _call(self, command: Callable[[], _T]) -> _T:
        try:
            result = command()
        except RedisError as error:
            self._redis_down = True
            raise BackendUnavailable(str(error) or type(error).__name__) from error
        if self._redis_down:
            self._redis_down = False
            self._redis_back_at = self._clock.time()
        return result

    def _remember(self, job: Job) -> None:
        until = self._clock.time() + self.settings.memory_ttl
        if job.finished_at is not None:
            until = min(until, job.finished_at + self.settings.result_ttl)
        with self._lock:
            self._idx[job.scan_id] = (job.job_id, until)
            self._jobs[job.job_id] = (job, until)

    def _memory(self, scan_id: str) -> Job | None:
        now = self._clock.time()
        with self._lock:
            idx = self._idx.get(scan_id)
            if idx is None or idx[1] <= now:
                return None
            cached = self._jobs.get(idx[0])
            if cached is None or cached[1] <= now:
                return None
            return cached[0]

    def _forget(self, scan_id: str) -> None:
        with self._lock:
            idx = self._idx.pop(scan_id, None)
            if idx is not None:
                self._jobs.pop(idx[0], None)

    def memory_size(self) -> int:
        """How many scans this worker holds copies of (for the health endpoint)."""
        with self._lock:
            return len(self._idx)
