"""Catalog reads: batch functions (one SQL statement each, results in key order) and searches."""

import datetime as dt
import functools
import hashlib
import json
import typing
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Integer,
    Row,
    Text,
    and_,
    any_,
    bindparam,
    cast,
    false,
    func,
    literal,
    or_,
    select,
    text,
    true,
    tuple_,
    type_coerce,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import NullType

from db.batch import uuid_keys
from db.direct import DirectConnection, DirectStatement
from db.keyset import parse_date, parse_datetime, parse_float, parse_int32, parse_text, parse_uuid
from db.media_filters import MEDIA_TYPES, MediaFilter, exact_title, filter_conditions, relevance
from db.media_rows import ExternalLinkRow, MediaRow
from db.models import TRACKING_STATUSES, CatalogCount, ExternalLink, Media, MediaStatsCount
from db.pagination import BoundedCount, InvalidCursor, LazyCursors, Page, decode_cursor, encode_cursor

__all__ = ["MEDIA_TYPES", "SORT_FIELDS", "MediaSort", "MediaStats", "search_media"]

SORT_FIELDS = ("title", "release_date", "created_at", "relevance", "popularity")
# Relevance ranks precisely the RANK_WINDOW most popular matches and every exact-title match.
RANK_WINDOW = 100
# totalCount of searchMedia is exact up to this many items; above it the connection says "more than".
COUNT_BOUND = 1000
# ... and up to this many for a text search: counting reads every match up to the bound, and the
# matches of a search are found by testing items one by one (17 ms for 1,000 of a common word at a
# million items on a loaded machine, 6 ms for 100). As many as the ranked window: reading one match
# more than the window counts a relevance-ranked search with no second statement.
SEARCH_COUNT_BOUND = RANK_WINDOW


def count_bound(media_filter: MediaFilter) -> int:
    return SEARCH_COUNT_BOUND if media_filter.search else COUNT_BOUND


# Every column of an item but the search columns the database computes from the others.
media_columns = tuple(
    getattr(Media, column.key) for column in Media.__table__.columns if column.computed is None
)

# JSON columns the read path carries as text, decoded only when a client asks (decode_json).
JSON_READ_AS_TEXT = ("attributes", "alternative_titles", "field_sources")
# The read path's form of the media columns: JSON as text, `creators` as the list asyncpg decodes
# (no SQLAlchemy ARRAY pass per row).
_RAW_READS: dict[str, Callable[[Any], Any]] = {
    **{name: lambda column: cast(column, Text) for name in JSON_READ_AS_TEXT},
    "creators": lambda column: type_coerce(column, NullType()),
}
media_read_columns = tuple(
    _RAW_READS[column.key](column).label(column.key) if column.key in _RAW_READS else column
    for column in media_columns
)


def decode_json(value: Any) -> Any:
    """Rows of the read path carry JSON columns as text, rows of writes (curation) decoded."""
    return json.loads(value) if isinstance(value, str) else value


def media_attributes(row: MediaRow) -> dict[str, Any]:
    attributes: dict[str, Any] = decode_json(row.attributes)
    return attributes


# Every item a client opens: run by asyncpg directly (db/direct.py).
MEDIA_BY_IDS = DirectStatement(select(*media_read_columns).where(Media.id == any_(uuid_keys())))


async def media_by_ids(conn: DirectConnection, ids: Sequence[uuid.UUID]) -> list[MediaRow | None]:
    rows: list[Any] = await MEDIA_BY_IDS.fetch(conn, {"keys": list(ids)})
    by_id = {row.id: row for row in rows}
    return [by_id.get(media_id) for media_id in ids]


async def media_by_external_key(conn: AsyncConnection, source: str, key: str) -> MediaRow | None:
    """The item an external source knows as `key`: through external_links, or its own external_id."""
    linked = select(ExternalLink.media_id).where(
        ExternalLink.source_name == source, ExternalLink.external_key == key
    )
    query = (
        select(*media_read_columns)
        .where(or_(Media.id.in_(linked.scalar_subquery()), Media.external_id == f"{source}:{key}"))
        .limit(1)
    )
    return (await conn.execute(query)).first()


