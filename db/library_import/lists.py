"""Lists of an import (Goodreads shelves, the lists of our own export), restored by name: a list the
user does not have yet (same name and type) is created; a static list that exists gets the items it
lacks, appended in the file's order. An item no catalog item is found for is kept with the job as a
problem row of its list (so a later import, once the catalog has it, appends it). One transaction
with the job's last step."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from db.library_import.apply import Problem, entry_problem, write_problems
from db.library_import.entry import ImportList
from db.library_import.matching import CatalogItem, NoMatch, match_entries
from db.lists import LIST_ITEM_LIMIT, POSITION_STEP, create_list
from db.models import ListItem, UserList
from db.smart_lists import InvalidDefinition, SmartDefinition


@dataclass
class ListCounts:
    created: int = 0
    items_unmatched: int = 0
    items_failed: int = 0


async def _existing_list(conn: AsyncConnection, user_id: uuid.UUID, wanted: ImportList) -> uuid.UUID | None:
    query = select(UserList.id).where(
        UserList.user_id == user_id, UserList.name == wanted.name, UserList.list_type == wanted.list_type
    )
    return (await conn.execute(query.order_by(UserList.created_at).limit(1))).scalar()


async def _add_missing_items(
    conn: AsyncConnection, list_id: uuid.UUID, wanted: ImportList, position: int
) -> list[Problem]:
    """The items that were not added, as problems of the list."""
    matches = await match_entries(conn, wanted.items)
    problems = [
        entry_problem(item, found.reason, found.message, position, wanted.name)
        for item, found in zip(wanted.items, matches, strict=True)
        if isinstance(found, NoMatch)
    ]
    first_rows: dict[uuid.UUID, int] = {}
    for item, found in zip(wanted.items, matches, strict=True):
        if isinstance(found, CatalogItem):
            first_rows.setdefault(found.id, item.row)
    present_rows = await conn.execute(
        select(ListItem.media_id, ListItem.position).where(ListItem.list_id == list_id)
    )
    present = {row.media_id: row.position for row in present_rows}
    missing = [media_id for media_id in first_rows if media_id not in present]
    room = max(LIST_ITEM_LIMIT - len(present), 0)
    rows_by_item = {item.row: item for item in wanted.items}
    problems += [
        entry_problem(
            rows_by_item[first_rows[media_id]],
            "invalid",
            f"the list is full ({LIST_ITEM_LIMIT} items)",
            position,
            wanted.name,
        )
        for media_id in missing[room:]
    ]
    missing = missing[:room]
    if missing:
        start = max(present.values(), default=0) + POSITION_STEP
        await conn.execute(
            insert(ListItem),
            [
                {"list_id": list_id, "media_id": media_id, "position": start + index * POSITION_STEP}
                for index, media_id in enumerate(missing)
            ],
        )
        await conn.execute(update(UserList).where(UserList.id == list_id).values(updated_at=func.now()))
    return problems


async def apply_lists(
    conn: AsyncConnection, user_id: uuid.UUID, job_id: uuid.UUID, lists: Sequence[ImportList]
) -> ListCounts:
    counts = ListCounts()
    problems: list[Problem] = []
    for position, wanted in enumerate(lists, start=1):
        list_id = await _existing_list(conn, user_id, wanted)
        if list_id is None:
            definition = None
            if wanted.list_type == "smart":
                try:
                    definition = SmartDefinition.from_stored(wanted.definition or {}).to_stored()
                except InvalidDefinition as exc:
                    message = f"the smart list's definition was refused: {exc}"
                    problems.append(
                        Problem(0, "invalid", message, list_position=position, list_name=wanted.name)
                    )
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
                    # clock_timestamp, not the transaction's now(): the lists keep the file's order.
                    "created_at": wanted.created_at or func.clock_timestamp(),
                },
            )
            counts.created += 1
        if wanted.list_type == "static" and wanted.items:
            problems += await _add_missing_items(conn, list_id, wanted, position)
    counts.items_unmatched = sum(problem.reason != "invalid" for problem in problems)
    counts.items_failed = len(problems) - counts.items_unmatched
    await write_problems(conn, job_id, problems)
    return counts
