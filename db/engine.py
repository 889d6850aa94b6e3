"""Engine construction and per-request statement accounting.

Concurrency strategy: strawberry resolves sibling fields concurrently, so no connection is ever
shared between resolvers. Every read batch (a loader's batch function, a top-level query) borrows
its own pooled connection for the length of one statement; every mutation runs in one transaction
on one connection that only that mutation uses. The pool is bounded and fails fast when exhausted.
"""

import contextvars
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


@dataclass
class StatementStats:
    queries: int = 0
    seconds: float = 0.0
    _started: dict[int, float] = field(default_factory=dict)


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


def make_engine(url: str, pool: PoolSettings | None = None, echo: bool = False) -> AsyncEngine:
    pool = pool or PoolSettings()
    engine = create_async_engine(
        url,
        pool_size=pool.size,
        max_overflow=pool.overflow,
        pool_timeout=pool.timeout_seconds,
        pool_pre_ping=False,
        echo=echo,
        # Statement parameters (password hashes, token digests, user input) stay out of error messages.
        hide_parameters=True,
        connect_args={
            # asyncpg waits 60 s by default: an unreachable database would hold requests that long.
            "timeout": pool.connect_timeout_seconds,
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
