"""Catalog searches and pages (searchMedia, franchise, smart lists): one keyset page of the items
matching a filter in the order asked for, and their bounded count. A text search ranked by relevance
reads a bounded window (`_ranked_page`); one sorted by popularity or release date walks that
order's index (db/media_walks.py)."""

import functools
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import ColumnElement, Integer, Row, and_, any_, bindparam, false, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from db.batch import uuid_keys
from db.keyset import (
    BoundedCount,
    InvalidCursor,
    LazyCursors,
    Page,
    SortKey,
    cursor_of,
    key_type,
    keys_after,
    keyset_page,
    keyset_values,
    labelled,
    order_by,
    parse_date,
    parse_datetime,
    parse_float,
    parse_int32,
    parse_text,
    parse_uuid,
)
from db.media import media_read_columns
from db.media_filters import MediaFilter, exact_title, filter_conditions, relevance
from db.media_walks import first_matches
from db.models import Media

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


@dataclass(frozen=True)
class MediaSort:
    field: str
    descending: bool = False


def _sort_keys(media_filter: MediaFilter, sort: Sequence[MediaSort]) -> list[SortKey]:
    search = media_filter.search
    keys: list[SortKey] = []
    for spec in sort or (MediaSort("relevance", True) if search else MediaSort("title"),):
        if spec.field not in SORT_FIELDS:
            raise ValueError(f"unknown sort field {spec.field}")
        if spec.field in {key.name for key in keys}:
            continue
        if spec.field == "title":
            keys.append(SortKey(Media.title, spec.descending, parse_text, "title"))
        elif spec.field == "release_date":
            keys.append(
                SortKey(Media.release_date, spec.descending, parse_date, "release_date", nullable=True)
            )
        elif spec.field == "created_at":
            keys.append(SortKey(Media.created_at, spec.descending, parse_datetime, "created_at"))
        elif spec.field == "relevance" and search:
            relevance_score = relevance(search, media_filter.typo_corrections)
            keys.append(SortKey(relevance_score, spec.descending, parse_float, "relevance"))
        else:
            # Without a search text, relevance means popularity.
            keys.append(SortKey(Media.tracker_count, spec.descending, parse_int32, "popularity"))
    keys.append(SortKey(Media.id, keys[-1].descending, parse_uuid, "id"))
    return keys


def _cursor_kind(kind: str, media_filter: MediaFilter, keys: Sequence[SortKey]) -> str:
    """Names the query, its sort and a digest of its filter, so a foreign cursor is refused."""
    filter_digest = hashlib.sha256(json.dumps(media_filter.to_json(), sort_keys=True).encode()).hexdigest()
    order = ",".join(f"{key.name}{'-' if key.descending else '+'}" for key in keys)
    return f"{kind}:{order}:{filter_digest[:12]}"


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
    after_values = None if after is None else keyset_values(keys, kind, after)
    extra_conditions = list(extra_conditions)
    if media_filter.search and keys[0].name in WALKABLE:
        return keyset_page(
            await _walked_page(conn, media_filter, extra_conditions, keys, first, after_values),
            keys,
            kind,
            first,
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
    return keyset_page(list((await conn.execute(query, parameters)).all()), keys, kind, first)


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
    keys: Sequence[SortKey],
    extra_conditions: Iterable[ColumnElement[bool]],
    cursor_nulls: tuple[bool, ...] | None,
) -> Any:
    """A page in the order of `keys`; the page size (`limit`) and the cursor's non-NULL values
    (`after_<n>`) are parameters, `cursor_nulls` says which of its values are NULL."""
    query = _filtered(media_filter, extra_conditions).add_columns(*labelled(keys))
    if cursor_nulls is not None:
        placeholders = [
            None if is_null else bindparam(f"after_{number}", type_=key_type(key))
            for number, (key, is_null) in enumerate(zip(keys, cursor_nulls, strict=True))
        ]
        query = query.where(keys_after(keys, placeholders))
    return query.order_by(*order_by(keys)).limit(bindparam("limit", type_=Integer))


# Leading sort keys of a text search read by walking their index (`_first_matches`): an index on
# (tracker_count, id), and one on release_date whose equal dates the id orders in a small sort.
WALKABLE = ("popularity", "release_date")


