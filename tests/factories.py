"""Rows for tests, written straight to the database (the API paths are tested on their own)."""

import datetime as dt
import uuid
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from db.accounts import create_session
from db.models import ExternalLink, Media, Relationship, User

# Cheap parameters keep fixtures fast; the product's own hasher uses the documented strong ones.
_fast_hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
FIXTURE_PASSWORD = "correct horse battery staple"
FIXTURE_PASSWORD_HASH = _fast_hasher.hash(FIXTURE_PASSWORD)

_counter = iter(range(1, 10**9))


async def make_media(engine: AsyncEngine, **fields: Any) -> uuid.UUID:
    n = next(_counter)
    values: dict[str, Any] = {
        "title": f"Media {n}",
        "media_type": "book",
        "media_class": "written.book.novel",
        "external_id": f"test:{n}",
    }
    values.update(fields)
    if isinstance(values.get("release_date"), str):
        values["release_date"] = dt.date.fromisoformat(values["release_date"])
    links = values.pop("external_links", [])
    async with engine.begin() as conn:
        media_id: uuid.UUID = (
            await conn.execute(insert(Media).values(**values).returning(Media.id))
        ).scalar_one()
        for source, key in links:
            await conn.execute(
                insert(ExternalLink).values(media_id=media_id, source_name=source, external_key=key)
            )
    return media_id


async def link_media(
    engine: AsyncEngine,
    media_id: uuid.UUID,
    related_id: uuid.UUID,
    relation_type: str,
    notes: str | None = None,
    weight: int | None = None,
) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            insert(Relationship).values(
                media_id=media_id,
                related_media_id=related_id,
                relation_type=relation_type,
                notes=notes,
                weight=weight,
            )
        )


async def make_user(
    engine: AsyncEngine, username: str | None = None, role: str = "user", **settings: Any
) -> tuple[uuid.UUID, str]:
    """Create a user with FIXTURE_PASSWORD and a live session; return (user id, bearer token)."""
    username = username or f"user{next(_counter)}"
    async with engine.begin() as conn:
        user_id: uuid.UUID = (
            await conn.execute(
                insert(User)
                .values(
                    email=f"{username.lower()}@example.test",
                    username=username,
                    password_hash=FIXTURE_PASSWORD_HASH,
                    role=role,
                    settings=settings,
                )
                .returning(User.id)
            )
        ).scalar_one()
        token, _ = await create_session(conn, user_id, dt.timedelta(days=1))
    return user_id, token
