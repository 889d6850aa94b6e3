"""Sign-in history that has served its purpose: login events, and sessions and API tokens that
ended (expired or revoked), older than the retention period. Throttling reads minutes of history
and users list only live sessions and tokens, so nothing anyone reads goes away."""

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, func, or_
from sqlalchemy.ext.asyncio import AsyncConnection

from db.models import ApiToken, LoginEvent, Session


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
