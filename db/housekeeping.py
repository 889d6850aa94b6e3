"""Sign-in history that has served its purpose: login events, and sessions and API tokens that
ended (expired or revoked), older than the retention period. Throttling reads minutes of history
and users list only live sessions and tokens, so nothing anyone reads goes away."""

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from db.library_import.jobs import interrupt_abandoned
from db.models import ApiToken, LoginEvent, Session

# Every worker process of `serve` runs the hourly pruning; this transaction-level advisory lock lets
# one of them at a time do it. An arbitrary constant, unique among the project's advisory locks.
HOUSEKEEPING_LOCK_KEY = 7_340_021_611


@dataclass(frozen=True)
class Pruned:
    login_events: int
    sessions: int
    api_tokens: int


async def prune_auth_history(conn: AsyncConnection, keep: dt.timedelta) -> Pruned:
    cutoff = func.now() - keep
    events = await conn.execute(delete(LoginEvent).where(LoginEvent.event_time < cutoff))
    sessions = await conn.execute(
        delete(Session).where(or_(Session.expires_at < cutoff, Session.revoked_at < cutoff))
    )
    tokens = await conn.execute(
        delete(ApiToken).where(or_(ApiToken.expires_at < cutoff, ApiToken.revoked_at < cutoff))
    )
    return Pruned(events.rowcount, sessions.rowcount, tokens.rowcount)


async def prune_auth_history_unless_running(conn: AsyncConnection, keep: dt.timedelta) -> Pruned | None:
    """Prune, or None at once when another process is pruning now (the lock ends with `conn`'s transaction)."""
    locked = (await conn.execute(select(func.pg_try_advisory_xact_lock(HOUSEKEEPING_LOCK_KEY)))).scalar()
    if not locked:
        return None
    return await prune_auth_history(conn, keep)


async def interrupt_abandoned_imports(engine: AsyncEngine) -> list[uuid.UUID]:
    """The library imports of server processes that died, marked interrupted."""
    async with engine.begin() as conn:
        return await interrupt_abandoned(conn)


async def prune_auth_history_once(engine: AsyncEngine, keep: dt.timedelta) -> Pruned | None:
    """One transaction of `prune_auth_history_unless_running`."""
    async with engine.begin() as conn:
        return await prune_auth_history_unless_running(conn, keep)
