"""User lists: static lists with gapped positions, smart lists (db/smart_lists.py) evaluated at query time.

Positions are BIGINTs spaced POSITION_STEP apart: an insert or a move takes the midpoint of its
neighbours and renumbers the list (one UPDATE) only when that gap is used up. Callers see the
0-based ordinal, never the stored position.
"""

import datetime as dt
import functools
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    DateTime,
    Integer,
    Text,
    Uuid,
    and_,
    any_,
    bindparam,
    cast,
    column,
    delete,
    func,
    insert,
    literal,
    literal_column,
    null,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.ext.asyncio import AsyncConnection

from db.accounts import profile_is_public
from db.batch import union_of, uuid_keys
from db.direct import DirectConnection, DirectStatement
from db.keyset import (
    LazyCursors,
    Page,
    SortKey,
    keys_after,
    keyset_cursor,
    keyset_values,
    order_by,
    parse_datetime,
    parse_int,
    parse_uuid,
)
from db.media import media_read_columns
from db.media_rows import MediaRow
from db.models import ListItem, Media, User, UserList
from db.smart_lists import SmartDefinition, smart_base, smart_sort_keys

LIST_ITEM_LIMIT = 10_000
POSITION_STEP = 1024
NAME_MAX_LENGTH = 200
DESCRIPTION_MAX_LENGTH = 2_000
LIST_KEYS = (SortKey(UserList.created_at, False, parse_datetime), SortKey(UserList.id, False, parse_uuid))
ITEM_KEYS = (SortKey(ListItem.position, False, parse_int), SortKey(ListItem.media_id, False, parse_uuid))

# --- reading lists -------------------------------------------------------------------------------

list_columns = (
    UserList.id,
    UserList.user_id,
    UserList.name,
    UserList.description,
    UserList.is_public,
    UserList.list_type,
    UserList.filter_definition,
    UserList.created_at,
    UserList.updated_at,
    profile_is_public().label("owner_profile_public"),
)


