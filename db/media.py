"""Catalog point reads, stats and filter menus: batch functions, one SQL statement each, results in
key order. Searches and catalog pages are in db/media_search.py."""

import json
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Text, any_, cast, func, or_, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import NullType

from db.batch import uuid_keys
from db.direct import DirectConnection, DirectStatement
from db.media_filters import MEDIA_TYPES
from db.media_rows import ExternalLinkRow, MediaRow
from db.models import TRACKING_STATUSES, CatalogCount, ExternalLink, Media, MediaStatsCount

__all__ = ["MEDIA_TYPES", "MediaStats"]

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