EXTERNAL_LINKS_BY_MEDIA_IDS = (
    select(ExternalLink.media_id, ExternalLink.source_name, ExternalLink.external_key)
    .where(ExternalLink.media_id == any_(uuid_keys()))
    .order_by(ExternalLink.source_name, ExternalLink.external_key)
)


async def external_links_by_media_ids(
    conn: AsyncConnection, ids: Sequence[uuid.UUID]
) -> list[list[ExternalLinkRow]]:
    by_id: dict[uuid.UUID, list[ExternalLinkRow]] = {media_id: [] for media_id in ids}
    for row in (await conn.execute(EXTERNAL_LINKS_BY_MEDIA_IDS, {"keys": list(ids)})).all():
        by_id[row.media_id].append(row)
    return [by_id[media_id] for media_id in ids]


@dataclass(frozen=True)
class MediaStats:
    trackers: int
    mean_rating: float | None
    by_status: dict[str, int]


# Counters kept by the tracking writes: at most one row per item and status, however many entries.
STATS_BY_MEDIA_IDS = select(
    MediaStatsCount.media_id,
    MediaStatsCount.status,
    MediaStatsCount.entries,
    MediaStatsCount.ratings,
    MediaStatsCount.rating_sum,
).where(MediaStatsCount.media_id == any_(uuid_keys()))


async def stats_by_media_ids(conn: AsyncConnection, ids: Sequence[uuid.UUID]) -> list[MediaStats]:
    """Aggregates over the entries of PUBLIC profiles, from the counters (a PRIVATE user's entries never
    count in what others read); no per-user value leaves this function."""
    entries: dict[uuid.UUID, Counter[str]] = {media_id: Counter() for media_id in ids}
    ratings: Counter[uuid.UUID] = Counter()
    rating_sums: Counter[uuid.UUID] = Counter()
    for row in (await conn.execute(STATS_BY_MEDIA_IDS, {"keys": list(ids)})).all():
        entries[row.media_id][row.status] += row.entries
        ratings[row.media_id] += row.ratings
        rating_sums[row.media_id] += row.rating_sum
    return [
        MediaStats(
            trackers=sum(entries[media_id].values()),
            mean_rating=rating_sums[media_id] / ratings[media_id] if ratings[media_id] else None,
            by_status={status: entries[media_id][status] for status in TRACKING_STATUSES},
        )
        for media_id in ids
    ]


async def _catalog_counts(conn: AsyncConnection, kind: str) -> dict[str, int]:
    """Items per value of `kind` ('type', 'class' or 'genre'), summed over the counter shards."""
    total = func.sum(CatalogCount.items)
    query = (
        select(CatalogCount.value, total)
        .where(CatalogCount.kind == kind)
        .group_by(CatalogCount.value)
        .having(total > 0)
    )
    return {row[0]: int(row[1]) for row in (await conn.execute(query)).all()}


async def media_type_counts(conn: AsyncConnection) -> list[tuple[str, int]]:
    """Every media type with its number of items, zero included, in vocabulary order."""
    counts = await _catalog_counts(conn, "type")
    return [(media_type, counts.get(media_type, 0)) for media_type in MEDIA_TYPES]


async def media_class_counts(conn: AsyncConnection) -> list[tuple[str, int]]:
    """Every taxonomy path in use and each of its ancestors, with the number of items in its subtree."""
    subtree: Counter[str] = Counter()
    for media_class, count in (await _catalog_counts(conn, "class")).items():
        labels = media_class.split(".")
        for depth in range(1, len(labels) + 1):
            subtree[".".join(labels[:depth])] += count
    return sorted(subtree.items())


