"""Invariants about whether a scan can be found: reachable, latest, terminates, expires."""

from __future__ import annotations

from bisect import bisect_left

from harness.checker._common import after, before, describe, name, ordered, violation
from harness.checker.model import READS, SHOWN, Context, ScanFacts, Violation
from harness.history import Operation


def _window_contains(ctx: Context, facts: ScanFacts, op: Operation) -> bool:
    """Is `op` inside the scan's reachable window: after its first showing, before its TTL?"""
    shown = facts.shown()
    horizon = facts.horizon(ctx.timing)
    if shown is None or horizon is None:
        return False
    return after(op, shown.end, ctx) and before(op, horizon, ctx)


def _latest_not_found_owner(ctx: Context, op: Operation) -> ScanFacts | None:
    """The scan a `latest` answered `not_found` (naming no scan) should have shown: the newest
    of the user's scans whose reachable window holds the read."""
    inside = [
        f
        for f in ctx.by_owner.get(op.user, [])
        if _window_contains(ctx, f, op) and not ctx.exempt_as_lost(f, op)
    ]
    return max(inside, key=lambda f: (f.began() or 0.0, f.scan_id)) if inside else None


#: the statuses `_unreachable` may judge unreachable (every other answer reached the scan)
_UNREACHABLE = frozenset({"not_found", "unavailable", "lost"})


def _unreachable(ctx: Context, op: Operation) -> bool:
    """`not_found`, always; `unavailable` outside every Redis fault and its grace; a dropped
    connection outside every fault window."""
    status = op.reply.status
    if status == "unavailable":
        return not ctx.in_redis_fault(op)
    if status == "lost":
        return not ctx.in_any_fault(op)
    return status == "not_found"


def reachable_until_expiry(ctx: Context) -> list[Violation]:
    witnesses: dict[str, list[Operation]] = {}
    for facts in ctx.scans.values():
        for op in facts.owner_reads():
            if (
                op.reply.status in _UNREACHABLE
                and _unreachable(ctx, op)
                and _window_contains(ctx, facts, op)
                and not ctx.exempt_as_lost(facts, op)
            ):
                witnesses.setdefault(facts.scan_id, []).append(op)
    for user_ops in ctx.anonymous_latest.values():
        for op in user_ops:
            if not _unreachable(ctx, op):
                continue
            owner = _latest_not_found_owner(ctx, op)
            if owner is not None:
                witnesses.setdefault(owner.scan_id, []).append(op)
    found: list[Violation] = []
    for scan_id, ops in witnesses.items():
        facts = ctx.scans[scan_id]
        w = ordered(ops)
        first = w[0]
        done = facts.completion()
        shown = facts.shown()
        assert shown is not None  # a witness is inside the window that begins with it
        horizon = facts.horizon(ctx.timing) or 0.0
        if done is not None and first.start >= done:
            message = (
                f"{name(facts)} was {facts_result(facts)} at {done:.1f} s, then "
                f"{describe(first)}, {first.end - done:.1f} s after completion "
                f"(result TTL until {horizon:.1f} s)"
            )
            found.append(violation("reachable-until-expiry", scan_id, w, message, done))
        else:
            message = (
                f"{name(facts)} was shown at {shown.end:.1f} s ({describe(shown)}), then "
                f"{describe(first)} before it ended (it must stay reachable until "
                f"{horizon:.1f} s; a scan whose worker died reads failed, it does not vanish)"
            )
            found.append(violation("reachable-until-expiry", scan_id, w, message))
    return found


def facts_result(facts: ScanFacts) -> str:
    first = facts.first_terminal()
    return first.reply.status if first is not None else "terminal"


def latest_is_newest(ctx: Context) -> list[Violation]:
    """`latest` names the newest of the user's scans begun before the read and not expired.

    A scan counts as begun once a reply carried its service start time; two scans begun within
    the clock slack of each other are both acceptable answers.
    """
    slack = ctx.timing.slack
    found: list[Violation] = []
    for user, scans in ctx.by_owner.items():
        latest_ops = [
            op
            for facts in scans
            for op in facts.ops
            if op.op == "latest" and op.user == user and op.reply.status in SHOWN
        ]
        latest_ops += [
            op for op in ctx.anonymous_latest.get(user, []) if op.reply.status in ("not_found",)
        ]
        witnesses: list[Operation] = []
        expected_of: dict[int, ScanFacts] = {}
        begun = _Begun(ctx, scans) if latest_ops else None
        for op in latest_ops:
            newest = begun.newest(op) if begun is not None else None
            if newest is None:
                continue
            newest_began = newest.service_began() or 0.0
            if op.reply.status == "not_found":
                witnesses.append(op)
                expected_of[op.index] = newest
                continue
            answered = ctx.scans.get(op.scan_id or "")
            answered_began = op.reply.started_at
            if answered_began is None and answered is not None:
                answered_began = answered.began()
            if answered is newest or answered_began is None:
                continue
            if answered_began < newest_began - slack:
                witnesses.append(op)
                expected_of[op.index] = newest
        if witnesses:
            w = ordered(witnesses)
            newest = expected_of[w[0].index]
            message = (
                f"latest for {user}: {describe(w[0])} (scan {w[0].scan_id or 'none'}), but "
                f"{name(newest)} had begun at {newest.service_began() or 0.0:.1f} s and "
                f"had not expired"
            )
            found.append(violation("latest-is-newest", w[0].scan_id, w, message))
    return found


