"""Lists of our own export, restored by name: a list the user does not have yet (same name and type)
is created; a static list that exists gets the items it lacks, appended in the file's order. Items
whose media the catalog does not hold are left out. One transaction with the job's last step."""

import uuid
from collections.abc import Sequence

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from db.library_import.entry import ImportList
from db.library_import.matching import CatalogItem, match_entries
from db.lists import LIST_ITEM_LIMIT, POSITION_STEP, create_list
from db.models import ListItem, UserList
from db.smart_lists import InvalidDefinition, SmartDefinition


async def _existing_list(conn: AsyncConnection, user_id: uuid.UUID, wanted: ImportList) -> uuid.UUID | None:
    query = select(UserList.id).where(
        UserList.user_id == user_id, UserList.name == wanted.name, UserList.list_type == wanted.list_type
    )
    return (await conn.execute(query.order_by(UserList.created_at).limit(1))).scalar()


async def _add_missing_items(conn: AsyncConnection, list_id: uuid.UUID, wanted: ImportList) -> None:
    matches = await match_entries(conn, wanted.items)
    media_ids = list(dict.fromkeys(found.id for found in matches if isinstance(found, CatalogItem)))
    present_rows = await conn.execute(
        select(ListItem.media_id, ListItem.position).where(ListItem.list_id == list_id)
    )
    present = {row.media_id: row.position for row in present_rows}
    missing = [media_id for media_id in media_ids if media_id not in present][
        : LIST_ITEM_LIMIT - len(present)
    ]
    if not missing:
        return
    start = max(present.values(), default=0) + POSITION_STEP
    await conn.execute(
        insert(ListItem),
        [
            {"list_id": list_id, "media_id": media_id, "position": start + index * POSITION_STEP}
            for index, media_id in enumerate(missing)
        ],
    )
    await conn.execute(update(UserList).where(UserList.id == list_id).values(updated_at=func.now()))


async def apply_lists(conn: AsyncConnection, user_id: uuid.UUID, lists: Sequence[ImportList]) -> int:
    """How many lists were created."""
    created = 0
    for wanted in lists:
        list_id = await _existing_list(conn, user_id, wanted)
        if list_id is None:
            definition = None
            if wanted.list_type == "smart":
                try:
                    definition = SmartDefinition.parse(wanted.definition or {}).to_json()
                except InvalidDefinition:
                    continue
            list_id = await create_list(
                conn,
                user_id,
                {
                    "name": wanted.name,
                    "description": wanted.description,
                    "is_public": wanted.is_public,
                    "list_type": wanted.list_type,
                    "filter_definition": definition,
                    **({"created_at": wanted.created_at} if wanted.created_at else {}),
                },
            )
            created += 1
        if wanted.list_type == "static" and wanted.items:
            await _add_missing_items(conn, list_id, wanted)
    return created
