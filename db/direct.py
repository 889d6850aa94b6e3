"""The hottest batch reads, run by asyncpg on the pooled connection instead of through SQLAlchemy's
execution path.

SQLAlchemy still builds each of these statements (once, at import) and compiles it once to
PostgreSQL's text; what is skipped on every call is SQLAlchemy's execution of a statement: the
compiled-cache lookup, an execution context, parameter and result processing, a greenlet switch
and a Row per row. For one media row that path cost 320-420 us of our CPU against 170-230 us for
the same prepared statement run here (bench/README.md). Only statements whose columns need no
result processing qualify: JSON as the codec SQLAlchemy sets on each connection decodes it (or as
text: db.media.media_read_columns), arrays, dates and UUIDs as asyncpg decodes them (its UUID is a
`uuid.UUID`). Parameters go to asyncpg as they are (no bind processing either): UUIDs, arrays,
numbers, text, bytes, intervals, timestamps.

The connection is the caller's AsyncConnection (pool, timeouts and AUTOCOMMIT as for every read) or
a pooled connection borrowed without one (`pooled_connection`, for loaders whose batches run only
direct statements); each statement is prepared once per connection, and counted as SQLAlchemy's
statements are (db/engine.py).
"""

import contextlib
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from operator import itemgetter
from typing import Any
from weakref import WeakKeyDictionary

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.selectable import SelectBase
from sqlalchemy.util.concurrency import greenlet_spawn

from db.availability import is_database_unavailable
from db.engine import current_stats

_DIALECT = PGDialect_asyncpg()  # type: ignore[no-untyped-call]

# A read connection: SQLAlchemy's, or a pooled one without it (`pooled_connection`).
DirectConnection = AsyncConnection | PoolProxiedConnection


class Record(asyncpg.Record):  # type: ignore[misc]
    """A row of a DirectStatement. Its columns are also its attributes, as in SQLAlchemy's rows."""


def _record_class(columns: Sequence[str]) -> type[Record]:
    # Properties reading by position: a plain attribute lookup, where a `__getattr__` fallback
    # (run after the lookup fails) cost several times as much, for each of the ~700 reads of a
    # page of 5 lists of 20 items.
    return type("Record", (Record,), {name: property(itemgetter(i)) for i, name in enumerate(columns)})


class DirectStatement:
    def __init__(self, statement: SelectBase) -> None:
        self.columns = tuple(str(column.key) for column in statement.selected_columns)
        self.record_class = _record_class(self.columns)
        compiled = statement.compile(dialect=_DIALECT)
        assert isinstance(compiled, SQLCompiler)
        self.sql = compiled.string
        self.parameter_names = tuple(compiled.positiontup or ())
        # Literals SQLAlchemy made parameters of (the 1 of `rank - 1`), by name.
        self.literals = {name: bind.value for name, bind in compiled.binds.items() if not bind.required}
        self.prepared: WeakKeyDictionary[asyncpg.Connection, asyncpg.PreparedStatement] = WeakKeyDictionary()

    async def fetch(self, conn: DirectConnection, parameters: Mapping[str, Any]) -> list[Record]:
        arguments = [
            parameters[name] if name in parameters else self.literals[name] for name in self.parameter_names
        ]
        pooled = conn if isinstance(conn, PoolProxiedConnection) else await conn.get_raw_connection()
        driver: Any = pooled.driver_connection
        stats = current_stats.get()
        started = time.perf_counter()
        try:
            prepared = self.prepared.get(driver)
            if prepared is None:
                prepared = await self._prepare(driver)
            try:
                rows: list[Record] = await prepared.fetch(*arguments)
            except (asyncpg.InvalidCachedStatementError, asyncpg.OutdatedSchemaCacheError):
                # The tables changed under the prepared statement (a migration): prepare it again.
                prepared = await self._prepare(driver)
                rows = await prepared.fetch(*arguments)
        except Exception as error:
            if isinstance(conn, AsyncConnection) and (is_database_unavailable(error) or driver.is_closed()):
                # As SQLAlchemy does for its own statements: the pool must not hand this connection out again.
                await conn.invalidate(error)
            raise
        finally:
            if stats is not None:
                stats.queries += 1
                stats.seconds += time.perf_counter() - started
        return rows

    async def _prepare(self, driver: Any) -> Any:
        prepared = await driver.prepare(self.sql, record_class=self.record_class)
        returned = tuple(attribute.name for attribute in prepared.get_attributes())
        if returned != self.columns:
            raise RuntimeError(f"the statement returns {returned}, its record class reads {self.columns}")
        self.prepared[driver] = prepared
        return prepared


@contextlib.asynccontextmanager
async def pooled_connection(engine: AsyncEngine) -> AsyncIterator[PoolProxiedConnection]:
    """A connection of the engine's pool without SQLAlchemy's Connection around it, for batches of
    direct statements alone (a point lookup: 0.88-0.90 of the CPU per request with the Connection).
    No transaction: each statement is its own, as on the AUTOCOMMIT reads. Invalidated when lost,
    returned to the pool (which rolls nothing back: nothing began) in a greenlet, as SQLAlchemy does."""
    connection = await engine.raw_connection()
    try:
        yield connection
    except BaseException as error:
        driver: Any = connection.driver_connection
        if is_database_unavailable(error) or driver is None or driver.is_closed():
            await greenlet_spawn(connection.invalidate, error)
        raise
    finally:
        await greenlet_spawn(connection.close)
