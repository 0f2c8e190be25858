"""Strategy statistics (SQLAlchemy ORM) and the market-data call each strategy waits on.

The `strategy_stats` table has required columns (`id`, `strategy`, `symbol`, `score`) and
optional ones (`hit_rate`, `sharpe_ratio`, `annual_return`) that an older database may lack.
Queries name only the columns the table really has; a missing one reads as null.

`init_db` creates and seeds the table (also `flask --app flask_scans.wsgi init-db`, or
`python -m flask_scans.strategies init-db URL`); the app never creates tables itself.
"""

from __future__ import annotations

import argparse
import math
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from sqlalchemy import Engine, String, create_engine, inspect, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

TABLE = "strategy_stats"
REQUIRED_COLUMNS: tuple[str, ...] = ("id", "strategy", "symbol", "score")
OPTIONAL_COLUMNS: tuple[str, ...] = ("hit_rate", "sharpe_ratio", "annual_return")

STRATEGY_NAMES: tuple[str, ...] = (
    "golden_cross",
    "rsi_oversold",
    "bollinger_squeeze",
    "macd_crossover",
    "volume_spike",
    "gap_and_go",
    "opening_range",
    "pivot_bounce",
    "relative_strength",
    "short_squeeze",
    "insider_buying",
    "unusual_options",
    "analyst_upgrade",
    "seasonal_pattern",
)
TICKERS: tuple[str, ...] = ("SPY", "QQQ", "IWM", "XLF", "XLE", "XLK", "GLD", "TLT")


class Base(DeclarativeBase):
    pass


class StrategyStat(Base):
    __tablename__ = TABLE

    id: Mapped[int] = mapped_column(primary_key=True)
    strategy: Mapped[str] = mapped_column(String(64), index=True)
    symbol: Mapped[str] = mapped_column(String(16))
    score: Mapped[float]
    hit_rate: Mapped[float | None]
    sharpe_ratio: Mapped[float | None]
    annual_return: Mapped[float | None]


def strategy_names(count: int) -> tuple[str, ...]:
    extra = tuple(f"custom_{i}" for i in range(len(STRATEGY_NAMES), count))
    return (STRATEGY_NAMES + extra)[:count]


class StrategyData:
    """Reads a strategy's signals; the columns present are looked up once, again after an error."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._columns: tuple[str, ...] | None = None

    def _present(self, refresh: bool) -> tuple[str, ...]:
        with self._lock:
            if self._columns is None or refresh:
                found = {c["name"] for c in inspect(self._engine).get_columns(TABLE)}
                wanted = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
                self._columns = tuple(c for c in wanted if c in found)
            return self._columns

    def signals_for(self, strategy: str) -> list[dict[str, Any]]:
        """The rows of `strategy` that score high enough to be worth showing."""
        try:
            return self._query(strategy, self._present(refresh=False))
        except OperationalError:
            # The schema changed under us (a column was dropped): look again, once.
            return self._query(strategy, self._present(refresh=True))

    def _query(self, strategy: str, columns: Sequence[str]) -> list[dict[str, Any]]:
        table = StrategyStat.__table__
        stmt = (
            select(*(table.c[name] for name in columns))
            .where(table.c.strategy == strategy, table.c.score >= 0.6)
            .order_by(table.c.id)
        )
        with self._engine.connect() as conn:
            rows = conn.execute(stmt).mappings().all()
        return [
            {
                "strategy": row["strategy"],
                "symbol": row["symbol"],
                "score": row["score"],
                **{name: row.get(name) for name in OPTIONAL_COLUMNS},
            }
            for row in rows
        ]


class Clock(Protocol):
    def time(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class MarketFeed:
    """Stands in for the upstream market-data call a strategy makes before reading its stats.

    A call takes `seconds` (forever for the indexes in `hang`). The caller passes the scan's
    deadline as the call's timeout, and a heartbeat to call while it waits.
    """

    def __init__(self, seconds: float, hang: Iterable[int], clock: Clock) -> None:
        self._seconds = seconds
        self._hang = frozenset(hang)
        self._clock = clock

    def fetch(
        self, index: int, *, deadline: float, beat: Callable[[], None], beat_every: float
    ) -> bool:
        """Wait for strategy `index`'s data: True once it came, False when `deadline` passed."""
        clock = self._clock
        duration = math.inf if index in self._hang else self._seconds
        ready_at = clock.time() + duration
        while True:
            now = clock.time()
            if now >= ready_at:
                return True
            if now >= deadline:
                return False
            clock.sleep(min(ready_at, deadline, now + beat_every) - now)
            if clock.time() < min(ready_at, deadline):
                beat()


def init_db(url: str, strategies: int = 14, missing: Iterable[str] = ()) -> None:
    """(Re)create `strategy_stats` with sample rows for `strategies` strategies; the optional
    columns named in `missing` are dropped afterwards (an older database's schema)."""
    engine = create_engine(url)
    try:
        Base.metadata.drop_all(engine)  # a table from an earlier run may lack columns
        Base.metadata.create_all(engine)
        rows = [
            StrategyStat(
                strategy=name,
                symbol=symbol,
                score=round(0.45 + ((i * 5 + j * 3) % 11) / 20, 3),
                hit_rate=round(0.35 + ((i + 2 * j) % 6) / 20, 3),
                sharpe_ratio=round(0.6 + ((i * j) % 9) / 10, 3),
                annual_return=round(0.02 + ((i * 7 + j) % 10) / 40, 3),
            )
            for i, name in enumerate(strategy_names(strategies))
            for j, symbol in enumerate(TICKERS[: 3 + i % 4])
        ]
        with Session(engine) as session, session.begin():
            session.add_all(rows)
        for column in missing:
            _drop(engine, column)
    finally:
        engine.dispose()


def drop_column(url: str, column: str) -> None:
    """Drop an optional column, as a migration gone wrong would."""
    engine = create_engine(url)
    try:
        _drop(engine, column)
    finally:
        engine.dispose()


def _drop(engine: Engine, column: str) -> None:
    if column not in OPTIONAL_COLUMNS:
        raise ValueError(f"only optional columns can be dropped ({', '.join(OPTIONAL_COLUMNS)})")
    with engine.begin() as conn:
        conn.execute(text(f'ALTER TABLE {TABLE} DROP COLUMN "{column}"'))


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m flask_scans.strategies init-db URL [--strategies N] [--missing COLUMN ...]`
    and `... drop-column URL COLUMN`."""
    parser = argparse.ArgumentParser(prog="python -m flask_scans.strategies")
    sub = parser.add_subparsers(dest="command", required=True)
    init = sub.add_parser("init-db", help="create and seed the strategy_stats table")
    init.add_argument("url")
    init.add_argument("--strategies", type=int, default=14)
    init.add_argument("--missing", action="append", default=[], choices=OPTIONAL_COLUMNS)
    drop = sub.add_parser("drop-column", help="drop an optional column")
    drop.add_argument("url")
    drop.add_argument("column", choices=OPTIONAL_COLUMNS)
    args = parser.parse_args(argv)
    if args.command == "init-db":
        init_db(args.url, args.strategies, args.missing)
    else:
        drop_column(args.url, args.column)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
