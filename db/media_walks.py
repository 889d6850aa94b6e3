"""The first matches of a search in the order of an index (popularity, release date), read without
letting the planner's estimate of the number of matches choose between walking the index and sorting
every match: walks of a bounded number of rows measure how common the matches are."""

import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Text,
    any_,
    bindparam,
    func,
    literal_column,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from db.keyset import SortKey, label, order_by
from db.models import CatalogCount, Media

# How `first_matches` reads: the first WALK_ROWS items of the sort's index, then MAX_WALK_ROWS at most.
WALK_ROWS = 2_000
MAX_WALK_ROWS = 20_000
# Sort keys with an index per media type ((media_type, key, id)): a search filtered by types walks
# each type's index and merges them.
TYPED_WALKS = ("popularity", "release_date")
# Items tracked by at least this many people have their own full-text index (idx_media_search_popular,
# whose predicate is this constant, spelled as a literal so that the planner can use it).
POPULAR_TIER = 10


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


async def first_matches(
    conn: AsyncConnection,
    match: ColumnElement[bool],
    columns: Sequence[Any],
    conditions: Sequence[ColumnElement[bool]],
    keys: Sequence[SortKey],
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
    unindexed = order_by([replace(leading, expression=leading.expression + 0), *others])
    every_match = select(*columns).where(match, *conditions).order_by(*unindexed).limit(limit)
    if leading.name == "popularity" and leading.descending:
        # Every popular match comes before every other: when the popular items hold `limit` matches,
        # they are the first. Read through the popular items' own full-text index (a fraction of
        # the catalog's: the words' posting lists and the matches read shrink alike).
        popular = every_match.where(Media.tracker_count >= literal_column(str(POPULAR_TIER)))
        rows = list((await conn.execute(popular)).all())
        if len(rows) == limit:
            return rows
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
    keys: Sequence[SortKey],
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
    order = order_by(keys)
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


def _sort_columns(selectable: Any, keys: Sequence[SortKey]) -> list[Any]:
    """The order of `keys` over the `sort_<key>` columns of a subquery."""
    columns = [selectable.c[label(i, key)] for i, key in enumerate(keys)]
    return [c.desc() if key.descending else c.asc() for c, key in zip(columns, keys, strict=True)]
