"""The writes on users' lists, one transaction each. The list row is locked first, so concurrent edits
of one list queue; someone else's private list looks the same as a list that does not exist."""

import uuid

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from db import lists
from db.lists import UserListRow
from db.refusals import RefusalCode, not_found, refused


async def locked_own_list(
    conn: AsyncConnection, owner_id: uuid.UUID, list_id: uuid.UUID, *field: str
) -> UserListRow:
    row: UserListRow | None = await lists.lock_list(conn, list_id)
    if row is None or (row.user_id != owner_id and not row.is_public):
        raise not_found("list", *field)
    if row.user_id != owner_id:
        raise refused(RefusalCode.FORBIDDEN, "Only the owner changes a list", *field)
    return row


async def delete_list(engine: AsyncEngine, owner_id: uuid.UUID, list_id: uuid.UUID) -> None:
    async with engine.begin() as conn:
        row = await locked_own_list(conn, owner_id, list_id, "id")
        await lists.delete_list(conn, row.id)