async def _walked_page(
    conn: AsyncConnection,
    media_filter: MediaFilter,
    extra_conditions: Iterable[ColumnElement[bool]],
    keys: list[SortKey],
    first: int,
    after_values: list[Any] | None,
) -> list[Any]:
    """A text search's page sorted by a walkable key: dated items, then undated ones (NULLs last in
    both directions, which no index order gives in one walk)."""
    match = and_(filter_conditions(media_filter), *extra_conditions)
    columns = (*media_read_columns, *labelled(keys))
    leading = keys[0]
    types = media_filter.media_types
    position = [] if after_values is None else [keys_after(keys, after_values)]
    rows: list[Any] = []
    if not leading.nullable:
        return await first_matches(conn, match, columns, position, keys, first + 1, types)
    start = ... if after_values is None else after_values[0]
    if start is not None:
        bound: list[ColumnElement[bool]] = [leading.expression.is_not(None)]
        if start is not ...:
            bound.append(leading.expression <= start if leading.descending else leading.expression >= start)
        dated = [replace(key, nullable=False) for key in keys]
        rows = await first_matches(conn, match, columns, [*bound, *position], dated, first + 1, types)
    if len(rows) <= first:
        undated = select(*columns).where(match, leading.expression.is_(None), *position)
        undated = undated.order_by(*order_by(keys[1:])).limit(first + 1 - len(rows))
        rows += list((await conn.execute(undated)).all())
    return rows


def _ranked_keys(media_filter: MediaFilter) -> list[SortKey]:
    """Best match first; equal scores by popularity, then the earliest release (undated last); the id
    only makes the order total."""
    return [
        SortKey(
            relevance(media_filter.search or "", media_filter.typo_corrections),
            True,
            parse_float,
            "relevance",
        ),
        SortKey(Media.tracker_count, True, parse_int32, "popularity"),
        SortKey(Media.release_date, False, parse_date, "release_date", nullable=True),
        SortKey(Media.id, False, parse_uuid, "id"),
    ]


POPULAR_KEYS = [
    SortKey(Media.tracker_count, True, parse_int32, "popularity"),
    SortKey(Media.id, True, parse_uuid, "id"),
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
            ranked_after = keyset_values(ranked_keys, ranked_kind, after)
        except InvalidCursor:
            popular_after = keyset_values(POPULAR_KEYS, popular_kind, after)

    counted = max(RANK_WINDOW, SEARCH_COUNT_BOUND) + 1
    types = media_filter.media_types
    window = await first_matches(conn, match, POPULAR_COLUMNS, [], POPULAR_KEYS, counted, types)
    total = BoundedCount(min(len(window), SEARCH_COUNT_BOUND), len(window) <= SEARCH_COUNT_BOUND)
    del window[RANK_WINDOW:]
    rows: list[Any] = []
    if popular_after is None:
        # Exact titles are few: found through the titles' index, then tested (coalesce: not through
        # the full-text index, which would read every match of the words again).
        in_window = or_(
            Media.id == any_(uuid_keys("window")), and_(exact_title(search), func.coalesce(match, false()))
        )
        query = select(*media_read_columns, *labelled(ranked_keys)).where(in_window)
        if ranked_after is not None:
            query = query.where(keys_after(ranked_keys, ranked_after))
        query = query.order_by(*order_by(ranked_keys)).limit(first + 1)
        rows = list((await conn.execute(query, {"window": [row.sort_id for row in window]})).all())
        if len(rows) > first or len(window) < RANK_WINDOW:
            return keyset_page(rows, ranked_keys, ranked_kind, first, total)
    more: list[Any] = []
    if len(window) == RANK_WINDOW:
        # Past the window: the other matches by popularity, from the window's least popular on.
        position = tuple_(Media.tracker_count, Media.id)
        beyond = [position < tuple_(window[-1].sort_popularity, window[-1].sort_id)]
        if popular_after is not None:
            beyond.append(position < tuple_(*popular_after))
        columns = (*media_read_columns, *POPULAR_COLUMNS)
        rest = and_(match, ~exact_title(search))
        more = await first_matches(conn, rest, columns, beyond, POPULAR_KEYS, first + 1 - len(rows), types)
    ranked_page = keyset_page(rows, ranked_keys, ranked_kind, first)
    popular_page = keyset_page(more, POPULAR_KEYS, popular_kind, first - len(rows))
    both = ranked_page.rows + popular_page.rows
    return Page(
        rows=both,
        has_next_page=popular_page.has_next_page,
        total=total,
        cursors=LazyCursors(
            both,
            lambda row: (
                cursor_of(row, ranked_keys, ranked_kind)
                if "sort_relevance" in row._fields
                else cursor_of(row, POPULAR_KEYS, popular_kind)
            ),
        ),
    )


POPULAR_COLUMNS = tuple(labelled(POPULAR_KEYS))
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
