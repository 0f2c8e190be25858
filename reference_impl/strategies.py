"""The 14 strategies of an opportunity scan and how long each takes (the workload).

A strategy reads its performance rows and turns them into opportunities. How long it takes stands
for its upstream latency (market data); the executor that runs it realises that duration.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from reference_impl.entry import Opportunity
from reference_impl.performance import PerformanceStore

STRATEGY_NAMES: tuple[str, ...] = (
    "momentum",
    "mean_reversion",
    "breakout",
    "pairs",
    "volatility_squeeze",
    "earnings_drift",
    "gap_fill",
    "trend_follow",
    "rsi_divergence",
    "vwap_reversion",
    "options_flow",
    "sector_rotation",
    "dividend_capture",
    "news_sentiment",
)


@dataclass(frozen=True)
class StrategyProfile:
    """How long each strategy takes, in seconds; strategies in `hang` never return."""

    seconds: float = 2.0
    hang: frozenset[int] = frozenset()

    def duration(self, index: int) -> float:
        return math.inf if index in self.hang else self.seconds


def strategy_names(count: int) -> tuple[str, ...]:
    if count <= len(STRATEGY_NAMES):
        return STRATEGY_NAMES[:count]
    extra = tuple(f"strategy_{i}" for i in range(len(STRATEGY_NAMES), count))
    return STRATEGY_NAMES + extra


def strategy_runner(store: PerformanceStore, name: str) -> Callable[[], tuple[Opportunity, ...]]:
    """The work of one strategy: read its rows, keep those that score as opportunities."""

    def run() -> tuple[Opportunity, ...]:
        return tuple(
            Opportunity(
                strategy=name,
                symbol=row.symbol,
                score=row.score,
                win_rate=row.win_rate,
                sharpe=row.sharpe,
                annual_return=row.annual_return,
            )
            for row in store.rows_for(name)
            if row.score >= 0.6
        )

    return run
