"""Generated fault schedules: what the explorer draws, and how it becomes a `Scenario`.

A schedule is a setup (the cluster's seed, how long strategies take, which ones hang) and a list
of actions. Each action waits a gap after the previous one, then does one thing: start a scan,
poll one, ask for a user's latest scan, restart a worker, take Redis down for a while, let
the Redis replica fall behind, fail the primary over to the replica, drop a column. Gaps come
in small steps and in steps that cross the service's own durations (memory TTL + cleanup
period, stall timeout, scan budget, worker timeout, result TTL), so a schedule reaches every
phase of a scan's life in a handful of actions.

Nothing here knows about the planted regressions: the same generator serves every run.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TypedDict, TypeVar

from hypothesis import strategies as st

from harness.scenario import (
    DropColumn,
    Fault,
    Latest,
    Poll,
    RedisFailover,
    RedisOutage,
    ReplicaLag,
    RestartWorker,
    Scenario,
    Start,
    Step,
)
from reference_impl import ServiceConfig, StrategyProfile
from reference_impl.performance import OPTIONAL_COLUMNS

USERS: tuple[str, ...] = ("alice", "bob", "carol")
WORKERS = 3
#: how many rounds a poll makes, and how many seconds apart (40 rounds 10 s apart outlive a TTL)
ROUNDS: tuple[int, ...] = (1, 5, 15, 40)
EVERY: tuple[float, ...] = (1.0, 2.0, 5.0, 10.0)
OUTAGES: tuple[float, ...] = (3.0, 10.0, 40.0, 200.0)
#: how long the replica lags; after a failover's primary death, when Sentinel promotes the
#: replica, and how much later the old primary rejoins as its replica
LAGS: tuple[float, ...] = (3.0, 10.0, 40.0)
PROMOTIONS: tuple[float, ...] = (1.0, 5.0)
REJOINS: tuple[float, ...] = (2.0, 10.0, 30.0)
#: how long before a failover its replica stopped receiving writes (resumed as it is promoted):
#: a failover often follows replication trouble, and then it loses what the lag held back
BEHIND: tuple[float, ...] = (0.0, 30.0, 120.0)
#: what happens as Redis comes back: nothing; every scan begun before is polled by its owner
#: (as clients retry once the 503s stop); or that, and an idle worker restarted first (as an
#: orchestrator replaces workers whose health checks failed during the outage)
HEALS: tuple[str, ...] = ("quiet", "retry", "restart")
#: the retries after a heal: this long after Redis is back, `HEAL_ROUNDS` rounds a second apart
HEAL_DELAY = 0.5
HEAL_ROUNDS = 5
#: seconds between the retries after a failover's promotion: five of them outlast the workers'
#: doubt about what the promotion lost (twice the heartbeat interval, by default)
FAILOVER_RETRY_EVERY = 4.0
#: seconds a strategy takes; the last one outruns the scan budget over 14 strategies
STRATEGY_SECONDS: tuple[float, ...] = (2.0, 0.5, 12.0)
#: scenario time after the last action, so that what it set going is observed
TAIL = 1.0


def gaps(config: ServiceConfig) -> tuple[float, ...]:
    """Time steps between actions: small ones, then ones that cross each service duration."""
    c = config
    return (
        0.0,
        1.0,
        2.0,
        5.0,
        c.memory_ttl + c.cleanup_interval + 1.0,
        c.stall_timeout + c.heartbeat_interval + 1.0,
        c.scan_budget + 10.0,
        c.worker_timeout + 5.0,
        c.result_ttl - 10.0,
        c.result_ttl + c.memory_ttl + c.cleanup_interval + 5.0,
    )


def gap_class(gap: float, config: ServiceConfig) -> str:
    """The longest service duration a gap crosses, for the coverage signal."""
    c = config
    crossed = [
        (c.result_ttl + c.memory_ttl + c.cleanup_interval, "across result TTL"),
        (c.result_ttl - 10.0, "just under result TTL"),
        (c.worker_timeout, "across worker timeout"),
        (c.scan_budget, "across scan budget"),
        (c.stall_timeout + c.heartbeat_interval, "across stall timeout"),
        (c.memory_ttl + c.cleanup_interval, "across memory TTL + cleanup"),
    ]
    for limit, name in crossed:
        if gap >= limit:
            return name
    return "none" if gap == 0 else "small"


@dataclass(frozen=True)
class Begin:
    """`user` starts a scan on `worker` (None: through the load balancer)."""

    gap: float
    user: str
    worker: int | None


class _Window(TypedDict):
    start: float
    until: float
    every: float
    fanout: int


class _Repeats:
    """A step repeated `rounds` times, `every` seconds apart, `fanout` requests a round."""

    rounds: int
    every: float
    fanout: int

    @property
    def span(self) -> float:
        return (self.rounds - 1) * self.every

    def window(self, now: float) -> _Window:
        """The repetition as the scenario step placed at `now` takes it."""
        return _Window(start=now, until=now + self.span, every=self.every, fanout=self.fanout)


@dataclass(frozen=True)
class Watch(_Repeats):
    """Poll a started scan (picked by index) as its owner or as another user."""

    gap: float
    scan: int
    other_user: bool
    worker: int | None
    fanout: int
    rounds: int
    every: float


@dataclass(frozen=True)
class AskLatest(_Repeats):
    """Ask for a user's latest scan: `user`'s, or (with `of_scan`) the owner's of a started scan
    picked by index, as a client does that found its scan through `latest`."""

    gap: float
    user: str
    fanout: int
    rounds: int
    every: float
    of_scan: int | None = None


@dataclass(frozen=True)
class Restart:
    """Restart a worker by index, the worker running a started scan (picked by index), or, with
    `idle`, the first worker running no scan (as an orchestrator restarts unhealthy workers)."""

    gap: float
    worker: int | None
    scan: int | None
    idle: bool = False


@dataclass(frozen=True)
class Outage:
    """Redis down for `duration`; `heal` (one of `HEALS`) says what meets its return."""

    gap: float
    duration: float
    heal: str = "quiet"


@dataclass(frozen=True)
class Lag:
    """The Redis replica receives no writes for `duration`."""

    gap: float
    duration: float


@dataclass(frozen=True)
class Failover:
    """The Redis primary dies; the replica is promoted `promote_after` later and the old
    primary rejoins `rejoin` after that; `heal` as for an outage, met at the promotion. The
    replica had stopped receiving writes `behind` seconds before the primary died."""

    gap: float
    promote_after: float
    rejoin: float
    heal: str = "quiet"
    behind: float = 0.0


@dataclass(frozen=True)
class Drop:
    gap: float
    column: str


Action = Begin | Watch | AskLatest | Restart | Outage | Lag | Failover | Drop


@dataclass(frozen=True)
class Setup:
    """What holds for the whole run: the cluster's seed and the strategies' timing."""

    seed: int = 0
    seconds: float = 2.0
    hang: frozenset[int] = frozenset()

    @property
    def profile(self) -> StrategyProfile:
        return StrategyProfile(seconds=self.seconds, hang=self.hang)


@dataclass(frozen=True)
class Schedule:
    setup: Setup
    actions: tuple[Action, ...] = field(default=())


def schedules(
    config: ServiceConfig | None = None, max_actions: int = 12
) -> st.SearchStrategy[Schedule]:
    """The Hypothesis strategy every exploration draws from; it shrinks toward short, quiet runs."""
    cfg = config or ServiceConfig()
    steps = gaps(cfg)
    # Small steps twice as often as long ones: long ones make long (slow) runs.
    gap = st.sampled_from(steps + tuple(g for g in steps if g < cfg.stall_timeout))
    worker = st.none() | st.integers(0, WORKERS - 1)
    user = st.sampled_from(USERS)
    rounds = st.sampled_from(ROUNDS)
    every = st.sampled_from(EVERY)
    fanout = st.integers(1, WORKERS)
    scan = st.integers(0, 7)

    kinds: dict[str, st.SearchStrategy[Action]] = {
        "begin": st.builds(Begin, gap=gap, user=user, worker=worker),
        "watch": st.builds(
            Watch,
            gap=gap,
            scan=scan,
            other_user=st.booleans(),
            worker=worker,
            fanout=fanout,
            rounds=rounds,
            every=every,
        ),
        "latest": st.builds(
            AskLatest,
            gap=gap,
            user=user,
            fanout=fanout,
            rounds=rounds,
            every=every,
            of_scan=st.none() | scan,
        ),
        "restart": st.builds(
            Restart,
            gap=gap,
            worker=st.none() | st.integers(0, WORKERS - 1),
            scan=scan,
            idle=st.booleans(),
        ).map(lambda r: r if r.worker is None and not r.idle else replace(r, scan=None)),
        "outage": st.builds(
            Outage, gap=gap, duration=st.sampled_from(OUTAGES), heal=st.sampled_from(HEALS)
        ),
        "lag": st.builds(Lag, gap=gap, duration=st.sampled_from(LAGS)),
        "failover": st.builds(
            Failover,
            gap=gap,
            promote_after=st.sampled_from(PROMOTIONS),
            rejoin=st.sampled_from(REJOINS),
            heal=st.sampled_from(HEALS),
            behind=st.sampled_from(BEHIND),
        ),
        "drop": st.builds(Drop, gap=gap, column=st.sampled_from(OPTIONAL_COLUMNS)),
    }
    # Scans and polls are drawn more often than faults: a fault only shows through them.
    # Outages twice: the moment Redis heals is where scans' copies disagree most. Failovers
    # twice: one after a lag is where writes the primary acknowledged are lost.
    weighted = (
        *("begin", "watch", "begin", "watch", "watch", "latest", "latest"),
        *("restart", "outage", "outage", "lag", "failover", "failover", "drop"),
    )
    action = st.sampled_from(weighted).flatmap(lambda kind: kinds[kind])
    setup = st.builds(
        Setup,
        seed=st.integers(0, 2**16),
        seconds=st.sampled_from(STRATEGY_SECONDS),
        # Most schedules need scans that finish; one in four has strategies that hang.
        hang=st.one_of(
            st.just(frozenset[int]()),
            st.just(frozenset[int]()),
            st.just(frozenset[int]()),
            st.frozensets(st.integers(0, cfg.strategies - 1), min_size=1, max_size=2),
        ),
    )
    actions = st.lists(action, min_size=2, max_size=max_actions).map(tuple)
    return st.builds(Schedule, setup=setup, actions=actions)


@dataclass(frozen=True)
class Placed:
    """One action of a schedule at its scenario time, with what it became in the scenario.

    `healing`: a step or fault an outage's `heal` added as Redis came back, not an action of
    its own."""

    at: float
    action: Action
    item: Step | Fault | None
    healing: bool = False


def _heal(action: Outage | Failover, now: float, begun: list[str]) -> list[Placed]:
    """What meets Redis's return after `action` (placed at `now`), for the scans begun so far:
    the end of an outage, a failover's promotion."""
    if action.heal == "quiet":
        return []
    end = now + (action.duration if isinstance(action, Outage) else action.promote_after)
    healed: list[Placed] = []
    if action.heal == "restart":
        healed.append(Placed(end, action, RestartWorker(at=end, idle=True), healing=True))
    start = end + HEAL_DELAY
    # After a promotion the workers answer 503 while they doubt what it lost; clients retry
    # for longer than that, so the retries see what the failover left.
    every = 1.0 if isinstance(action, Outage) else FAILOVER_RETRY_EVERY
    for label in begun:
        poll = Poll(
            scan=label,
            start=start,
            until=start + (HEAL_ROUNDS - 1) * every,
            every=every,
            fanout=WORKERS,
        )
        healed.append(Placed(start, action, poll, healing=True))
    return healed


