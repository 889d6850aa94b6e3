"""Old sign-in history is pruned, at server start and hourly; nothing anyone still reads goes."""

import asyncio
import datetime as dt
import uuid

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from db.housekeeping import HOUSEKEEPING_LOCK_KEY, prune_auth_history, prune_auth_history_unless_running
from db.models import ApiToken, LoginEvent, Session
from gql.app import create_app
from gql.config import Settings
from tests.factories import make_user

NOW = dt.datetime.now(dt.UTC)
KEEP = dt.timedelta(days=90)


async def history(engine: AsyncEngine, user_id: uuid.UUID) -> dict[str, list[str]]:
    """Seeds, per table, one row just inside the retention period and one just outside it."""
    old, recent = NOW - KEEP - dt.timedelta(days=1), NOW - KEEP + dt.timedelta(days=1)
    async with engine.begin() as conn:
        for label, at in (("old", old), ("recent", recent)):
            await conn.execute(insert(LoginEvent).values(login=label, success=False, event_time=at))
            for column in ("expires_at", "revoked_at"):
                await conn.execute(
                    insert(Session).values(
                        user_id=user_id,
                        token_hash=uuid.uuid4().bytes,
                        expires_at=at if column == "expires_at" else NOW + dt.timedelta(days=1),
                        revoked_at=at if column == "revoked_at" else None,
                        user_agent=f"{label} {column}",
                    )
                )
                await conn.execute(
                    insert(ApiToken).values(
                        user_id=user_id,
                        name=f"{label} {column}",
                        token_hash=uuid.uuid4().bytes,
                        scopes=["READ"],
                        expires_at=at if column == "expires_at" else None,
                        revoked_at=at if column == "revoked_at" else None,
                    )
                )
        # make_user's own live session is history of nobody: it must stay.
        await conn.execute(update(Session).where(Session.user_agent.is_(None)).values(user_agent="live"))
    return await remaining(engine)


async def remaining(engine: AsyncEngine) -> dict[str, list[str]]:
    async with engine.connect() as conn:
        return {
            "events": sorted(
                str(login) for login in (await conn.execute(select(LoginEvent.login))).scalars()
            ),
            "sessions": sorted(
                str(agent) for agent in (await conn.execute(select(Session.user_agent))).scalars()
            ),
            "tokens": sorted((await conn.execute(select(ApiToken.name))).scalars()),
        }


def without_old(rows: dict[str, list[str]]) -> dict[str, list[str]]:
    return {table: [row for row in values if not row.startswith("old")] for table, values in rows.items()}


async def test_history_older_than_the_retention_period_is_pruned(engine: AsyncEngine) -> None:
    user_id, _ = await make_user(engine)
    seeded = await history(engine, user_id)
    assert len(seeded["sessions"]) == 5
    async with engine.begin() as conn:
        pruned = await prune_auth_history(conn, KEEP)
    assert (pruned.login_events, pruned.sessions, pruned.api_tokens) == (1, 2, 2)
    assert await remaining(engine) == without_old(seeded)
    assert "live" in (await remaining(engine))["sessions"]


async def test_the_server_prunes_when_it_starts(engine: AsyncEngine, database_url: str) -> None:
    user_id, _ = await make_user(engine)
    seeded = await history(engine, user_id)
    app = create_app(Settings(auth_history_days=90), database_url, engine=engine)
    async with app.router.lifespan_context(app):
        for _ in range(100):
            if await remaining(engine) == without_old(seeded):
                break
            await asyncio.sleep(0.05)
    assert await remaining(engine) == without_old(seeded)


async def test_only_one_process_at_a_time_prunes(engine: AsyncEngine) -> None:
    """Every worker of `serve` runs the hourly job: while one holds the lock, another skips at once."""
    user_id, _ = await make_user(engine)
    seeded = await history(engine, user_id)
    async with engine.connect() as other_worker:
        await other_worker.execute(select(func.pg_advisory_lock(HOUSEKEEPING_LOCK_KEY)))
        async with engine.begin() as conn:
            assert await prune_auth_history_unless_running(conn, KEEP) is None
        assert await remaining(engine) == seeded
        await other_worker.execute(select(func.pg_advisory_unlock(HOUSEKEEPING_LOCK_KEY)))
    async with engine.begin() as conn:
        pruned = await prune_auth_history_unless_running(conn, KEEP)
    assert pruned is not None
    assert (pruned.login_events, pruned.sessions, pruned.api_tokens) == (1, 2, 2)
    assert await remaining(engine) == without_old(seeded)
