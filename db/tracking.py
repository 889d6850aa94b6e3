"""Tracking entries (interaction.user_media): validation, writes, the library and its statistics.

Every statement names one user_id as a constant, so PostgreSQL prunes the hash-partitioned table to
that user's single partition.
"""

import datetime as dt
import functools
import json
import typing
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict

from sqlalchemy import (
    ColumnElement,
    Integer,
    Row,
    Text,
    Uuid,
    and_,
    any_,
    bindparam,
    case,
    cast,
    column,
    delete,
    func,
    literal_column,
    or_,
    select,
    true,
    tuple_,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from db.batch import union_of, uuid_keys
from db.keyset import (
    LazyCursors,
    Page,
    SortKey,
    keys_after,
    keyset_cursor,
    keyset_values,
    order_by,
    parse_date,
    parse_datetime,
    parse_int32,
    parse_text,
    parse_uuid,
)
from db.media import media_read_columns
from db.media_rows import EntryRow, LibraryRow
from db.models import TRACKING_STATUSES, Media, UserMedia
from db.types import Ltree

RATING_RANGE = (1, 10)
NOTES_MAX_LENGTH = 10_000
BULK_MAX = 100
NOT_NULL_FIELDS = ("status", "progress", "repeat_count")
# Where each media type keeps its number of units (the first positive integer found wins).
TOTAL_UNIT_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "book": ("page_count", "pages"),
    "audiobook": ("chapters",),
    "comic": ("issues", "chapters", "page_count"),
    "manga": ("chapters", "volumes"),
    "anime": ("episodes",),
    "series": ("episodes",),
    "podcast": ("episodes",),
    "music": ("track_count",),
}
# Undated entries sort after every dated one (dates sort latest first).
UNDATED = dt.datetime(1, 1, 1, tzinfo=dt.UTC)
# STATUS sorts what is being consumed first, then what is waiting, then what is done.
STATUS_RANK = {"in-progress": 0, "paused": 1, "planned": 2, "completed": 3, "dropped": 4}


class EntryChanges(TypedDict, total=False):
    """Fields of an entry to change; those left out keep their values (a new entry starts planned)."""

    status: str
    progress: int
    rating: int | None
    notes: str | None
    repeat_count: int
    started_at: dt.datetime | None
    completed_at: dt.datetime | None


ENTRY_FIELDS = tuple(EntryChanges.__annotations__)
entry_columns = (
    UserMedia.user_id.label("entry_user_id"),
    UserMedia.media_id.label("entry_media_id"),
    UserMedia.status.label("entry_status"),
    UserMedia.progress.label("entry_progress"),
    UserMedia.rating.label("entry_rating"),
    UserMedia.notes.label("entry_notes"),
    UserMedia.repeat_count.label("entry_repeat_count"),
    UserMedia.started_at.label("entry_started_at"),
    UserMedia.completed_at.label("entry_completed_at"),
    UserMedia.meta_snapshot.label("entry_meta_snapshot"),
    UserMedia.created_at.label("entry_created_at"),
    UserMedia.updated_at.label("entry_updated_at"),
)


# A client's clock may run a little ahead of ours; further ahead, a completion has not happened yet.
COMPLETION_CLOCK_SKEW = dt.timedelta(minutes=5)


