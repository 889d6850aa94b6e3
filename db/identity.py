"""Resolving identity conflicts by hand: merging two items into one, and moving a key to another
item. Both run inside the caller's transaction, record revisions and mark the ingestion conflicts
they settle as resolved (docs/ingestion.md, Identity)."""

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from db.counters import PUBLIC_OWNER
from db.curation import record_revision, snapshot
from db.media import media_columns
from db.models import ExternalLink, Media, MediaRedirect
from db.refusals import RefusalCode, refused

MOVE_RELATIONS = text(
    "INSERT INTO media.relationships (media_id, related_media_id, relation_type, notes, weight, created_at) "
    "SELECT CASE WHEN media_id = :merge THEN CAST(:keep AS uuid) ELSE media_id END, "
    "CASE WHEN related_media_id = :merge THEN CAST(:keep AS uuid) ELSE related_media_id END, "
    "relation_type, notes, weight, created_at FROM media.relationships "
    "WHERE (media_id = :merge OR related_media_id = :merge) "
    "AND NOT (media_id IN (:keep, :merge) AND related_media_id IN (:keep, :merge)) "
    "ON CONFLICT DO NOTHING"
)
MOVE_PENDING = text(
    "INSERT INTO ingest.pending_relations (media_id, target_source, target_key, relation_type, notes, weight, "
    "created_at) SELECT :keep, target_source, target_key, relation_type, notes, weight, created_at "
    "FROM ingest.pending_relations WHERE media_id = :merge ON CONFLICT DO NOTHING"
)
# A user tracking both items keeps the entry of the item kept; so does a list holding both.
MOVE_ENTRIES = text(
    "UPDATE interaction.user_media u SET media_id = :keep WHERE u.media_id = :merge AND NOT EXISTS "
    "(SELECT 1 FROM interaction.user_media k WHERE k.user_id = u.user_id AND k.media_id = :keep)"
)
MOVE_LIST_ITEMS = text(
    "UPDATE interaction.list_items i SET media_id = :keep WHERE i.media_id = :merge AND NOT EXISTS "
    "(SELECT 1 FROM interaction.list_items k WHERE k.list_id = i.list_id AND k.media_id = :keep)"
)
# The trigger counting trackers sees inserts and deletes only: moved entries are counted here.
RECOUNT_TRACKERS = text(
    "UPDATE media.media SET tracker_count = "
    "(SELECT count(*) FROM interaction.user_media um JOIN users.users u ON u.id = um.user_id "
    f"WHERE um.media_id = :keep AND {PUBLIC_OWNER}) WHERE id = :keep"
)
REDIRECT = text(
    "WITH moved AS (UPDATE media.redirects SET media_id = :keep WHERE media_id = :merge) "
    "INSERT INTO media.redirects (old_id, media_id) VALUES (:merge, :keep)"
)
RESOLVE_ITEM_CONFLICTS = text(
    "UPDATE ingest.conflicts SET resolved_at = now() WHERE resolved_at IS NULL AND "
    "((existing_media_id = :merge AND (incoming_media_id = :keep OR incoming_media_id IS NULL)) "
    "OR (existing_media_id = :keep AND incoming_media_id = :merge))"
)
RESOLVE_KEY_CONFLICTS = text(
    "UPDATE ingest.conflicts SET resolved_at = now() "
    "WHERE resolved_at IS NULL AND source_name = :source AND external_key = :key"
)


async def _locked(conn: AsyncConnection, ids: dict[str, uuid.UUID]) -> dict[str, Any]:
    """Both items, locked in id order (two merges of the same pair never deadlock)."""
    rows: list[Any] = list(
        (
            await conn.execute(
                select(*media_columns)
                .where(Media.id.in_(list(ids.values())))
                .order_by(Media.id)
                .with_for_update()
            )
        ).all()
    )
    by_id = {row.id: row for row in rows}
    for field, media_id in ids.items():
        if media_id not in by_id:
            raise refused(RefusalCode.NOT_FOUND, "No media item has this id", field)
    return {field: by_id[media_id] for field, media_id in ids.items()}


