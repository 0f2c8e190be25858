"""Where a schedule's actions land: each at its scenario time, turned into a step or a fault,
with what a Redis heal sets going, and the whole as a `Scenario` the runner plays."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TypeVar

import harness.scenario as sc
from harness.explore.schedule import (
    FOLLOW_EVERY,
    FOLLOW_ROUNDS,
    USERS,
    WORKERS,
    Action,
    AskLatest,
    Begin,
    Drop,
    Failover,
    Lag,
    Outage,
    Restart,
    Schedule,
    Watch,
)

__all__ = ["Placed", "place", "to_scenario"]

#: the retries after a heal: this long after Redis is back, `HEAL_ROUNDS` rounds
HEAL_DELAY = 0.5
HEAL_ROUNDS = 5
#: after an outage the clients back off (seconds after the first retry): the last round comes
#: after the memory TTL and a cleanup, when no worker serves a copy it held as Redis came back,
#: so what Redis was left holding is read (a result overwritten behind the copies, say)
HEAL_BACKOFF: tuple[float, ...] = (0.0, 1.0, 3.0, 7.0, 15.0)
#: after a restart heal, one round of retries as soon as the fresh worker is up (the load
#: balancer admits it on its first health check, and clients waiting out the 503s are already
#: retrying): it asks Redis before the workers that saw the outage have repaired their writes
RESTARTED_RETRY = 0.001
#: seconds between the retries after a failover's promotion: five of them outlast the workers'
#: doubt about what the promotion lost (twice the heartbeat interval, by default)
FAILOVER_RETRY_EVERY = 4.0
#: scenario time after the last action, so that what it set going is observed
TAIL = 1.0


@dataclass(frozen=True)
class Placed:
    """One action of a schedule at its scenario time, with what it became in the scenario.

    `healing`: a step or fault an outage's `heal` added as Redis came back (or a followed
    restart's polls), not an action of its own."""

    at: float
    action: Action
    item: sc.Step | sc.Fault | None
    healing: bool = False


def _heal(action: Outage | Failover, now: float, begun: list[str]) -> list[Placed]:
    """What meets Redis's return after `action` (placed at `now`), for the scans begun so far:
    the end of an outage, a failover's promotion."""
    if action.heal == "quiet":
        return []
    end = now + (action.duration if isinstance(action, Outage) else action.promote_after)
    healed: list[Placed] = []
    restarted = action.heal == "restart"
    if restarted:
        healed.append(Placed(end, action, sc.RestartWorker(at=end, idle=True), healing=True))
    start = end + HEAL_DELAY
    for label in begun:
        if isinstance(action, Outage):
            if restarted:
                at = end + RESTARTED_RETRY
                poll = sc.Poll(scan=label, start=at, until=at, fanout=WORKERS)
                healed.append(Placed(at, action, poll, healing=True))
            for after in HEAL_BACKOFF:
                at = start + after
                poll = sc.Poll(scan=label, start=at, until=at, fanout=WORKERS)
                healed.append(Placed(at, action, poll, healing=True))
            continue
        # After a promotion the workers answer 503 while they doubt what it lost; clients
        # retry for longer than that, so the retries see what the failover left.
        poll = sc.Poll(
            scan=label,
            start=start,
            until=start + (HEAL_ROUNDS - 1) * FAILOVER_RETRY_EVERY,
            every=FAILOVER_RETRY_EVERY,
            fanout=WORKERS,
        )
        healed.append(Placed(start, action, poll, healing=True))
    return healed