class _Begun:
    """A user's scans the service began, by (began, scan id), for `latest` reads to look up."""

    def __init__(self, ctx: Context, scans: list[ScanFacts]) -> None:
        ranked = []
        for facts in scans:
            began = facts.service_began()
            horizon = facts.horizon(ctx.timing)
            if began is not None and horizon is not None:
                ranked.append((began, facts.scan_id, horizon, facts))
        ranked.sort(key=lambda item: item[:2])
        self.ctx = ctx
        self.began = [item[0] for item in ranked]
        self.ranked = ranked

    def newest(self, op: Operation) -> ScanFacts | None:
        """The newest of them begun before `op` and not expired when it ended: walked from the
        newest down, the first that qualifies is the one (usually the first looked at)."""
        ctx = self.ctx
        i = bisect_left(self.began, op.start - ctx.timing.slack) - 1
        while i >= 0:
            _, _, horizon, facts = self.ranked[i]
            if before(op, horizon, ctx) and not ctx.exempt_as_lost(facts, op):
                return facts
            i -= 1
        return None


def terminates(ctx: Context) -> list[Violation]:
    """Every started scan is *seen* terminal by its deadline: never `scanning` after it, and
    never gone (`not_found`) without having ended."""
    t = ctx.timing
    found: list[Violation] = []
    for facts, started in ctx.having(ScanFacts.began):
        deadline = started + t.scan_budget + t.stall_timeout + t.heartbeat_interval
        deadline += t.cleanup_interval + t.slack
        deadline += ctx.redis_fault_seconds(started, deadline)
        first = facts.first_terminal()
        seen_terminal = first.end if first is not None and first.end <= deadline else None
        horizon = facts.horizon(t) or deadline
        # The owner's reads only: another user is told `not_found` whatever the scan's state
        # (`isolated` judges those).
        witnesses = [
            op
            for op in facts.owner_reads()
            if op.start > deadline
            and not ctx.exempt_as_lost(facts, op)
            and (
                op.reply.status == "scanning"
                or (
                    op.reply.status == "not_found"
                    and seen_terminal is None
                    and first is None
                    and op.end < horizon - t.slack
                )
            )
        ]
        if witnesses:
            w = ordered(witnesses)
            gone = w[0].reply.status == "not_found"
            message = (
                f"{name(facts)} started at {started:.1f} s should be terminal by "
                f"{deadline:.1f} s, but {describe(w[0])}"
                + (": gone without ever ending" if gone else "")
            )
            found.append(violation("terminates", facts.scan_id, w, message))
    return found


def expires_after_ttl(ctx: Context) -> list[Violation]:
    t = ctx.timing
    found: list[Violation] = []
    margin = t.result_ttl + t.memory_ttl + t.cleanup_interval + t.slack

    def gone_by(facts: ScanFacts, done: float, op: Operation) -> float:
        # A result lost by fault may be followed by one the service recorded anew (a stalled
        # copy judged failed): what a read after the loss shows expires from its own end.
        ended = op.reply.finished_at
        if ended is not None and ended > done and ctx.exempt_as_lost(facts, op):
            return ended + margin
        return done + margin

    for facts, done in ctx.having(ScanFacts.completion):
        soonest = done + margin  # `gone_by` is never sooner: most reads are told by this alone
        witnesses = [
            op
            for op in facts.ops
            if op.start > soonest
            and op.op in READS
            and op.start > gone_by(facts, done, op)
            and op.reply.status in SHOWN
        ]
        if witnesses:
            w = ordered(witnesses)
            message = (
                f"{name(facts)} completed at {done:.1f} s and should be gone by "
                f"{gone_by(facts, done, w[0]):.1f} s, but {describe(w[0])}"
            )
            found.append(violation("expires-after-ttl", facts.scan_id, w, message, done))
    return found
