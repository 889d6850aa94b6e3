"""The writes on users' lists, one transaction each. The list row is locked first, so concurrent edits
of one list queue; someone else's private list looks the same as a list that does not exist.

Positions: a command takes and answers 0-based ordinals; db/lists.py turns them into gapped stored
positions."""

import dataclasses
import datetime as dt
import enum
import uuid
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from db import lists
from db.lists import UserListRow
from db.refusals import FIELD, RefusalCode, Refused, invalid, not_found, refused
from db.smart_lists import SmartDefinition


class Unchanged(enum.Enum):
    UNCHANGED = "unchanged"


# A field of `ListChanges` left as it is (null is a value: it clears a description).
UNCHANGED: Final = Unchanged.UNCHANGED


@dataclass(frozen=True)
class NewList:
    name: str
    description: str | None = None
    is_public: bool = False
    list_type: str = "static"
    definition: SmartDefinition | None = None


@dataclass(frozen=True)
class ListChanges:
    name: str | Unchanged | None = UNCHANGED
    description: str | Unchanged | None = UNCHANGED
    is_public: bool | Unchanged | None = UNCHANGED
    definition: SmartDefinition | Unchanged | None = UNCHANGED


@dataclass(frozen=True)
class ListRecord:
    """A list as just written (a `UserListRow`)."""

    id: uuid.UUID
    user_id: uuid.UUID
    name: str
    description: str | None
    is_public: bool
    list_type: str
    filter_definition: dict[str, Any] | None
    created_at: dt.datetime
    updated_at: dt.datetime
    owner_profile_public: bool

    @classmethod
    def of(cls, row: UserListRow, **changes: Any) -> "ListRecord":
        fields = {field.name: getattr(row, field.name) for field in dataclasses.fields(cls)}
        return cls(**{**fields, **changes})


@dataclass(frozen=True)
class ItemWritten:
    """A list after one of its items was added, moved or removed, and where the item now is."""

    list: ListRecord
    position: int | None


async def locked_own_list(
    conn: AsyncConnection, owner_id: uuid.UUID, list_id: uuid.UUID | None, *field: str
) -> UserListRow:
    """`list_id` None: an id that names no list."""
    row: UserListRow | None = None if list_id is None else await lists.lock_list(conn, list_id)
    if row is None or (row.user_id != owner_id and not row.is_public):
        raise not_found("list", *field)
    if row.user_id != owner_id:
        raise refused(RefusalCode.FORBIDDEN, "Only the owner changes a list", *field)
    return row


def _checked_name(name: str | None) -> str:
    if name is None:
        raise invalid("A list needs a name", "name")
    name = name.strip()
    if not name or len(name) > lists.NAME_MAX_LENGTH:
        raise invalid(f"A name has 1 to {lists.NAME_MAX_LENGTH} characters", "name")
    return name


def _checked_description(description: str | None) -> str | None:
    if description is not None and len(description) > lists.DESCRIPTION_MAX_LENGTH:
        raise invalid(f"A description has at most {lists.DESCRIPTION_MAX_LENGTH} characters", "description")
    return description


def _stored_definition(definition: SmartDefinition | None) -> dict[str, Any]:
    if definition is None:
        raise invalid("A smart list needs a definition", "definition")
    return definition.to_stored()


def _only_smart_lists_have_a_definition() -> Refused:
    return invalid("Only smart lists have a definition", "definition")


async def create_list(engine: AsyncEngine, owner_id: uuid.UUID, new: NewList) -> ListRecord:
    values: dict[str, Any] = {
        "name": _checked_name(new.name),
        "description": _checked_description(new.description),
        "is_public": new.is_public,
        "list_type": new.list_type,
        "filter_definition": None,
    }
    if new.list_type == "smart":
        values["filter_definition"] = _stored_definition(new.definition)
    elif new.definition is not None:
        raise _only_smart_lists_have_a_definition()
    async with engine.begin() as conn:
        list_id = await lists.create_list(conn, owner_id, values)
        (row,) = await lists.lists_by_ids(conn, [list_id])
    assert row is not None
    return ListRecord.of(row)