def place(schedule: Schedule) -> list[Placed]:
    """Each action at its scenario time, turned into a scenario step or fault (None: no-op).

    A poll or restart names a started scan by index, modulo the scans the schedule starts, so
    every schedule (and every shrunk one) stays a valid scenario.
    """
    starts = [a for a in schedule.actions if isinstance(a, Begin)]
    labels = [f"s{i + 1}" for i in range(len(starts))]
    owner = {label: a.user for label, a in zip(labels, starts, strict=True)}
    placed: list[Placed] = []
    now = 0.0
    begun = 0
    dropped: set[str] = set()
    failed_over_until = 0.0
    for action in schedule.actions:
        now += action.gap
        item: Step | Fault | None = None
        if isinstance(action, Begin):
            item = Start(at=now, user=action.user, scan=labels[begun], worker=action.worker)
            begun += 1
        elif isinstance(action, Watch) and labels:
            label = labels[action.scan % len(labels)]
            user = None
            if action.other_user:
                user = USERS[(USERS.index(owner[label]) + 1) % len(USERS)]
            item = Poll(scan=label, user=user, worker=action.worker, **action.window(now))
        elif isinstance(action, AskLatest):
            asker = action.user
            if action.of_scan is not None and labels:
                asker = owner[labels[action.of_scan % len(labels)]]
            item = Latest(user=asker, **action.window(now))
        elif isinstance(action, Restart):
            if action.idle and action.worker is None:
                item = RestartWorker(at=now, idle=True)
            elif action.worker is not None:
                item = RestartWorker(at=now, worker=action.worker)
            elif labels and action.scan is not None:
                item = RestartWorker(at=now, scan=labels[action.scan % len(labels)])
        elif isinstance(action, Outage):
            item = RedisOutage(at=now, duration=action.duration)
            placed.append(Placed(now, action, item))
            placed.extend(_heal(action, now, labels[:begun]))
            continue
        elif isinstance(action, Lag):
            item = ReplicaLag(at=now, duration=action.duration)
        elif isinstance(action, Failover):
            if now < failed_over_until:
                placed.append(Placed(now, action, None))  # the primary is not whole yet
                continue
            rejoin_after = action.promote_after + action.rejoin
            failed_over_until = now + rejoin_after
            item = RedisFailover(
                at=now, promote_after=action.promote_after, rejoin_after=rejoin_after
            )
            placed.append(Placed(now, action, item))
            if action.behind > 0:
                since = max(0.0, now - action.behind)
                lag = ReplicaLag(at=since, duration=now + action.promote_after - since)
                placed.append(Placed(now, action, lag))
            placed.extend(_heal(action, now, labels[:begun]))
            continue
        elif isinstance(action, Drop) and action.column not in dropped:
            # A column is dropped once; a second drop of it is a no-op.
            dropped.add(action.column)
            item = DropColumn(at=now, column=action.column)
        placed.append(Placed(now, action, item))
    return placed


