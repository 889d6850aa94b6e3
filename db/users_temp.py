"""Public profile reads for the temporary User type (replaced by the accounts module at merge)."""

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Row, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from db.models import User

PROFILE_VISIBILITY_PUBLIC = "PUBLIC"


def profile_is_public() -> ColumnElement[bool]:
    """PRIVATE is the default: only an explicit PUBLIC setting opens a profile."""
    return func.coalesce(User.settings["profileVisibility"].astext == PROFILE_VISIBILITY_PUBLIC, False)


profile_columns = (User.id, User.username, User.created_at, profile_is_public().label("profile_public"))


async def profiles_by_ids(conn: AsyncConnection, ids: Sequence[uuid.UUID]) -> list[Row[Any] | None]:
    result = await conn.execute(select(*profile_columns).where(User.id.in_(ids)))
    rows: dict[uuid.UUID, Any] = {row.id: row for row in result}
    return [rows.get(user_id) for user_id in ids]


async def profile_by_username(conn: AsyncConnection, username: str) -> Any:
    query = select(*profile_columns).where(func.lower(User.username) == username.lower())
    return (await conn.execute(query)).first()
