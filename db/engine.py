"""Engine construction and per-request accounting of statements and round trips.

Concurrency strategy: strawberry resolves sibling fields concurrently, so no connection is ever
shared between resolvers. Every read batch (a loader's batch function, a top-level query) borrows
its own pooled connection for the length of one statement; every mutation runs in one transaction
on one connection that only that mutation uses. The pool is bounded and fails fast when exhausted.

Reads run on AUTOCOMMIT connections (`reads_of`): a plain SELECT pays one round trip, not a
BEGIN and a ROLLBACK around it, and each statement reads one consistent snapshot of its own. Two
statements of one request (a page and its `totalCount`, two levels of a traversal) may therefore
see different snapshots when a write commits between them. We chose this over one REPEATABLE READ
snapshot per request because that needs a BEGIN and an end on every request and one connection
whose use is serialised, so sibling resolvers would queue behind each other; a request whose
figures must agree asks for them in one statement. Statements are prepared once per connection
(asyncpg, through SQLAlchemy's prepared statement cache) and batch keys travel as one array
parameter, so the text of a batch statement does not change with its number of keys.
"""

import contextvars
import time
from dataclasses import dataclass, field
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


@dataclass
class StatementStats:
    queries: int = 0
    seconds: float = 0.0
    # Round trips to PostgreSQL besides the statements themselves (one each).
    prepares: int = 0
    transaction_commands: int = 0
    _started: dict[int, float] = field(default_factory=dict)

    @property
    def round_trips(self) -> int:
        return self.queries + self.prepares + self.transaction_commands


current_stats: contextvars.ContextVar[StatementStats | None] = contextvars.ContextVar(
    "current_stats", default=None
)


@dataclass(frozen=True)
class PoolSettings:
    size: int = 10
    overflow: int = 5
    timeout_seconds: float = 2.0
    statement_timeout_ms: int = 10_000
    connect_timeout_seconds: float = 5.0


class CountingConnection(asyncpg.Connection):  # type: ignore[misc]
    """Counts the round trips a statement does not: prepares (a miss of the prepared statement
    cache) and simple queries (SQLAlchemy's BEGIN, COMMIT and ROLLBACK go through `execute`)."""

    async def execute(self, query: str, *args: Any, **kwargs: Any) -> Any:
        stats = current_stats.get()
        if stats is not None:
            stats.transaction_commands += 1
        return await super().execute(query, *args, **kwargs)

    async def prepare(self, query: str, *args: Any, **kwargs: Any) -> Any:
        stats = current_stats.get()
        if stats is not None:
            stats.prepares += 1
        return await super().prepare(query, *args, **kwargs)


def reads_of(engine: AsyncEngine) -> AsyncEngine:
    """The same pool, for reads: AUTOCOMMIT, so a plain SELECT costs no transaction round trips."""
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def make_engine(url: str, pool: PoolSettings | None = None, echo: bool = False) -> AsyncEngine:
    pool = pool or PoolSettings()
    engine = create_async_engine(
        url,
        pool_size=pool.size,
        max_overflow=pool.overflow,
        pool_timeout=pool.timeout_seconds,
        pool_pre_ping=False,
        # The connection used last is warm: its prepared statements are the ones a request needs.
        pool_use_lifo=True,
        echo=echo,
        # Statement parameters (password hashes, token digests, user input) stay out of error messages.
        hide_parameters=True,
        connect_args={
            # asyncpg waits 60 s by default: an unreachable database would hold requests that long.
            "timeout": pool.connect_timeout_seconds,
            "connection_class": CountingConnection,
            "server_settings": {
                "statement_timeout": str(pool.statement_timeout_ms),
                "application_name": "omnimediatrak",
            },
        },
    )
    _count_statements(engine)
    return engine


def _count_statements(engine: AsyncEngine) -> None:
    def before(conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool) -> None:
        stats = current_stats.get()
        if stats is not None:
            stats.queries += 1
            stats._started[id(context)] = time.perf_counter()

    def after(conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool) -> None:
        stats = current_stats.get()
        if stats is not None:
            started = stats._started.pop(id(context), None)
            if started is not None:
                stats.seconds += time.perf_counter() - started

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    event.listen(engine.sync_engine, "after_cursor_execute", after)