class InvalidEntry(ValueError):
    """`field` (as stored) and what is wrong with its value, without the field's name."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def total_units(media_type: str, attributes: Mapping[str, Any] | None) -> int | None:
    """Episodes, chapters, pages... when the catalog knows them; None otherwise."""
    for key in TOTAL_UNIT_ATTRIBUTES.get(media_type, ()):
        value = (attributes or {}).get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def _empty_entry() -> dict[str, Any]:
    return {
        "status": "planned",
        "progress": 0,
        "rating": None,
        "notes": None,
        "repeat_count": 0,
        "started_at": None,
        "completed_at": None,
    }


def merge_entry(
    existing: Mapping[str, Any] | None,
    changes: Mapping[str, Any],
    media_type: str,
    attributes: Mapping[str, Any] | None,
    now: dt.datetime,
) -> dict[str, Any]:
    """The entry after `changes` (only the fields given), validated; raises InvalidEntry."""
    for name in changes:
        if name not in ENTRY_FIELDS:
            raise InvalidEntry(name, "is not a field of an entry")
        if name in NOT_NULL_FIELDS and changes[name] is None:
            raise InvalidEntry(name, "cannot be null")
    current = dict(existing) if existing is not None else _empty_entry()
    merged = {**current, **changes}
    total = total_units(media_type, attributes)
    if merged["status"] not in TRACKING_STATUSES:
        raise InvalidEntry("status", "is not a status")
    rating = merged["rating"]
    if rating is not None and not RATING_RANGE[0] <= rating <= RATING_RANGE[1]:
        raise InvalidEntry("rating", "must be between 1 and 10")
    if merged["progress"] < 0:
        raise InvalidEntry("progress", "cannot be negative")
    if total is not None and merged["progress"] > total:
        raise InvalidEntry("progress", f"cannot be above the total of {total}")
    if merged["repeat_count"] < 0:
        raise InvalidEntry("repeat_count", "cannot be negative")
    if merged["notes"] is not None and len(merged["notes"]) > NOTES_MAX_LENGTH:
        raise InvalidEntry("notes", f"must be at most {NOTES_MAX_LENGTH} characters")
    if merged["status"] == "completed":
        newly_completed = current["status"] != "completed"
        if merged["completed_at"] is None or (newly_completed and "completed_at" not in changes):
            merged["completed_at"] = now
        if total is not None:
            merged["progress"] = total
    completed_at = changes.get("completed_at")
    if completed_at is not None and completed_at > now + COMPLETION_CLOCK_SKEW:
        raise InvalidEntry("completed_at", "cannot be in the future")
    started, completed = merged["started_at"], merged["completed_at"]
    if started is not None and completed is not None and started > completed:
        raise InvalidEntry("started_at", "cannot be after the completion time")
    return merged


async def media_for_tracking(conn: AsyncConnection, media_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Any]:
    rows = await conn.execute(
        select(Media.id, Media.title, Media.media_type, Media.attributes).where(Media.id.in_(media_ids))
    )
    return {row.id: row for row in rows}


async def entries_for_update(
    conn: AsyncConnection, user_id: uuid.UUID, media_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, dict[str, Any]]:
    rows = await conn.execute(
        select(UserMedia.media_id, *(getattr(UserMedia, name) for name in ENTRY_FIELDS))
        .where(UserMedia.user_id == user_id, UserMedia.media_id.in_(media_ids))
        .with_for_update()
    )
    return {row.media_id: {name: getattr(row, name) for name in ENTRY_FIELDS} for row in rows}


async def upsert_entries(
    conn: AsyncConnection,
    user_id: uuid.UUID,
    entries: Mapping[uuid.UUID, Mapping[str, Any]],
    snapshots: Mapping[uuid.UUID, dict[str, Any]],
) -> list[EntryRow]:
    """Write full entries (already merged and validated) in one statement; the snapshot is kept from
    the first time an item was tracked."""
    values = [
        {"user_id": user_id, "media_id": media_id, **entry, "meta_snapshot": snapshots[media_id]}
        for media_id, entry in entries.items()
    ]
    statement = insert(UserMedia).values(values)
    statement = statement.on_conflict_do_update(
        index_elements=[UserMedia.user_id, UserMedia.media_id],
        set_={
            **{name: statement.excluded[name] for name in ENTRY_FIELDS},
            "updated_at": updated_at_if_changed(statement.excluded),
        },
    )
    return list(await conn.execute(statement.returning(*entry_columns)))


def updated_at_if_changed(excluded: Any) -> ColumnElement[Any]:
    """now() when an upsert changes any entry field, else the stored updated_at: a retried or
    repeated write must not reorder the library."""
    changed = or_(*(getattr(UserMedia, name).is_distinct_from(excluded[name]) for name in ENTRY_FIELDS))
    return case((changed, func.now()), else_=UserMedia.updated_at)


async def delete_entry(conn: AsyncConnection, user_id: uuid.UUID, media_id: uuid.UUID) -> bool:
    result = await conn.execute(
        delete(UserMedia)
        .where(UserMedia.user_id == user_id, UserMedia.media_id == media_id)
        .returning(UserMedia.media_id)
    )
    return result.first() is not None


# Every pair of the users and media asked for: in practice one user (the viewer), so exactly the
# keys, and one partition.
ENTRIES_BY_USERS_AND_MEDIA = select(*entry_columns).where(
    UserMedia.user_id == any_(uuid_keys("users")), UserMedia.media_id == any_(uuid_keys("media"))
)


def _entry_parameters(keys: Sequence[tuple[uuid.UUID, uuid.UUID]]) -> dict[str, Any]:
    return {
        "users": sorted({user_id for user_id, _ in keys}),
        "media": sorted({media_id for _, media_id in keys}),
    }


def entries_query(keys: Sequence[tuple[uuid.UUID, uuid.UUID]]) -> Any:
    return ENTRIES_BY_USERS_AND_MEDIA.params(_entry_parameters(keys))


async def entries_by_keys(
    conn: AsyncConnection, keys: Sequence[tuple[uuid.UUID, uuid.UUID]]
) -> list[EntryRow | None]:
    """Entries by (user id, media id)."""
    rows = await conn.execute(ENTRIES_BY_USERS_AND_MEDIA, _entry_parameters(keys))
    by_key: dict[tuple[uuid.UUID, uuid.UUID], EntryRow] = {
        (row.entry_user_id, row.entry_media_id): row for row in rows
    }
    return [by_key.get(key) for key in keys]


@dataclass(frozen=True)
class LibraryFilter:
    statuses: tuple[str, ...] | None = None
    media_types: tuple[str, ...] | None = None
    media_class: str | None = None

    def conditions(self, user_id: uuid.UUID | ColumnElement[uuid.UUID]) -> ColumnElement[bool]:
        return and_(UserMedia.user_id == user_id, self.entry_conditions())

    def entry_conditions(self) -> ColumnElement[bool]:
        conditions: list[ColumnElement[bool]] = []
        if self.statuses is not None:
            conditions.append(UserMedia.status.in_(self.statuses))
        if self.media_types is not None:
            conditions.append(Media.media_type.in_(self.media_types))
        if self.media_class:
            conditions.append(Media.media_class.op("<@")(cast(self.media_class, Ltree())))
        return and_(true(), *conditions)


def _parse_dated(value: Any) -> dt.datetime:
    # asyncpg sends UNDATED (datetime.min) as -infinity, so an undated entry's cursor holds that.
    return UNDATED if value == "-infinity" else parse_datetime(value)


def library_sort_keys(sort: str) -> list[SortKey]:
    by_media = SortKey(UserMedia.media_id, False, parse_uuid)
    if sort == "rating":
        return [SortKey(func.coalesce(UserMedia.rating, 0), True, parse_int32), by_media]
    if sort == "title":
        return [SortKey(Media.title, False, parse_text), by_media]
    if sort == "release_date":
        return [SortKey(func.coalesce(Media.release_date, dt.date.max), False, parse_date), by_media]
    if sort in ("completed_at", "started_at"):
        date = UserMedia.completed_at if sort == "completed_at" else UserMedia.started_at
        return [SortKey(func.coalesce(date, UNDATED), True, _parse_dated), by_media]
    if sort == "status":
        rank = case(STATUS_RANK, value=UserMedia.status, else_=len(STATUS_RANK))
        return [
            SortKey(rank, False, parse_int32),
            SortKey(UserMedia.updated_at, True, parse_datetime),
            by_media,
        ]
    return [SortKey(UserMedia.updated_at, True, parse_datetime), by_media]


@dataclass(frozen=True)
class LibraryRequest:
    """One `library(filter, sort, first, after)` of one user. Check its cursor (`check_library_cursor`)
    before loading it: a batch serves many requests and must not fail for one."""

    user_id: uuid.UUID
    library_filter: LibraryFilter
    sort: str
    first: int
    after: str | None = None


def check_library_cursor(sort: str, after: str | None) -> None:
    """Raises InvalidCursor unless `after` is a cursor of this sort's library."""
    if after is not None:
        keyset_values(library_sort_keys(sort), f"library:{sort}", after)