def _follow(action: Restart, now: float, label: str) -> Placed:
    """The owner's polls of the scan whose worker `action` killed at `now`."""
    start = now + HEAL_DELAY
    poll = sc.Poll(
        scan=label,
        start=start,
        until=start + (FOLLOW_ROUNDS - 1) * FOLLOW_EVERY,
        every=FOLLOW_EVERY,
    )
    return Placed(start, action, poll, healing=True)


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
        item: sc.Step | sc.Fault | None = None
        if isinstance(action, Begin):
            item = sc.Start(at=now, user=action.user, scan=labels[begun], worker=action.worker)
            begun += 1
        elif isinstance(action, Watch) and labels:
            label = labels[action.scan % len(labels)]
            user = None
            if action.other_user:
                user = USERS[(USERS.index(owner[label]) + 1) % len(USERS)]
            item = sc.Poll(scan=label, user=user, worker=action.worker, **action.window(now))
        elif isinstance(action, AskLatest):
            asker = action.user
            if action.of_scan is not None and labels:
                asker = owner[labels[action.of_scan % len(labels)]]
            item = sc.Latest(user=asker, **action.window(now))
        elif isinstance(action, Restart):
            if action.idle and action.worker is None:
                item = sc.RestartWorker(at=now, idle=True)
            elif action.worker is not None:
                item = sc.RestartWorker(at=now, worker=action.worker)
            elif labels and action.scan is not None:
                label = labels[action.scan % len(labels)]
                item = sc.RestartWorker(at=now, scan=label)
                if action.follow:
                    placed.append(Placed(now, action, item))
                    placed.append(_follow(action, now, label))
                    continue
        elif isinstance(action, Outage):
            item = sc.RedisOutage(at=now, duration=action.duration)
            placed.append(Placed(now, action, item))
            placed.extend(_heal(action, now, labels[:begun]))
            continue
        elif isinstance(action, Lag):
            item = sc.ReplicaLag(at=now, duration=action.duration)
        elif isinstance(action, Failover):
            if now < failed_over_until:
                placed.append(Placed(now, action, None))  # the primary is not whole yet
                continue
            rejoin_after = action.promote_after + action.rejoin
            failed_over_until = now + rejoin_after
            item = sc.RedisFailover(
                at=now, promote_after=action.promote_after, rejoin_after=rejoin_after
            )
            placed.append(Placed(now, action, item))
            if action.behind > 0:
                since = max(0.0, now - action.behind)
                lag = sc.ReplicaLag(at=since, duration=now + action.promote_after - since)
                placed.append(Placed(now, action, lag))
            placed.extend(_heal(action, now, labels[:begun]))
            continue
        elif isinstance(action, Drop) and action.column not in dropped:
            # A column is dropped once; a second drop of it is a no-op.
            dropped.add(action.column)
            item = sc.DropColumn(at=now, column=action.column)
        placed.append(Placed(now, action, item))
    return placed


_Span = TypeVar("_Span", sc.RedisOutage, sc.ReplicaLag)


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
) -> sc.Scenario:
    """The schedule as a scenario the runner (and a written script) plays."""
    placed = place(schedule)
    steps: list[sc.Step] = []
    faults: list[sc.Fault] = []
    outages: list[sc.RedisOutage] = []
    lags: list[sc.ReplicaLag] = []
    end = 0.0
    for p in placed:
        if isinstance(p.item, (sc.Start, sc.Poll, sc.Latest)):
            steps.append(p.item)
        elif isinstance(p.item, sc.RedisOutage):
            outages.append(p.item)
        elif isinstance(p.item, sc.ReplicaLag):
            lags.append(p.item)
        elif p.item is not None:
            faults.append(p.item)
        end = max(end, p.at, *(getattr(p.item, "until", p.at),))
        if isinstance(p.item, (sc.RedisOutage, sc.ReplicaLag)):
            end = max(end, p.item.at + p.item.duration)
        if isinstance(p.item, sc.RedisFailover):
            end = max(end, p.item.at + p.item.rejoin_after)
    faults.extend(_merge_windows(outages))
    faults.extend(_merge_windows(lags))
    faults.sort(key=lambda f: f.at)
    return sc.Scenario(
        name=name,
        description=description,
        duration=end + TAIL,
        steps=tuple(steps),
        faults=tuple(faults),
        workers=WORKERS,
        catches=catches,
        profile=schedule.setup.profile,
    )