async def merge_media(
    conn: AsyncConnection, actor_id: uuid.UUID | None, keep_id: uuid.UUID, merge_id: uuid.UUID
) -> dict[str, int]:
    """Fold `merge_id` into `keep_id`: its keys, relations, waiting relations, tracking entries and
    list items move over, the kept item's fields stay as they are, and the merged id becomes a
    redirect to the kept item. Returns how many of each moved."""
    if keep_id == merge_id:
        raise refused(RefusalCode.INVALID, "An item cannot be merged into itself", "merge_id")
    items = await _locked(conn, {"keep_id": keep_id, "merge_id": merge_id})
    keep, merged = items["keep_id"], items["merge_id"]
    ids = {"keep": keep_id, "merge": merge_id}
    links = (
        await conn.execute(
            update(ExternalLink)
            .where(ExternalLink.media_id == merge_id)
            .values(media_id=keep_id)
            .returning(ExternalLink.source_name)
        )
    ).all()
    if keep.external_id is None and merged.external_id is not None:
        await conn.execute(update(Media).where(Media.id == merge_id).values(external_id=None))
        await conn.execute(update(Media).where(Media.id == keep_id).values(external_id=merged.external_id))
    moved = {
        "external_links": len(links),
        "relations": (await conn.execute(MOVE_RELATIONS, ids)).rowcount,
        "pending_relations": (await conn.execute(MOVE_PENDING, ids)).rowcount,
        "tracking_entries": (await conn.execute(MOVE_ENTRIES, ids)).rowcount,
        "list_items": (await conn.execute(MOVE_LIST_ITEMS, ids)).rowcount,
    }
    await conn.execute(REDIRECT, ids)
    await conn.execute(delete(Media).where(Media.id == merge_id))
    await conn.execute(RECOUNT_TRACKERS, ids)
    await conn.execute(RESOLVE_ITEM_CONFLICTS, ids)
    merged_snapshot = {"id": str(merge_id), **snapshot(merged)}
    await record_revision(
        conn, actor_id, keep_id, "merge", {"before": {"merged": merged_snapshot}, "after": {"moved": moved}}
    )
    await record_revision(
        conn,
        actor_id,
        merge_id,
        "merge",
        {"before": snapshot(merged), "after": {"merged_into": str(keep_id)}},
    )
    return moved


async def move_external_link(
    conn: AsyncConnection, actor_id: uuid.UUID | None, media_id: uuid.UUID, source: str, key: str
) -> bool:
    """Point a key at `media_id`, whoever holds it now (NOT_FOUND when nobody does); False when the
    item holds it already. The old holder loses it as its external_id too."""
    holder = (
        await conn.execute(
            select(ExternalLink.media_id)
            .where(ExternalLink.source_name == source, ExternalLink.external_key == key)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if holder is None:
        raise refused(
            RefusalCode.NOT_FOUND,
            f"No item holds {source}:{key}; add it with addExternalLink",
            "external_key",
        )
    if holder == media_id:
        return False
    items = await _locked(conn, {"media_id": media_id, "holder": holder})
    full_key = f"{source}:{key}"
    if items["holder"].external_id == full_key:
        await conn.execute(update(Media).where(Media.id == holder).values(external_id=None))
        if items["media_id"].external_id is None:
            await conn.execute(update(Media).where(Media.id == media_id).values(external_id=full_key))
    await conn.execute(
        update(ExternalLink)
        .where(ExternalLink.source_name == source, ExternalLink.external_key == key)
        .values(media_id=media_id)
    )
    await conn.execute(RESOLVE_KEY_CONFLICTS, {"source": source, "key": key})
    link = {"source_name": source, "external_key": key}
    await record_revision(
        conn, actor_id, holder, "move_external_link", {"before": link, "after": {"moved_to": str(media_id)}}
    )
    await record_revision(
        conn, actor_id, media_id, "move_external_link", {"before": {"moved_from": str(holder)}, "after": link}
    )
    return True


async def redirects_by_old_ids(conn: AsyncConnection, ids: Sequence[uuid.UUID]) -> list[uuid.UUID | None]:
    rows = await conn.execute(
        select(MediaRedirect.old_id, MediaRedirect.media_id).where(MediaRedirect.old_id.in_(ids))
    )
    by_id = {row.old_id: row.media_id for row in rows}
    return [by_id.get(media_id) for media_id in ids]
