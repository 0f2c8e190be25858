"""Strategy performance data, read through SQLAlchemy.

The table's required columns always exist; optional ones (`annual_return` among them) may be
missing in a given database. The fixed query names only the columns that exist and reads the
missing ones as null; the `select-all-columns` regression names every model column.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import (
    Column,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    inspect,
    select,
    text,
)
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import StaticPool

TABLE = "strategy_performance"
REQUIRED_COLUMNS: tuple[str, ...] = ("id", "strategy", "symbol", "score")
OPTIONAL_COLUMNS: tuple[str, ...] = ("win_rate", "sharpe", "annual_return")

_metadata = MetaData()
performance_table = Table(
    TABLE,
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("strategy", String(64), nullable=False, index=True),
    Column("symbol", String(16), nullable=False),
    Column("score", Float, nullable=False),
    Column("win_rate", Float),
    Column("sharpe", Float),
    Column("annual_return", Float),
)

SYMBOLS = ("AAPL", "MSFT", "NVDA", "AMZN", "GOOG", "META", "TSLA", "AMD")


@dataclass(frozen=True)
class PerformanceRow:
    strategy: str
    symbol: str
    score: float
    win_rate: float | None
    sharpe: float | None
    annual_return: float | None


def open_engine(url: str) -> Engine:
    """An engine for `url`; an in-memory SQLite database is shared by every connection."""
    if url in ("sqlite://", "sqlite:///:memory:"):
        return create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    return create_engine(url)


def seed_database(
    engine: Engine, strategy_names: Sequence[str], missing: Iterable[str] = ()
) -> None:
    """Create the table with sample rows; columns in `missing` are dropped afterwards."""
    _metadata.create_all(engine)
    rows = []
    for i, name in enumerate(strategy_names):
        for j, symbol in enumerate(SYMBOLS[: 2 + i % 3]):
            rows.append(
                {
                    "strategy": name,
                    "symbol": symbol,
                    "score": round(0.5 + ((i * 7 + j * 3) % 10) / 20, 3),
                    "win_rate": round(0.4 + ((i + j) % 5) / 20, 3),
                    "sharpe": round(0.8 + ((i * j) % 7) / 10, 3),
                    "annual_return": round(0.05 + ((i * 3 + j) % 9) / 50, 3),
                }
            )
    with engine.begin() as conn:
        conn.execute(performance_table.delete())
        conn.execute(performance_table.insert(), rows)
    for column in missing:
        drop_column(engine, column)


def drop_column(engine: Engine, column: str) -> None:
    """Drop an optional column, as a migration gone wrong would."""
    if column not in OPTIONAL_COLUMNS:
        raise ValueError(f"only optional columns can be dropped, not {column!r}")
    with engine.begin() as conn:
        conn.execute(text(f'ALTER TABLE {TABLE} DROP COLUMN "{column}"'))


class PerformanceStore:
    """Reads strategy performance rows, tolerating missing optional columns."""

    def __init__(self, engine: Engine, *, select_all_columns: bool = False) -> None:
        self._engine = engine
        self._select_all = select_all_columns
        self._present: frozenset[str] | None = None

    def _columns(self, refresh: bool = False) -> frozenset[str]:
        if self._present is None or refresh:
            found = {c["name"] for c in inspect(self._engine).get_columns(TABLE)}
            self._present = frozenset(found)
        return self._present

    def rows_for(self, strategy: str) -> list[PerformanceRow]:
        try:
            return self._query(strategy, refresh=False)
        except OperationalError:
            if self._select_all:
                raise
            # The schema changed under us (a column dropped): look again, once.
            return self._query(strategy, refresh=True)

    def _query(self, strategy: str, *, refresh: bool) -> list[PerformanceRow]:
        t = performance_table
        if self._select_all:
            names = [c.name for c in t.columns]
        else:
            present = self._columns(refresh)
            names = [c.name for c in t.columns if c.name in present]
        stmt = select(*(t.c[name] for name in names)).where(t.c.strategy == strategy)
        stmt = stmt.order_by(t.c.id)
        with self._engine.connect() as conn:
            result = conn.execute(stmt).mappings().all()
        return [
            PerformanceRow(
                strategy=row["strategy"],
                symbol=row["symbol"],
                score=row["score"],
                win_rate=row.get("win_rate"),
                sharpe=row.get("sharpe"),
                annual_return=row.get("annual_return"),
            )
            for row in result
        ]
