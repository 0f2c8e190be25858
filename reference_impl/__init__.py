"""The reference scan service (the fixed behaviour) and its catalogue of planted regressions."""

from reference_impl.bugs import BUGS, UnknownBugError, validate_bugs
from reference_impl.config import RedisSettings, ServiceConfig
from reference_impl.entry import TERMINAL, Opportunity, Reply, ScanEntry
from reference_impl.performance import PerformanceStore, drop_column, open_engine, seed_database
from reference_impl.service import (
    ScanRun,
    ScanService,
    StrategyCall,
    StrategyExecutor,
    StrategyOutcome,
)
from reference_impl.strategies import STRATEGY_NAMES, StrategyProfile

__all__ = [
    "BUGS",
    "STRATEGY_NAMES",
    "TERMINAL",
    "Opportunity",
    "PerformanceStore",
    "RedisSettings",
    "Reply",
    "ScanEntry",
    "ScanRun",
    "ScanService",
    "ServiceConfig",
    "StrategyCall",
    "StrategyExecutor",
    "StrategyOutcome",
    "StrategyProfile",
    "UnknownBugError",
    "drop_column",
    "open_engine",
    "seed_database",
    "validate_bugs",
]