async def genre_counts(conn: AsyncConnection) -> list[tuple[str, int]]:
    """Every genre in use with its number of items, most used first, then by name."""
    counts = await _catalog_counts(conn, "genre")
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


@dataclass(frozen=True)
class MediaSort:
    field: str
    descending: bool = False


@dataclass(frozen=True)
class _SortKey:
    name: str
    expression: Any
    descending: bool
    nullable: bool
    parse: Callable[[Any], Any]


def _sort_keys(media_filter: MediaFilter, sort: Sequence[MediaSort]) -> list[_SortKey]:
    search = media_filter.search
    keys: list[_SortKey] = []
    for spec in sort or (MediaSort("relevance", True) if search else MediaSort("title"),):
        if spec.field not in SORT_FIELDS:
            raise ValueError(f"unknown sort field {spec.field}")
        if spec.field in {key.name for key in keys}:
            continue
        if spec.field == "title":
            keys.append(_SortKey("title", Media.title, spec.descending, False, parse_text))
        elif spec.field == "release_date":
            keys.append(_SortKey("release_date", Media.release_date, spec.descending, True, parse_date))
        elif spec.field == "created_at":
            keys.append(_SortKey("created_at", Media.created_at, spec.descending, False, parse_datetime))
        elif spec.field == "relevance" and search:
            relevance_score = relevance(search, media_filter.typo_corrections)
            keys.append(_SortKey("relevance", relevance_score, spec.descending, False, parse_float))
        else:
            # Without a search text, relevance means popularity.
            keys.append(_SortKey("popularity", Media.tracker_count, spec.descending, False, parse_int32))
    keys.append(_SortKey("id", Media.id, keys[-1].descending, False, parse_uuid))
    return keys


def _after(keys: Sequence[_SortKey], values: Sequence[Any]) -> ColumnElement[bool]:
    """Rows strictly after `values`; nullable keys sort their NULLs last in either direction.

    Keys of one direction and no NULL make a row comparison, which an index on those columns
    takes as its start (an index condition), so a deep page reads only its own rows."""
    if len({key.descending for key in keys}) == 1 and not any(
        key.nullable or value is None for key, value in zip(keys, values, strict=True)
    ):
        position = tuple_(*(key.expression for key in keys))
        bound = tuple_(
            *(
                value if isinstance(value, BindParameter) else literal(value, type_=_key_type(key))
                for key, value in zip(keys, values, strict=True)
            )
        )
        return position < bound if keys[0].descending else position > bound
    condition: ColumnElement[bool] = false()
    equal_prefix: ColumnElement[bool] = true()
    for key, value in zip(keys, values, strict=True):
        expression = key.expression
        if value is None:
            beyond: ColumnElement[bool] = false()
            equal: ColumnElement[bool] = expression.is_(None)
        else:
            beyond = expression < value if key.descending else expression > value
            if key.nullable:
                beyond = or_(beyond, expression.is_(None))
            equal = expression == value
        condition = or_(condition, and_(equal_prefix, beyond))
        equal_prefix = and_(equal_prefix, equal)
    return condition


def _order_by(keys: Sequence[_SortKey]) -> list[Any]:
    order = []
    for key in keys:
        ordered = key.expression.desc() if key.descending else key.expression.asc()
        order.append(ordered.nulls_last() if key.nullable else ordered)
    return order


def _cursor_kind(kind: str, media_filter: MediaFilter, keys: Sequence[_SortKey]) -> str:
    """Names the query, its sort and a digest of its filter, so a foreign cursor is refused."""
    filter_digest = hashlib.sha256(json.dumps(media_filter.to_json(), sort_keys=True).encode()).hexdigest()
    order = ",".join(f"{key.name}{'-' if key.descending else '+'}" for key in keys)
    return f"{kind}:{order}:{filter_digest[:12]}"


