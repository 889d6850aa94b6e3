"""The writes on a user's tracking entries, one transaction each: the entries are locked, merged with
the changes (db/tracking.py's `merge_entry`, the rules an import follows too) and written in one
statement; nothing is written when any of them is refused."""

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from db import tracking
from db.media_rows import EntryRow
from db.refusals import FIELD, RefusalCode, Refused, invalid, not_found, refused
from db.tracking import EntryChanges


def not_in_library(*field: str) -> Refused:
    return refused(RefusalCode.NOT_FOUND, "This item is not in your library", *field)


def _where(field: str, index: int, bulk: bool) -> tuple[str, ...]:
    return (field, str(index)) if bulk else (field,)


async def _write_entries(
    engine: AsyncEngine,
    user_id: uuid.UUID,
    given_ids: Sequence[uuid.UUID | None],
    changes: EntryChanges,
    *,
    bulk: bool,
) -> list[EntryRow]:
    """Create (not `bulk`) or update (`bulk`: every entry must exist) the entries of the media; the
    entries as written, one per distinct id in order. An id None names no media. Refusals name
    `media_id` or `media_ids.<index>`."""
    field = "media_ids" if bulk else "media_id"
    media_ids: list[uuid.UUID] = []
    for index, media_id in enumerate(given_ids):
        if media_id is None:
            raise not_found("media", *_where(field, index, bulk))
        media_ids.append(media_id)
    now = dt.datetime.now(dt.UTC)
    async with engine.begin() as conn:
        media = await tracking.media_for_tracking(conn, media_ids)
        existing = await tracking.entries_for_update(conn, user_id, media_ids)
        merged: dict[uuid.UUID, dict[str, Any]] = {}
        for index, media_id in enumerate(media_ids):
            if media_id not in media:
                raise not_found("media", *_where(field, index, bulk))
            if bulk and media_id not in existing:
                raise not_in_library(*_where(field, index, bulk))
            item = media[media_id]
            try:
                merged[media_id] = tracking.merge_entry(
                    existing.get(media_id), changes, item.media_type, item.attributes, now
                )
            except tracking.InvalidEntry as exc:
                raise invalid(f"{FIELD} {exc}", exc.field) from exc
        snapshots = {
            media_id: {"title": media[media_id].title, "mediaType": media[media_id].media_type}
            for media_id in media_ids
        }
        rows = await tracking.upsert_entries(conn, user_id, merged, snapshots)
    by_media = {row.entry_media_id: row for row in rows}
    return [by_media[media_id] for media_id in dict.fromkeys(media_ids)]


async def track_media(
    engine: AsyncEngine, user_id: uuid.UUID, media_id: uuid.UUID | None, changes: EntryChanges
) -> EntryRow:
    """Create or change the user's entry for one item; `media_id` None: an id that names no media."""
    (entry,) = await _write_entries(engine, user_id, [media_id], changes, bulk=False)
    return entry


async def update_entries(
    engine: AsyncEngine, user_id: uuid.UUID, media_ids: Sequence[uuid.UUID | None], changes: EntryChanges
) -> list[EntryRow]:
    """The same change to up to BULK_MAX entries the user has, all or nothing; an id None names no
    media."""
    if not 1 <= len(media_ids) <= tracking.BULK_MAX:
        raise invalid(f"Give 1 to {tracking.BULK_MAX} media ids", "media_ids")
    return await _write_entries(engine, user_id, media_ids, changes, bulk=True)


async def untrack_media(engine: AsyncEngine, user_id: uuid.UUID, media_id: uuid.UUID | None) -> None:
    """Remove the user's entry; `media_id` None: an id that names no media."""
    if media_id is None:
        raise not_in_library("media_id")
    async with engine.begin() as conn:
        deleted = await tracking.delete_entry(conn, user_id, media_id)
    if not deleted:
        raise not_in_library("media_id")