# Filters are a small vocabulary (statuses, media types, a class): parts are kept per filter value.
@functools.lru_cache(maxsize=256)
def _library_part(part: int, library_filter: LibraryFilter, sort: str, with_cursor: bool) -> Any:
    """The pages of one (filter, sort, first, after) for the users of `part{part}_users`: a LATERAL page
    per user, ranked in page order, the sort values as JSON text (parts of other sorts share the
    UNION's columns). Built once per part number, filter, sort and cursor presence: page size and
    cursor are parameters (`_library_parameters`)."""
    users = (
        func.unnest(uuid_keys(f"part{part}_users"))
        .table_valued(column("user_id", Uuid(as_uuid=True)))
        .render_derived(name=f"users{part}")
    )
    keys = library_sort_keys(sort)
    order = order_by(keys)
    base = (
        select(
            *entry_columns,
            *media_read_columns,
            func.row_number().over(order_by=order).label("rank"),
            cast(func.jsonb_build_array(*(key.expression for key in keys)), Text).label("sort_values"),
        )
        .join(Media, Media.id == UserMedia.media_id)
        .where(library_filter.conditions(users.c.user_id))
    )
    if with_cursor:
        cursor = [
            bindparam(f"part{part}_after{i}", type_=typing.cast(ColumnElement[Any], key.expression).type)
            for i, key in enumerate(keys)
        ]
        base = base.where(keys_after(keys, cursor))
    limit = bindparam(f"part{part}_limit", type_=Integer)
    page = base.order_by(*order).limit(limit).lateral(f"page{part}")
    return select(literal_column(str(part)).label("part"), page).select_from(users).join(page, true())