async def update_list(
    engine: AsyncEngine, owner_id: uuid.UUID, list_id: uuid.UUID | None, changes: ListChanges
) -> ListRecord:
    async with engine.begin() as conn:
        row = await locked_own_list(conn, owner_id, list_id, "id")
        values: dict[str, Any] = {}
        if changes.name is not UNCHANGED:
            values["name"] = _checked_name(changes.name)
        if changes.description is not UNCHANGED:
            values["description"] = _checked_description(changes.description)
        if changes.is_public is not UNCHANGED:
            if changes.is_public is None:
                raise invalid(f"{FIELD} cannot be null", "is_public")
            values["is_public"] = changes.is_public
        if changes.definition is not UNCHANGED:
            if row.list_type != "smart":
                raise _only_smart_lists_have_a_definition()
            values["filter_definition"] = _stored_definition(changes.definition)
        updated_at = await lists.update_list(conn, row.id, values)
    return ListRecord.of(row, **values, updated_at=updated_at)


async def delete_list(engine: AsyncEngine, owner_id: uuid.UUID, list_id: uuid.UUID | None) -> None:
    async with engine.begin() as conn:
        row = await locked_own_list(conn, owner_id, list_id, "id")
        await lists.delete_list(conn, row.id)


async def _locked_static_list(
    conn: AsyncConnection, owner_id: uuid.UUID, list_id: uuid.UUID | None
) -> UserListRow:
    row = await locked_own_list(conn, owner_id, list_id, "list_id")
    if row.list_type != "static":
        raise invalid(
            "Smart lists are evaluated from their definition; their items cannot be edited", "list_id"
        )
    return row


def _checked_position(position: int | None) -> None:
    if position is not None and position < 0:
        raise invalid(f"{FIELD} cannot be negative", "position")


def _not_in_the_list() -> Refused:
    return refused(RefusalCode.NOT_FOUND, "This item is not in the list", "media_id")


def no_such_media() -> Refused:
    return not_found("media", "media_id")


async def add_list_item(
    engine: AsyncEngine,
    owner_id: uuid.UUID,
    list_id: uuid.UUID | None,
    media_id: uuid.UUID | None,
    position: int | None,
) -> ItemWritten:
    """Add an item at `position` (past the end or None: last). An id None names nothing."""
    _checked_position(position)
    async with engine.begin() as conn:
        row = await _locked_static_list(conn, owner_id, list_id)
        facts = None if media_id is None else await lists.item_facts(conn, row.id, media_id)
        if media_id is None or facts is None or not facts.media_exists:
            raise no_such_media()
        if facts.in_list:
            raise refused(RefusalCode.CONFLICT, "This item is already in the list", "media_id")
        if facts.items >= lists.LIST_ITEM_LIMIT:
            raise refused(
                RefusalCode.LIMIT_EXCEEDED, f"A list holds at most {lists.LIST_ITEM_LIMIT} items", "list_id"
            )
        ordinal = facts.items if position is None else min(position, facts.items)
        stored = await lists.free_position(conn, row.id, ordinal)
        updated_at = await lists.add_item(conn, row.id, media_id, stored)
    return ItemWritten(ListRecord.of(row, updated_at=updated_at), ordinal)


async def remove_list_item(
    engine: AsyncEngine, owner_id: uuid.UUID, list_id: uuid.UUID | None, media_id: uuid.UUID | None
) -> ItemWritten:
    """An id None names nothing."""
    async with engine.begin() as conn:
        row = await _locked_static_list(conn, owner_id, list_id)
        updated_at = None if media_id is None else await lists.remove_item(conn, row.id, media_id)
        if updated_at is None:
            raise _not_in_the_list()
    return ItemWritten(ListRecord.of(row, updated_at=updated_at), None)


async def move_list_item(
    engine: AsyncEngine,
    owner_id: uuid.UUID,
    list_id: uuid.UUID | None,
    media_id: uuid.UUID | None,
    position: int,
) -> ItemWritten:
    """Move an item to `position` (past the end: last). An id None names nothing."""
    _checked_position(position)
    async with engine.begin() as conn:
        row = await _locked_static_list(conn, owner_id, list_id)
        facts = None if media_id is None else await lists.item_facts(conn, row.id, media_id)
        if media_id is None or facts is None or not facts.in_list:
            raise _not_in_the_list()
        ordinal = min(position, facts.items - 1)
        stored = await lists.free_position(conn, row.id, ordinal, moving=media_id)
        updated_at = await lists.move_item(conn, row.id, media_id, stored)
    return ItemWritten(ListRecord.of(row, updated_at=updated_at), ordinal)