class UserListRow(Protocol):
    """A list as `list_columns` reads it."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def user_id(self) -> uuid.UUID: ...
    @property
    def name(self) -> str: ...
    @property
    def description(self) -> str | None: ...
    @property
    def is_public(self) -> bool: ...
    @property
    def list_type(self) -> str: ...
    @property
    def filter_definition(self) -> dict[str, Any] | None: ...
    @property
    def created_at(self) -> dt.datetime: ...
    @property
    def updated_at(self) -> dt.datetime: ...
    @property
    def owner_profile_public(self) -> bool: ...


def _lists_select() -> Any:
    return select(*list_columns).join(User, User.id == UserList.user_id)


LISTS_BY_IDS = _lists_select().where(UserList.id == any_(uuid_keys()))


async def lists_by_ids(conn: AsyncConnection, ids: Sequence[uuid.UUID]) -> list[UserListRow | None]:
    rows = {row.id: row for row in await conn.execute(LISTS_BY_IDS, {"keys": list(ids)})}
    return [rows.get(list_id) for list_id in ids]


def _owner_condition(owner_id: Any, include_private: bool) -> ColumnElement[bool]:
    return and_(UserList.user_id == owner_id, true() if include_private else UserList.is_public)


@dataclass(frozen=True)
class ListsRequest:
    """One `lists(first, after)` of one owner; `include_private` for the owner themself. Check its
    cursor (`check_lists_cursor`) before loading it."""

    owner_id: uuid.UUID
    include_private: bool
    first: int
    after: str | None = None


def _lists_cursor_values(after: str) -> list[Any]:
    return keyset_values(LIST_KEYS, "lists", after)


def check_lists_cursor(after: str | None) -> None:
    if after is not None:
        _lists_cursor_values(after)


@functools.lru_cache(maxsize=64)
def _lists_part(part: int, include_private: bool, with_cursor: bool) -> Any:
    """A LATERAL page of lists per owner of `part{part}_owners`, for one visibility. Built once per
    variant (a viewer's lists are read on most requests of the apps): the owners, the page size and the
    cursor are parameters (`_lists_parameters`)."""
    owners = (
        func.unnest(uuid_keys(f"part{part}_owners"))
        .table_valued(column("owner_id", Uuid(as_uuid=True)))
        .render_derived(name=f"owners{part}")
    )
    page = _lists_select().where(_owner_condition(owners.c.owner_id, include_private))
    if with_cursor:
        cursor = [
            bindparam(f"part{part}_after_created", type_=DateTime(timezone=True)),
            bindparam(f"part{part}_after_id", type_=Uuid),
        ]
        page = page.where(keys_after(LIST_KEYS, cursor))
    limit = bindparam(f"part{part}_limit", type_=Integer)
    lateral = page.order_by(UserList.created_at, UserList.id).limit(limit).lateral(f"page{part}")
    return select(literal_column(str(part)).label("part"), lateral).select_from(owners).join(lateral, true())


@functools.lru_cache(maxsize=64)
def _lists_query(variants: tuple[tuple[bool, bool], ...]) -> DirectStatement:
    """Run by asyncpg directly (db/direct.py): a viewer's lists are read on most requests of the apps."""
    return DirectStatement(
        union_of([_lists_part(number, *variant) for number, variant in enumerate(variants)])
    )


def _lists_parameters(part: int, owners: list[uuid.UUID], first: int, after: str | None) -> dict[str, Any]:
    parameters: dict[str, Any] = {f"part{part}_owners": owners, f"part{part}_limit": first + 1}
    if after is not None:
        created, list_id = _lists_cursor_values(after)
        parameters[f"part{part}_after_created"] = created
        parameters[f"part{part}_after_id"] = list_id
    return parameters


def _list_cursor(row: Any) -> str:
    return keyset_cursor("lists", [row.created_at, row.id])


async def list_pages_of_owners(
    conn: DirectConnection, requests: Sequence[ListsRequest]
) -> list[Page[UserListRow]]:
    """Pages of the lists of many owners in one statement, oldest first: one UNION ALL part per
    distinct (visibility, first, after), its owners an array parameter."""
    groups: dict[tuple[bool, int, str | None], list[uuid.UUID]] = {}
    for request in requests:
        groups.setdefault((request.include_private, request.first, request.after), []).append(
            request.owner_id
        )
    query = _lists_query(tuple((include_private, after is not None) for include_private, _, after in groups))
    parameters: dict[str, Any] = {}
    for number, ((_, first, after), owners) in enumerate(groups.items()):
        parameters.update(_lists_parameters(number, owners, first, after))
    part_of = {group: number for number, group in enumerate(groups)}
    found: dict[tuple[int, uuid.UUID], list[Any]] = {}
    for row in await query.fetch(conn, parameters):
        found.setdefault((row.part, row.user_id), []).append(row)
    pages = []
    for request in requests:
        part = part_of[(request.include_private, request.first, request.after)]
        rows = sorted(found.get((part, request.owner_id), []), key=lambda row: (row.created_at, row.id))
        kept: list[UserListRow] = rows[: request.first]
        pages.append(
            Page(rows=kept, has_next_page=len(rows) > request.first, cursors=LazyCursors(kept, _list_cursor))
        )
    return pages


LIST_COUNTS = (
    select(
        UserList.user_id, func.count().label("lists"), func.count().filter(UserList.is_public).label("public")
    )
    .where(UserList.user_id == any_(uuid_keys()))
    .group_by(UserList.user_id)
)


async def list_counts_of_owners(conn: AsyncConnection, requests: Sequence[ListsRequest]) -> list[int]:
    """`totalCount` of many owners' lists in one statement."""
    counts = {
        row.user_id: row
        for row in await conn.execute(LIST_COUNTS, {"keys": [request.owner_id for request in requests]})
    }
    totals = []
    for request in requests:
        row = counts.get(request.owner_id)
        totals.append(0 if row is None else int(row.lists if request.include_private else row.public))
    return totals


# --- items of many lists in one statement ---------------------------------------------------------


@dataclass(frozen=True)
class ItemsRequest:
    """One `items(first, after)` of one list. For smart lists `definition` is the stored JSON text;
    `evaluate` is False when the reader may not see what the definition reveals (then: no items)."""

    list_id: uuid.UUID
    smart: bool
    owner_id: uuid.UUID
    definition: str | None
    evaluate: bool
    first: int = 20
    after: str | None = None


def _smart_cursor_values(request: ItemsRequest, keys: Sequence[SortKey]) -> tuple[list[Any], int] | None:
    if request.after is None:
        return None
    *values, ordinal = keyset_values(keys, "smart-list", request.after, trailing=(parse_int,))
    return values, ordinal


def _smart_items(request: ItemsRequest) -> Any:
    definition = SmartDefinition.from_stored(json.loads(request.definition or "{}"))
    keys = smart_sort_keys(definition)
    order = order_by(keys)
    query = smart_base(
        definition,
        request.owner_id,
        literal(request.list_id, UUID(as_uuid=True)).label("list_id"),
        *media_read_columns,
        func.row_number().over(order_by=order).label("ordinal"),
        cast(null(), DateTime(timezone=True)).label("added_at"),
        cast(func.jsonb_build_array(*(key.expression for key in keys)), Text).label("sort_values"),
        cast(null(), BigInteger).label("position"),
    )
    after = _smart_cursor_values(request, keys)
    base_ordinal = 0
    if after is not None:
        values, last_ordinal = after
        query = query.where(keys_after(keys, values))
        base_ordinal = last_ordinal + 1
    page = query.order_by(*order).limit(request.first + 1).subquery()
    return select(
        page.c.list_id,
        *(page.c[column.key] for column in media_read_columns),
        (page.c.ordinal - 1 + base_ordinal).label("ordinal"),
        page.c.added_at,
        page.c.sort_values,
        page.c.position,
    )


@functools.lru_cache(maxsize=64)
def _static_items(part: int, with_cursor: bool) -> Any:
    """A page of each list through its (list_id, position) index: LIMIT per list, never the whole list.
    The ordinal is the row number in the page plus the number of items up to the cursor. Built once
    per part number and cursor presence: lists, page size and cursor are parameters
    (`_static_parameters`)."""
    lists = (
        func.unnest(uuid_keys(f"part{part}_lists"))
        .table_valued(column("list_id", Uuid(as_uuid=True)))
        .render_derived(name="lists")
    )
    in_order = (ListItem.position, ListItem.media_id)
    in_list = ListItem.list_id == lists.c.list_id
    cursor = [bindparam(f"part{part}_position", type_=BigInteger), bindparam(f"part{part}_media", type_=Uuid)]
    page = (
        select(
            ListItem.media_id,
            ListItem.position,
            ListItem.added_at,
            func.row_number().over(order_by=in_order).label("rank"),
        )
        .where(in_list, keys_after(ITEM_KEYS, cursor) if with_cursor else true())
        .order_by(*in_order)
        .limit(bindparam(f"part{part}_limit", type_=Integer))
        .lateral("page")
    )
    before: Any = literal_column("0")
    if with_cursor:
        before = select(func.count()).where(in_list, ~keys_after(ITEM_KEYS, cursor)).scalar_subquery()
    return (
        select(
            lists.c.list_id,
            *media_read_columns,
            (page.c.rank - 1 + before).label("ordinal"),
            page.c.added_at,
            # The cursor's values are the position and the media id, read as they are: a JSON array of
            # them per row cost PostgreSQL a fifth of this statement.
            cast(null(), Text).label("sort_values"),
            page.c.position,
            literal_column(str(part)).label("part"),
        )
        .select_from(lists)
        .join(page, true())
        .join(Media, Media.id == page.c.media_id)
    )


def _static_parameters(
    part: int, list_ids: Sequence[uuid.UUID], first: int, after: str | None
) -> dict[str, Any]:
    parameters: dict[str, Any] = {f"part{part}_lists": list(list_ids), f"part{part}_limit": first + 1}
    if after is not None:
        position, media_id = _static_cursor_values(after)
        parameters[f"part{part}_position"] = position
        parameters[f"part{part}_media"] = media_id
    return parameters


def _static_cursor_values(after: str) -> list[Any]:
    position, media_id, _ordinal = keyset_values(ITEM_KEYS, "list", after, trailing=(parse_int,))
    return [position, media_id]


@functools.lru_cache(maxsize=64)
def _static_pages(with_cursors: tuple[bool, ...]) -> DirectStatement:
    """The pages of static lists alone (a request without smart lists), one part per page asked for,
    run by asyncpg directly (db/direct.py)."""
    return DirectStatement(
        union_of([_static_items(number, with_cursor) for number, with_cursor in enumerate(with_cursors)])
    )


def items_query(requests: Sequence[ItemsRequest]) -> tuple[Any, dict[str, Any], list[int | None]]:
    """One UNION ALL for every request, each part tagged with its number, its parameters, and the
    part of each request (None: nothing to evaluate). Static lists asking for the same page share
    one part. Without smart lists, the statement is a DirectStatement built once per shape."""
    static_groups: dict[tuple[int, str | None], list[uuid.UUID]] = {}
    for request in requests:
        if not request.smart:
            static_groups.setdefault((request.first, request.after), []).append(request.list_id)
    parts = []
    parameters: dict[str, Any] = {}
    for number, ((first, after), list_ids) in enumerate(static_groups.items()):
        parts.append(_static_items(number, after is not None))
        parameters.update(_static_parameters(number, list_ids, first, after))
    static_part = {page: number for number, page in enumerate(static_groups)}
    part_of: list[int | None] = []
    for request in requests:
        if not request.smart:
            part_of.append(static_part[(request.first, request.after)])
        elif request.evaluate:
            part_of.append(len(parts))
            parts.append(_smart_items(request).add_columns(literal(len(parts)).label("part")))
        else:
            part_of.append(None)
    if parts and len(parts) == len(static_groups):
        return _static_pages(tuple(after is not None for _, after in static_groups)), parameters, part_of
    return union_of(parts), parameters, part_of


@dataclass
class ListItemRow:
    media: MediaRow
    ordinal: int
    added_at: dt.datetime | None


def _item_cursor(kind: str, row: Any) -> str:
    if row.sort_values is None:  # a static list's item
        return keyset_cursor(kind, [row.position, row.id, row.ordinal])
    # sort_values is JSON text, decoded only for the cursors a client reads.
    return keyset_cursor(kind, [*json.loads(row.sort_values), row.ordinal])


async def list_item_pages(conn: AsyncConnection, requests: Sequence[ItemsRequest]) -> list[Page[ListItemRow]]:
    """Pages of items for many lists (static and smart) in one statement, in position order."""
    query, parameters, part_of = items_query(requests)
    rows: list[Any]
    if query is None:
        rows = []
    elif isinstance(query, DirectStatement):
        rows = await query.fetch(conn, parameters)
    else:
        rows = list(await conn.execute(query, parameters))
    by_part: dict[tuple[int, uuid.UUID], list[Any]] = {}
    for row in rows:
        by_part.setdefault((row.part, row.list_id), []).append(row)
    pages = []
    for request, part in zip(requests, part_of, strict=True):
        found = sorted(
            by_part.get((part, request.list_id), []) if part is not None else [], key=lambda row: row.ordinal
        )
        kept = found[: request.first]
        kind = "smart-list" if request.smart else "list"
        pages.append(
            Page(
                rows=[ListItemRow(row, row.ordinal, row.added_at) for row in kept],
                has_next_page=len(found) > request.first,
                cursors=LazyCursors(kept, functools.partial(_item_cursor, kind)),
            )
        )
    return pages


STATIC_COUNTS = (
    select(ListItem.list_id, func.count().label("items"))
    .where(ListItem.list_id == any_(uuid_keys("static_ids")))
    .group_by(ListItem.list_id)
)


def counts_query(requests: Sequence[ItemsRequest]) -> tuple[Any, dict[str, Any]]:
    static_ids = [request.list_id for request in requests if not request.smart]
    parts: list[Any] = [STATIC_COUNTS] if static_ids else []
    for request in requests:
        if request.smart and request.evaluate:
            definition = SmartDefinition.from_stored(json.loads(request.definition or "{}"))
            parts.append(
                smart_base(
                    definition,
                    request.owner_id,
                    literal(request.list_id, UUID(as_uuid=True)).label("list_id"),
                    func.count().label("items"),
                )
            )
    return union_of(parts), {"static_ids": static_ids}


async def list_item_counts(conn: AsyncConnection, requests: Sequence[ItemsRequest]) -> list[int]:
    query, parameters = counts_query(requests)
    counts = (
        {} if query is None else {row.list_id: row.items for row in await conn.execute(query, parameters)}
    )
    return [int(counts.get(request.list_id, 0)) for request in requests]


# --- writing lists --------------------------------------------------------------------------------


async def create_list(conn: AsyncConnection, owner_id: uuid.UUID, values: dict[str, Any]) -> uuid.UUID:
    statement = insert(UserList).values(user_id=owner_id, **values).returning(UserList.id)
    list_id: uuid.UUID = (await conn.execute(statement)).scalar_one()
    return list_id


async def lock_list(conn: AsyncConnection, list_id: uuid.UUID) -> Any:
    """The list row, locked so adds and moves on one list run one at a time."""
    query = select(*list_columns).join(User, User.id == UserList.user_id).where(UserList.id == list_id)
    return (await conn.execute(query.with_for_update(of=UserList))).first()


async def update_list(conn: AsyncConnection, list_id: uuid.UUID, values: dict[str, Any]) -> dt.datetime:
    """Write `values`; the list's new updated_at."""
    statement = (
        update(UserList)
        .where(UserList.id == list_id)
        .values(**values, updated_at=func.now())
        .returning(UserList.updated_at)
    )
    updated_at: dt.datetime = (await conn.execute(statement)).scalar_one()
    return updated_at


async def delete_list(conn: AsyncConnection, list_id: uuid.UUID) -> None:
    await conn.execute(delete(UserList).where(UserList.id == list_id))


@dataclass(frozen=True)
class ItemFacts:
    media_exists: bool
    in_list: bool
    items: int


async def item_facts(conn: AsyncConnection, list_id: uuid.UUID, media_id: uuid.UUID) -> ItemFacts:
    """Whether the media exists, whether the list holds it, and how many items the list holds."""
    in_list = ListItem.list_id == list_id
    query = select(
        select(Media.id).where(Media.id == media_id).exists().label("media_exists"),
        select(ListItem.media_id).where(in_list, ListItem.media_id == media_id).exists().label("in_list"),
        select(func.count()).select_from(ListItem).where(in_list).scalar_subquery().label("items"),
    )
    row = (await conn.execute(query)).one()
    return ItemFacts(bool(row.media_exists), bool(row.in_list), int(row.items))


def _ordinals(list_id: uuid.UUID, moving: uuid.UUID | None) -> Any:
    return (
        select(
            ListItem.media_id,
            ListItem.position,
            (func.row_number().over(order_by=(ListItem.position, ListItem.media_id)) - 1).label("ordinal"),
        )
        .where(ListItem.list_id == list_id, ListItem.media_id != moving if moving else true())
        .subquery()
    )


async def free_position(
    conn: AsyncConnection, list_id: uuid.UUID, ordinal: int, moving: uuid.UUID | None = None
) -> int:
    """A stored position that puts an item at `ordinal` among the list's other items (0 = first)."""
    ranked = _ordinals(list_id, moving)
    neighbours = {
        row.ordinal: row.position
        for row in await conn.execute(
            select(ranked.c.ordinal, ranked.c.position).where(ranked.c.ordinal.in_([ordinal - 1, ordinal]))
        )
    }
    before, following = neighbours.get(ordinal - 1), neighbours.get(ordinal)
    if before is None and following is None:
        return 0
    if before is None:
        return int(following or 0) - POSITION_STEP
    if following is None:
        return int(before) + POSITION_STEP
    if following - before >= 2:
        return int((before + following) // 2)
    await _renumber_with_gap(conn, list_id, ordinal, moving)
    return ordinal * POSITION_STEP


async def _renumber_with_gap(
    conn: AsyncConnection, list_id: uuid.UUID, gap: int, moving: uuid.UUID | None
) -> None:
    ranked = _ordinals(list_id, moving)
    shifted = ranked.c.ordinal + cast(ranked.c.ordinal >= gap, Integer)
    await conn.execute(
        update(ListItem)
        .where(ListItem.list_id == list_id, ListItem.media_id == ranked.c.media_id)
        .values(position=shifted * POSITION_STEP)
    )


async def add_item(
    conn: AsyncConnection, list_id: uuid.UUID, media_id: uuid.UUID, position: int
) -> dt.datetime:
    """Insert the item; the list's new updated_at."""
    await conn.execute(insert(ListItem).values(list_id=list_id, media_id=media_id, position=position))
    return await touch_list(conn, list_id)


async def move_item(
    conn: AsyncConnection, list_id: uuid.UUID, media_id: uuid.UUID, position: int
) -> dt.datetime:
    await conn.execute(
        update(ListItem)
        .where(ListItem.list_id == list_id, ListItem.media_id == media_id)
        .values(position=position)
    )
    return await touch_list(conn, list_id)


async def remove_item(conn: AsyncConnection, list_id: uuid.UUID, media_id: uuid.UUID) -> dt.datetime | None:
    """The list's new updated_at, or None when the list did not hold the item."""
    deleted = await conn.execute(
        delete(ListItem)
        .where(ListItem.list_id == list_id, ListItem.media_id == media_id)
        .returning(ListItem.media_id)
    )
    if deleted.first() is None:
        return None
    return await touch_list(conn, list_id)


async def touch_list(conn: AsyncConnection, list_id: uuid.UUID) -> dt.datetime:
    statement = (
        update(UserList)
        .where(UserList.id == list_id)
        .values(updated_at=func.now())
        .returning(UserList.updated_at)
    )
    updated_at: dt.datetime = (await conn.execute(statement)).scalar_one()
    return updated_at


def check_items_cursor(request: ItemsRequest) -> None:
    """Raise InvalidCursor now rather than inside a batch shared with other lists."""
    if request.after is None:
        return
    if request.smart:
        definition = SmartDefinition.from_stored(json.loads(request.definition or "{}"))
        _smart_cursor_values(request, smart_sort_keys(definition))
    else:
        _static_cursor_values(request.after)