def _library_parameters(
    part: int, user_ids: list[uuid.UUID], sort: str, first: int, after: str | None
) -> dict[str, Any]:
    parameters: dict[str, Any] = {f"part{part}_users": user_ids, f"part{part}_limit": first + 1}
    if after is not None:
        values = keyset_values(library_sort_keys(sort), f"library:{sort}", after)
        parameters.update({f"part{part}_after{i}": value for i, value in enumerate(values)})
    return parameters


def library_pages_query(requests: Sequence[LibraryRequest]) -> tuple[Any, dict[str, Any], list[int]]:
    """One UNION ALL part per distinct (filter, sort, first, after), its users an array parameter;
    the part of each request."""
    groups: dict[tuple[LibraryFilter, str, int, str | None], list[uuid.UUID]] = {}
    for request in requests:
        key = (request.library_filter, request.sort, request.first, request.after)
        groups.setdefault(key, []).append(request.user_id)
    parts: list[Any] = []
    parameters: dict[str, Any] = {}
    for number, ((library_filter, sort, first, after), user_ids) in enumerate(groups.items()):
        parts.append(_library_part(number, library_filter, sort, after is not None))
        parameters.update(_library_parameters(number, user_ids, sort, first, after))
    part_of = {key: number for number, key in enumerate(groups)}
    query = union_of(parts)
    return (
        query,
        parameters,
        [part_of[(r.library_filter, r.sort, r.first, r.after)] for r in requests],
    )


def _library_cursor(sort: str, row: Any) -> str:
    # sort_values is JSON text, decoded only for the cursors a client reads.
    return keyset_cursor(f"library:{sort}", json.loads(row.sort_values))


