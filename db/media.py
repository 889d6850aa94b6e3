"""Catalog reads: batch functions (one SQL statement each, results in key order) and searches."""

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from db.models import Media
from db.pagination import Page, after_condition, decode_cursor, encode_cursor

MEDIA_TYPES = (
    "book",
    "comic",
    "manga",
    "anime",
    "film",
    "series",
    "game",
    "podcast",
    "audiobook",
    "music",
    "live_event",
)

media_columns = (
    Media.id,
    Media.external_id,
    Media.media_type,
    Media.media_class,
    Media.title,
    Media.release_date,
    Media.country_of_origin,
    Media.creators,
    Media.cover_url,
    Media.description,
    Media.attributes,
    Media.collection_path,
    Media.tracker_count,
    Media.created_at,
    Media.updated_at,
)


async def media_by_ids(conn: AsyncConnection, ids: Sequence[uuid.UUID]) -> list[Row[Any] | None]:
    rows: list[Any] = list((await conn.execute(select(*media_columns).where(Media.id.in_(ids)))).all())
    by_id = {row.id: row for row in rows}
    return [by_id.get(media_id) for media_id in ids]


async def search_media(conn: AsyncConnection, first: int, after: str | None) -> Page[Row[Any]]:
    keys: list[tuple[Any, bool]] = [(Media.title, False), (Media.id, False)]
    query = select(*media_columns)
    if after is not None:
        title, media_id = decode_cursor(after, "media:title", 2)
        query = query.where(after_condition(keys, [title, uuid.UUID(media_id)]))
    query = query.order_by(Media.title, Media.id).limit(first + 1)
    rows: list[Any] = list((await conn.execute(query)).all())
    return Page(
        rows=rows[:first],
        has_next_page=len(rows) > first,
        cursors=[encode_cursor("media:title", [row.title, str(row.id)]) for row in rows[:first]],
    )


async def count_media(conn: AsyncConnection) -> int:
    return int((await conn.execute(select(func.count()).select_from(Media))).scalar_one())