def _cursor_value(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _decode_after(after: str, kind: str, keys: Sequence[_SortKey]) -> list[Any]:
    raw = decode_cursor(after, kind, len(keys))
    try:
        return [
            None if value is None and key.nullable else key.parse(value)
            for key, value in zip(keys, raw, strict=True)
        ]
    except (TypeError, ValueError) as exc:
        raise InvalidCursor("The cursor is not valid") from exc


def _filtered(media_filter: MediaFilter, extra_conditions: Iterable[ColumnElement[bool]]) -> Any:
    return select(*media_read_columns).where(filter_conditions(media_filter), *extra_conditions)


def _is_ranked(media_filter: MediaFilter, sort: Sequence[MediaSort]) -> bool:
    return bool(media_filter.search) and (
        not sort or (len(sort) == 1 and sort[0].field == "relevance" and sort[0].descending)
    )


def page_counts_matches(media_filter: MediaFilter, sort: Sequence[MediaSort]) -> bool:
    """Whether `search_media` returns the page with its `total` (a relevance-ranked text search)."""
    return _is_ranked(media_filter, sort)


async def search_media(
    conn: AsyncConnection,
    media_filter: MediaFilter,
    sort: Sequence[MediaSort],
    first: int,
    after: str | None,
    extra_conditions: Iterable[ColumnElement[bool]] = (),
    cursor_kind: str = "media",
) -> Page[Row[Any]]:
    """One keyset page of the catalog matching the filter (and `extra_conditions` on media.media).

    Raises InvalidCursor for a cursor of another query, sort or filter. `cursor_kind` names the
    calling query so that, say, a franchise cursor is refused by searchMedia.
    """
    if _is_ranked(media_filter, sort):
        return await _ranked_page(conn, media_filter, list(extra_conditions), first, after, cursor_kind)
    keys = _sort_keys(media_filter, sort)
    kind = _cursor_kind(cursor_kind, media_filter, keys)
    after_values = None if after is None else _decode_after(after, kind, keys)
    extra_conditions = list(extra_conditions)
    if media_filter.search and keys[0].name in WALKABLE:
        return _page(
            await _walked_page(conn, media_filter, extra_conditions, keys, first, after_values),
            first,
            kind,
            keys,
        )
    cursor_nulls = None if after_values is None else tuple(value is None for value in after_values)
    parameters: dict[str, Any] = {"limit": first + 1}
    for number, value in enumerate(after_values or ()):
        if value is not None:
            parameters[f"after_{number}"] = value
    if _is_catalog_filter(media_filter, extra_conditions):
        query = _catalog_page_query(media_filter, tuple(sort), cursor_nulls)
    else:
        query = _page_statement(media_filter, keys, extra_conditions, cursor_nulls)
    return _page(list((await conn.execute(query, parameters)).all()), first, kind, keys)


def _is_catalog_filter(media_filter: MediaFilter, extra_conditions: Sequence[ColumnElement[bool]]) -> bool:
    """Filters whose statements `_catalog_page_query` and `_count_query` keep: no search text (its
    statement carries its typo corrections, which the filter's equality ignores), no attributes (a
    dict: not hashable), nothing added by the caller."""
    return not media_filter.search and media_filter.attributes is None and not extra_conditions


# The catalog screens ask for a few filters over and over, page after page: their statements are built
# once per filter, sort and cursor shape (which keys of the cursor are NULL), the page size and the
# cursor's values parameters. Hashable filters only (not the attributes' JSON).
@functools.lru_cache(maxsize=512)
def _catalog_page_query(
    media_filter: MediaFilter, sort: tuple[MediaSort, ...], cursor_nulls: tuple[bool, ...] | None
) -> Any:
    return _page_statement(media_filter, _sort_keys(media_filter, sort), (), cursor_nulls)


def _page_statement(
    media_filter: MediaFilter,
    keys: Sequence["_SortKey"],
    extra_conditions: Iterable[ColumnElement[bool]],
    cursor_nulls: tuple[bool, ...] | None,
) -> Any:
    """A page in the order of `keys`; the page size (`limit`) and the cursor's non-NULL values
    (`after_<n>`) are parameters, `cursor_nulls` says which of its values are NULL."""
    query = _filtered(media_filter, extra_conditions).add_columns(
        *(key.expression.label(f"sort_{key.name}") for key in keys)
    )
    if cursor_nulls is not None:
        placeholders = [
            None if is_null else bindparam(f"after_{number}", type_=_key_type(key))
            for number, (key, is_null) in enumerate(zip(keys, cursor_nulls, strict=True))
        ]
        query = query.where(_after(keys, placeholders))
    return query.order_by(*_order_by(keys)).limit(bindparam("limit", type_=Integer))


def _key_type(key: "_SortKey") -> Any:
    return typing.cast(ColumnElement[Any], key.expression).type


# Leading sort keys of a text search read by walking their index (`_first_matches`): an index on
# (tracker_count, id), and one on release_date whose equal dates the id orders in a small sort.
WALKABLE = ("popularity", "release_date")


async def _walked_page(
    conn: AsyncConnection,
    media_filter: MediaFilter,
    extra_conditions: Iterable[ColumnElement[bool]],
    keys: list[_SortKey],
    first: int,
    after_values: list[Any] | None,
) -> list[Any]:
    """A text search's page sorted by a walkable key: dated items, then undated ones (NULLs last in
    both directions, which no index order gives in one walk)."""
    match = and_(filter_conditions(media_filter), *extra_conditions)
    columns = (*media_read_columns, *(key.expression.label(f"sort_{key.name}") for key in keys))
    leading = keys[0]
    types = media_filter.media_types
    position = [] if after_values is None else [_after(keys, after_values)]
    rows: list[Any] = []
    if not leading.nullable:
        return await _first_matches(conn, match, columns, position, keys, first + 1, types)
    start = ... if after_values is None else after_values[0]
    if start is not None:
        bound: list[ColumnElement[bool]] = [leading.expression.is_not(None)]
        if start is not ...:
            bound.append(leading.expression <= start if leading.descending else leading.expression >= start)
        dated = [replace(key, nullable=False) for key in keys]
        rows = await _first_matches(conn, match, columns, [*bound, *position], dated, first + 1, types)
    if len(rows) <= first:
        undated = select(*columns).where(match, leading.expression.is_(None), *position)
        undated = undated.order_by(*_order_by(keys[1:])).limit(first + 1 - len(rows))
        rows += list((await conn.execute(undated)).all())
    return rows


def _page(rows: list[Any], first: int, kind: str, keys: Sequence[_SortKey]) -> Page[Row[Any]]:
    page = rows[:first]
    return Page(
        rows=page,
        has_next_page=len(rows) > first,
        cursors=LazyCursors(page, lambda row: _encode_row(row, kind, keys)),
    )


def _encode_row(row: Any, kind: str, keys: Sequence[_SortKey]) -> str:
    return encode_cursor(kind, [_cursor_value(getattr(row, f"sort_{key.name}")) for key in keys])


def _ranked_keys(media_filter: MediaFilter) -> list[_SortKey]:
    """Best match first; equal scores by popularity, then the earliest release (undated last); the id
    only makes the order total."""
    return [
        _SortKey(
            "relevance",
            relevance(media_filter.search or "", media_filter.typo_corrections),
            True,
            False,
            parse_float,
        ),
        _SortKey("popularity", Media.tracker_count, True, False, parse_int32),
        _SortKey("release_date", Media.release_date, False, True, parse_date),
        _SortKey("id", Media.id, False, False, parse_uuid),
    ]


POPULAR_KEYS = [
    _SortKey("popularity", Media.tracker_count, True, False, parse_int32),
    _SortKey("id", Media.id, True, False, parse_uuid),
]


async def _ranked_page(
    conn: AsyncConnection,
    media_filter: MediaFilter,
    extra_conditions: list[ColumnElement[bool]],
    first: int,
    after: str | None,
    cursor_kind: str,
) -> Page[Row[Any]]:
    """Relevance in two stages, so a page costs the same whether 50 or 500,000 items match.

    The ranked window is the RANK_WINDOW most popular matches (`_first_matches`) plus every
    exact-title match (the titles' GIN); only they are scored precisely. Matches outside the window
    follow it, most popular first, paged by a row comparison on the popularity index. A cursor says
    which of the two it continues.
    """
    search = media_filter.search or ""
    match = and_(filter_conditions(media_filter), *extra_conditions)
    ranked_keys = _ranked_keys(media_filter)
    base_kind = _cursor_kind(cursor_kind, media_filter, ranked_keys)
    ranked_kind, popular_kind = f"{base_kind}:ranked", f"{base_kind}:popular"
    ranked_after = popular_after = None
    if after is not None:
        try:
            ranked_after = _decode_after(after, ranked_kind, ranked_keys)
        except InvalidCursor:
            popular_after = _decode_after(after, popular_kind, POPULAR_KEYS)

    counted = max(RANK_WINDOW, SEARCH_COUNT_BOUND) + 1
    types = media_filter.media_types
    window = await _first_matches(conn, match, POPULAR_COLUMNS, [], POPULAR_KEYS, counted, types)
    total = BoundedCount(min(len(window), SEARCH_COUNT_BOUND), len(window) <= SEARCH_COUNT_BOUND)
    del window[RANK_WINDOW:]
    rows: list[Any] = []
    if popular_after is None:
        # Exact titles are few: found through the titles' index, then tested (coalesce: not through
        # the full-text index, which would read every match of the words again).
        in_window = or_(
            Media.id == any_(uuid_keys("window")), and_(exact_title(search), func.coalesce(match, false()))
        )
        query = select(
            *media_read_columns, *(key.expression.label(f"sort_{key.name}") for key in ranked_keys)
        ).where(in_window)
        if ranked_after is not None:
            query = query.where(_after(ranked_keys, ranked_after))
        query = query.order_by(*_order_by(ranked_keys)).limit(first + 1)
        rows = list((await conn.execute(query, {"window": [row.sort_id for row in window]})).all())
        if len(rows) > first or len(window) < RANK_WINDOW:
            return replace(_page(rows, first, ranked_kind, ranked_keys), total=total)
    more: list[Any] = []
    if len(window) == RANK_WINDOW:
        # Past the window: the other matches by popularity, from the window's least popular on.
        position = tuple_(Media.tracker_count, Media.id)
        beyond = [position < tuple_(window[-1].sort_popularity, window[-1].sort_id)]
        if popular_after is not None:
            beyond.append(position < tuple_(*popular_after))
        columns = (*media_read_columns, *POPULAR_COLUMNS)
        rest = and_(match, ~exact_title(search))
        more = await _first_matches(conn, rest, columns, beyond, POPULAR_KEYS, first + 1 - len(rows), types)
    ranked_page = _page(rows, first, ranked_kind, ranked_keys)
    popular_page = _page(more, first - len(rows), popular_kind, POPULAR_KEYS)
    both = ranked_page.rows + popular_page.rows
    return Page(
        rows=both,
        has_next_page=popular_page.has_next_page,
        total=total,
        cursors=LazyCursors(
            both,
            lambda row: (
                _encode_row(row, ranked_kind, ranked_keys)
                if "sort_relevance" in row._fields
                else _encode_row(row, popular_kind, POPULAR_KEYS)
            ),
        ),
    )


POPULAR_COLUMNS = tuple(key.expression.label(f"sort_{key.name}") for key in POPULAR_KEYS)
# How `_first_matches` reads: the first WALK_ROWS items of the sort's index, then MAX_WALK_ROWS at most.
WALK_ROWS = 2_000
MAX_WALK_ROWS = 20_000
# Sort keys with an index per media type ((media_type, key, id)): a search filtered by types walks
# each type's index and merges them.
TYPED_WALKS = ("popularity", "release_date")


async def _catalog_sizes(conn: AsyncConnection, media_types: Sequence[str] | None) -> dict[str, float]:
    """How many items the walks go through: the planner's count of the catalog (kept by VACUUM and
    ANALYZE) under "", or the counters' count of each of `media_types`."""
    if media_types is None:
        return {"": float((await conn.execute(CATALOG_ROWS)).scalar_one())}
    rows = (await conn.execute(TYPE_SIZES, {"types": list(media_types)})).all()
    sizes = {media_type: float(items) for media_type, items in rows}
    return {media_type: sizes.get(media_type, 0.0) for media_type in media_types}


CATALOG_ROWS = text("SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = 'media.media'::regclass")
TYPE_SIZES = (
    select(CatalogCount.value, func.sum(CatalogCount.items))
    .where(CatalogCount.kind == "type", CatalogCount.value == any_(bindparam("types", type_=ARRAY(Text))))
    .group_by(CatalogCount.value)
)


async def _first_matches(
    conn: AsyncConnection,
    match: ColumnElement[bool],
    columns: Sequence[Any],
    conditions: Sequence[ColumnElement[bool]],
    keys: Sequence[_SortKey],
    limit: int,
    media_types: Sequence[str] | None = None,
) -> list[Any]:
    """The first `limit` rows (`columns`, labelled `sort_<key>` for each key) in the order of
    `keys` (non-null, an index's order) that match `match` and meet `conditions`. With
    `media_types` (which `match` requires), the walks go through each type's index and merge.

    How many rows a plan reads to find them depends on how common the matches are, which the
    planner can only estimate (2x off for two common words together, and then it walked 46,000
    rows for 100). Here the estimate only says whether there are few (then they are all read
    through the full-text index and sorted); otherwise a first walk of the index tests
    WALK_ROWS items and measures: common matches are found in that walk, rarer ones in a longer walk
    sized from what the first found, or by sorting every match when the walks do not find enough.
    """
    types = sorted(set(media_types)) if media_types and keys[0].name in TYPED_WALKS else None
    estimate = await _estimated_rows(conn, select(Media.id).where(match, *conditions))
    sizes = await _catalog_sizes(conn, types)
    catalog = sum(sizes.values())
    # A walk reads about limit * catalog / matches rows, sorting every match reads the matches.
    if estimate * estimate > limit * catalog:
        rows, found = await _walk(conn, match, columns, conditions, keys, WALK_ROWS, limit, sizes)
        if rows is not None:
            return rows
        walk_rows = 0
        if found * MAX_WALK_ROWS >= 2 * limit * WALK_ROWS:
            walk_rows = 2 * limit * WALK_ROWS // found
        elif not found:
            # None among the first items, yet many by the statistics: they sit further along the
            # order (items of a kind cluster: the latest release dates are announced books and games).
            walk_rows = MAX_WALK_ROWS
        if walk_rows:
            rows, _ = await _walk(conn, match, columns, conditions, keys, walk_rows, limit, sizes)
            if rows is not None:
                return rows
    # `+ 0`: not the index's order, so the plan starts from the matches.
    leading, *others = keys
    unindexed = _order_by([replace(leading, expression=leading.expression + 0), *others])
    every_match = select(*columns).where(match, *conditions).order_by(*unindexed).limit(limit)
    return list((await conn.execute(every_match)).all())


async def _estimated_rows(conn: AsyncConnection, statement: Any) -> float:
    """The planner's estimate of how many rows `statement` returns (EXPLAIN: nothing is read)."""
    compiled = statement.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params = tuple(compiled.params[name] for name in compiled.positiontup or ())
    plan = (await conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}", params)).scalar_one()
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return float(plan[0]["Plan"]["Plan Rows"])


async def _walk(
    conn: AsyncConnection,
    match: ColumnElement[bool],
    columns: Sequence[Any],
    conditions: Sequence[ColumnElement[bool]],
    keys: Sequence[_SortKey],
    walk_rows: int,
    limit: int,
    sizes: dict[str, float],
) -> tuple[list[Any] | None, int]:
    """The first `limit` matches among the first `walk_rows` rows meeting `conditions`, or None
    when the walk may have missed some of them; and how many matches it found for sure.

    `sizes` is {"": catalog size} for one walk of the sort's index, or the size of each media type
    (which `match` requires) to walk each type's index, merged. A type's share of `walk_rows` is its
    share of the items, so that the walks of all types reach about the same point of the order. The
    walk of a type stops at its frontier, its last row: beyond it that type's matches are unknown,
    so only matches ordered before the first frontier reached are certain. Rows are read lazily
    (a merge of index walks, up to `limit` matches): common matches cost few rows."""
    catalog = sum(sizes.values())
    order = _order_by(keys)
    statements = []
    for media_type, size in sizes.items():
        share = size / catalog if catalog > 0 else 1 / len(sizes)
        part_rows = max(limit + 1, round(walk_rows * share))
        walked = (
            select(
                *columns,
                match.label("hit"),
                (func.row_number().over(order_by=order) == part_rows).label("frontier"),
            )
            .where(*([Media.media_type == media_type] if media_type else []), *conditions)
            .order_by(*order)
            .limit(part_rows)
            .subquery("walked")
        )
        statements.append(
            select(walked).where(or_(walked.c.hit, walked.c.frontier)).order_by(*_sort_columns(walked, keys))
        )
    walks = (
        union_all(*statements).subquery("walks") if len(statements) > 1 else statements[0].subquery("walks")
    )
    # The first `limit` matches, or fewer followed by a frontier: `limit + 1` rows at most.
    query = select(walks).order_by(*_sort_columns(walks, keys)).limit(limit + 1)
    certain: list[Any] = []
    for row in (await conn.execute(query)).all():
        if row.hit:
            certain.append(row)
            if len(certain) == limit:
                return certain, limit
        if row.frontier:
            return None, len(certain)
    return certain, len(certain)


def _sort_columns(selectable: Any, keys: Sequence[_SortKey]) -> list[Any]:
    """The order of `keys` over the `sort_<key>` columns of a subquery."""
    columns = [selectable.c[f"sort_{key.name}"] for key in keys]
    return [c.desc() if key.descending else c.asc() for c, key in zip(columns, keys, strict=True)]


MediaCount = BoundedCount


async def count_media(
    conn: AsyncConnection,
    media_filter: MediaFilter | None = None,
    extra_conditions: Iterable[ColumnElement[bool]] = (),
    bound: int | None = None,
) -> MediaCount:
    """The number of matching items, counted up to `bound` (exact below it, `exact` False above)."""
    media_filter = media_filter or MediaFilter()
    extra_conditions = list(extra_conditions)
    if _is_catalog_filter(media_filter, extra_conditions):
        query = _count_query(media_filter, bound)
    else:
        query = _count_statement(media_filter, extra_conditions, bound)
    count = int((await conn.execute(query)).scalar_one())
    if bound is not None and count > bound:
        return MediaCount(bound, False)
    return MediaCount(count, True)


def _count_statement(
    media_filter: MediaFilter, extra_conditions: Iterable[ColumnElement[bool]], bound: int | None
) -> Any:
    matching = select(Media.id).where(filter_conditions(media_filter), *extra_conditions)
    if bound is not None:
        matching = matching.limit(bound + 1)
    return select(func.count()).select_from(matching.subquery())


@functools.lru_cache(maxsize=512)
def _count_query(media_filter: MediaFilter, bound: int | None) -> Any:
    """Built once per (hashable) filter, as `_catalog_page_query`."""
    return _count_statement(media_filter, (), bound)