async def library_pages(conn: AsyncConnection, requests: Sequence[LibraryRequest]) -> list[Page[LibraryRow]]:
    """Library pages of many users (any filters and sorts) in one statement, each in its sort order."""
    query, parameters, part_of = library_pages_query(requests)
    found: dict[tuple[int, uuid.UUID], list[Row[Any]]] = {}
    for row in await conn.execute(query, parameters):
        found.setdefault((row.part, row.entry_user_id), []).append(row)
    pages = []
    for request, part in zip(requests, part_of, strict=True):
        rows = sorted(found.get((part, request.user_id), []), key=lambda row: row.rank)
        kept: list[LibraryRow] = list(rows[: request.first])
        pages.append(
            Page(
                rows=kept,
                has_next_page=len(rows) > request.first,
                cursors=LazyCursors(kept, functools.partial(_library_cursor, request.sort)),
            )
        )
    return pages


def library_counts_query(requests: Sequence[LibraryRequest]) -> tuple[Any, dict[str, Any], list[int]]:
    groups: dict[LibraryFilter, list[uuid.UUID]] = {}
    for request in requests:
        groups.setdefault(request.library_filter, []).append(request.user_id)
    parts: list[Any] = [
        select(
            literal_column(str(number)).label("part"),
            UserMedia.user_id,
            func.count().label("entries"),
        )
        .join(Media, Media.id == UserMedia.media_id)
        .where(
            UserMedia.user_id == any_(uuid_keys(f"part{number}_users")),
            library_filter.entry_conditions(),
        )
        .group_by(UserMedia.user_id)
        for number, library_filter in enumerate(groups)
    ]
    parameters = {f"part{number}_users": user_ids for number, user_ids in enumerate(groups.values())}
    part_of = {library_filter: number for number, library_filter in enumerate(groups)}
    query = union_of(parts)
    return query, parameters, [part_of[request.library_filter] for request in requests]


async def library_counts(conn: AsyncConnection, requests: Sequence[LibraryRequest]) -> list[int]:
    """`totalCount` of many library requests in one statement."""
    query, parameters, part_of = library_counts_query(requests)
    counts = {(row.part, row.user_id): row.entries for row in await conn.execute(query, parameters)}
    return [int(counts.get((part, r.user_id), 0)) for r, part in zip(requests, part_of, strict=True)]


@dataclass
class LibraryStats:
    total: int = 0
    mean_rating: float | None = None
    by_status: dict[str, int] = field(default_factory=dict)
    by_media_type: dict[str, int] = field(default_factory=dict)


def _stats_query() -> Any:
    return (
        select(
            UserMedia.user_id,
            UserMedia.status,
            Media.media_type,
            func.grouping(UserMedia.status).label("no_status"),
            func.grouping(Media.media_type).label("no_media_type"),
            func.count().label("entries"),
            func.avg(UserMedia.rating).label("mean_rating"),
        )
        .join(Media, Media.id == UserMedia.media_id)
        .where(UserMedia.user_id == any_(uuid_keys()))
        .group_by(
            func.grouping_sets(
                tuple_(UserMedia.user_id, UserMedia.status),
                tuple_(UserMedia.user_id, Media.media_type),
                tuple_(UserMedia.user_id),
            )
        )
    )


STATS_BY_USERS = _stats_query()


def stats_query(user_ids: Sequence[uuid.UUID]) -> Any:
    return STATS_BY_USERS.params(keys=list(user_ids))


async def stats_by_users(conn: AsyncConnection, user_ids: Sequence[uuid.UUID]) -> list[LibraryStats]:
    """Counts by status, by media type and the mean rating, per user, in one statement."""
    stats = {user_id: LibraryStats() for user_id in user_ids}
    for row in await conn.execute(STATS_BY_USERS, {"keys": list(user_ids)}):
        entry = stats[row.user_id]
        if not row.no_status:
            entry.by_status[row.status] = row.entries
        elif not row.no_media_type:
            entry.by_media_type[row.media_type] = row.entries
        else:
            entry.total = row.entries
            entry.mean_rating = None if row.mean_rating is None else round(float(row.mean_rating), 2)
    return [stats[user_id] for user_id in user_ids]
