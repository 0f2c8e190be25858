"""Generated fault schedules: what the explorer draws, and how it becomes a `Scenario`.

A schedule is a setup (the cluster's seed, how long strategies take, which ones hang) and a list
of actions. Each action waits a gap after the previous one, then does one thing: start a scan,
poll one, ask for a user's latest scan, restart a worker, take Redis down for a while, let
the Redis replica fall behind, fail the primary over to the replica, drop a column. Gaps come
in small steps and in steps that cross the service's own durations (memory TTL + cleanup
period, stall timeout, scan budget, worker timeout, result TTL), so a schedule reaches every
phase of a scan's life in a handful of actions.

Nothing here knows about the planted regressions: the same generator serves every run. How a
schedule's actions land at scenario times is `harness.explore.placement`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypedDict

from hypothesis import strategies as st

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
#: (600: the replica was cut off from the start, so every terminal write is at stake)
BEHIND: tuple[float, ...] = (0.0, 30.0, 120.0, 600.0)
#: what happens as Redis comes back: nothing; every scan begun before is polled by its owner
#: (as clients retry once the 503s stop); or that, and an idle worker restarted first (as an
#: orchestrator replaces workers whose health checks failed during the outage)
HEALS: tuple[str, ...] = ("quiet", "retry", "restart")
#: an outage's heal, drawn with a restart twice as often: an outage longer than the stall
#: timeout that ends as workers are replaced is where two workers decide a scan's end (the
#: fresh one, blind to the outage, judges it stalled while its own worker is about to write)
OUTAGE_HEALS: tuple[str, ...] = (*HEALS, "restart")
#: a followed restart's polls, `FOLLOW_EVERY` seconds apart: longer than the scan budget plus
#: the stall timeout, so a scan whose worker died is seen either to end or not to
FOLLOW_ROUNDS = 40
FOLLOW_EVERY = 5.0
#: seconds a strategy takes; the last one outruns the scan budget over 14 strategies
STRATEGY_SECONDS: tuple[float, ...] = (2.0, 0.5, 12.0)


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
    `idle`, the first worker running no scan (as an orchestrator restarts unhealthy workers).

    With `follow`, the owner of the scan whose worker died keeps polling it, as a client
    waiting for its result does, until past the longest a scan may take (`FOLLOW_ROUNDS`)."""

    gap: float
    worker: int | None
    scan: int | None
    idle: bool = False
    follow: bool = False


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
        # Half the restarts kill the worker running a started scan: the one that orphans it;
        # half of those are followed by its owner, who waits for the scan to end.
        "restart": st.one_of(
            st.builds(Restart, gap=gap, worker=st.none(), scan=scan),
            st.builds(Restart, gap=gap, worker=st.none(), scan=scan, follow=st.just(True)),
            st.builds(Restart, gap=gap, worker=st.integers(0, WORKERS - 1), scan=st.none()),
            st.builds(Restart, gap=gap, worker=st.none(), scan=st.none(), idle=st.just(True)),
        ),
        "outage": st.builds(
            Outage, gap=gap, duration=st.sampled_from(OUTAGES), heal=st.sampled_from(OUTAGE_HEALS)
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
    # Restarts twice: a scan whose worker dies must still end. Failovers twice: one after a lag
    # is where writes the primary acknowledged are lost. Outages twice: one must meet a running
    # scan, last past the stall timeout and end as a worker is replaced to set two workers
    # deciding its end.
    weighted = (
        *("begin", "watch", "begin", "watch", "watch", "latest", "latest"),
        *("restart", "restart", "outage", "outage", "lag", "failover", "failover", "drop"),
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
