"""The hottest batch reads, run by asyncpg on the pooled connection instead of through SQLAlchemy's
execution path.

SQLAlchemy still builds each of these statements (once, at import) and compiles it once to
PostgreSQL's text; what is skipped on every call is SQLAlchemy's execution of a statement: the
compiled-cache lookup, an execution context, parameter and result processing, a greenlet switch
and a Row per row. For one media row that path cost 320-420 us of our CPU against 170-230 us for
the same prepared statement run here (bench/README.md). Only statements whose columns need no
result processing qualify: JSON is read as text (db.media.media_read_columns), arrays, dates and
UUIDs as asyncpg decodes them (its UUID is a `uuid.UUID`).

The connection is the caller's AsyncConnection (pool, timeouts and AUTOCOMMIT as for every read);
each statement is prepared once per connection, and counted as SQLAlchemy's statements are
(db/engine.py).
"""

import time
from collections.abc import Mapping
from typing import Any
from weakref import WeakKeyDictionary

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from db.availability import is_database_unavailable
from db.engine import current_stats

_DIALECT = PGDialect_asyncpg()  # type: ignore[no-untyped-call]


class Record(asyncpg.Record):  # type: ignore[misc]
    """A row read by attribute, as SQLAlchemy's rows are."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class DirectStatement:
    def __init__(self, statement: ClauseElement) -> None:
        compiled = statement.compile(dialect=_DIALECT)
        assert isinstance(compiled, SQLCompiler)
        self.sql = compiled.string
        self.parameter_names = tuple(compiled.positiontup or ())
        # Literals SQLAlchemy made parameters of (the 1 of `rank - 1`), by name.
        self.literals = {name: bind.value for name, bind in compiled.binds.items() if not bind.required}
        self.prepared: WeakKeyDictionary[asyncpg.Connection, asyncpg.PreparedStatement] = WeakKeyDictionary()

    async def fetch(self, conn: AsyncConnection, parameters: Mapping[str, Any]) -> list[Record]:
        arguments = [
            parameters[name] if name in parameters else self.literals[name] for name in self.parameter_names
        ]
        driver: Any = (await conn.get_raw_connection()).driver_connection
        stats = current_stats.get()
        started = time.perf_counter()
        try:
            prepared = self.prepared.get(driver)
            if prepared is None:
                prepared = self.prepared[driver] = await driver.prepare(self.sql, record_class=Record)
            try:
                rows: list[Record] = await prepared.fetch(*arguments)
            except (asyncpg.InvalidCachedStatementError, asyncpg.OutdatedSchemaCacheError):
                # The tables changed under the prepared statement (a migration): prepare it again.
                prepared = self.prepared[driver] = await driver.prepare(self.sql, record_class=Record)
                rows = await prepared.fetch(*arguments)
        except Exception as error:
            if is_database_unavailable(error):
                # As SQLAlchemy does for its own statements: the pool must not hand this connection out again.
                await conn.invalidate(error)
            raise
        finally:
            if stats is not None:
                stats.queries += 1
                stats.seconds += time.perf_counter() - started
        return rows
