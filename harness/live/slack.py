"""The clock slack of a live run, measured from its own history rather than assumed.

Live histories mix the client's clock (when a request was sent and answered) with the service's
(when a scan began and ended, as its replies say); both read the same host clock, but a reply
describes a moment somewhere inside the request. The checker widens each window edge by
`Timing.slack`; this module derives that figure from what the run measured:

- request latency: a read's answer reflects some moment between its send and its answer, so an
  edge is uncertain by up to a read's round trip (twice the 99th percentile, for the two ends);
- clock mapping: how far the service's own times fall outside the requests that carried them
  (a scan that claims to have begun before its start request was sent, or to have finished after
  its answer arrived);
- a floor for the workers' timer threads (`TIMER_FLOOR` wall seconds), which wake late by a
  scheduling quantum on a busy machine and leave no trace in the history.

>>> from harness.history import History, RunInfo
>>> round(measured_slack(History(RunInfo("empty")), scale=0.05), 3)
0.4
"""

from __future__ import annotations

from dataclasses import replace

import msgspec

from harness.history import History

__all__ = ["TIMER_FLOOR", "SlackMeasurement", "measure", "measured_slack", "with_measured_slack"]

#: wall seconds a worker's timer thread may wake late, which no history can show
TIMER_FLOOR = 0.02


class SlackMeasurement:
    """The parts of a run's slack, in scenario seconds."""

    def __init__(self, latency_p99: float, clock_skew: float, floor: float) -> None:
        self.latency_p99 = latency_p99
        self.clock_skew = clock_skew
        self.floor = floor

    @property
    def slack(self) -> float:
        return self.floor + 2 * self.latency_p99 + self.clock_skew

    def describe(self) -> str:
        return (
            f"{self.slack:.2f} s = timer floor {self.floor:.2f} s + 2 x read latency p99 "
            f"{self.latency_p99:.2f} s + clock skew {self.clock_skew:.2f} s"
        )


def _p99(values: list[float]) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def measure(history: History, scale: float) -> SlackMeasurement:
    """The slack parts of `history` (scenario seconds), a live run at `scale`."""
    latencies = [
        op.end - op.start
        for op in history.ops
        if op.op in ("status", "latest") and op.reply.status != "lost"
    ]
    skew = 0.0
    for op in history.ops:
        r = op.reply
        if op.op == "start" and r.started_at is not None:
            skew = max(skew, op.start - r.started_at)
        if r.finished_at is not None and r.terminal and op.op == "start":
            skew = max(skew, r.finished_at - op.end)
    return SlackMeasurement(_p99(latencies), skew, TIMER_FLOOR / scale)


def measured_slack(history: History, scale: float) -> float:
    return measure(history, scale).slack


def with_measured_slack(history: History, scale: float) -> History:
    """`history` with its timing's slack set to what the run measured."""
    slack = round(measured_slack(history, scale), 6)
    timing = msgspec.structs.replace(history.info.timing, slack=slack)
    history.info = replace(history.info, timing=timing)
    return history