_Span = TypeVar("_Span", RedisOutage, ReplicaLag)


def _merge_windows(windows: list[_Span]) -> list[_Span]:
    # Redis is either down or up, its replica behind or not: overlapping windows are one.
    merged: list[_Span] = []
    for window in sorted(windows, key=lambda o: o.at):
        if merged and window.at <= merged[-1].at + merged[-1].duration:
            last = merged[-1]
            end = max(last.at + last.duration, window.at + window.duration)
            merged[-1] = replace(last, duration=end - last.at)
        else:
            merged.append(window)
    return merged


def to_scenario(
    schedule: Schedule,
    *,
    name: str = "explored",
    description: str = "a schedule generated by the explorer",
    catches: tuple[str, ...] = (),
) -> Scenario:
    """The schedule as a scenario the runner (and a written script) plays."""
    placed = place(schedule)
    steps: list[Step] = []
    faults: list[Fault] = []
    outages: list[RedisOutage] = []
    lags: list[ReplicaLag] = []
    end = 0.0
    for p in placed:
        if isinstance(p.item, (Start, Poll, Latest)):
            steps.append(p.item)
        elif isinstance(p.item, RedisOutage):
            outages.append(p.item)
        elif isinstance(p.item, ReplicaLag):
            lags.append(p.item)
        elif p.item is not None:
            faults.append(p.item)
        end = max(end, p.at, *(getattr(p.item, "until", p.at),))
        if isinstance(p.item, (RedisOutage, ReplicaLag)):
            end = max(end, p.item.at + p.item.duration)
        if isinstance(p.item, RedisFailover):
            end = max(end, p.item.at + p.item.rejoin_after)
    faults.extend(_merge_windows(outages))
    faults.extend(_merge_windows(lags))
    faults.sort(key=lambda f: f.at)
    return Scenario(
        name=name,
        description=description,
        duration=end + TAIL,
        steps=tuple(steps),
        faults=tuple(faults),
        workers=WORKERS,
        catches=catches,
        profile=schedule.setup.profile,
    )
