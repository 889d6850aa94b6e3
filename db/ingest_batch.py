"""One ingestion batch written with a fixed number of set-based statements, inside the caller's
transaction. Values are compared before writing, so a batch already applied changes no row."""

import os
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import any_, bindparam, select, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.ext.asyncio import AsyncConnection

from db.curation import RelationFact, store_relations, take_pending_relations
from db.ingest_format import BadLine, Batch, Key, Record, Relation
from db.media_validation import MEDIA_FIELDS
from db.models import Media


def time_ordered_uuid() -> uuid.UUID:
    """A UUIDv7 (RFC 9562): new items land at the right edge of every index keyed by media id,
    which keeps a bulk load's writes (and WAL) local instead of scattered over the whole index."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10)) & ((1 << 80) - 1)
    value = (value & ~(0xF << 76)) | (0x7 << 76)
    value = (value & ~(0x3 << 62)) | (0x2 << 62)
    return uuid.UUID(int=value)


@dataclass
class Counts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    conflicts: int = 0

    def add(self, other: "Counts") -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


def _records(columns: dict[str, str]) -> str:
    """Rows passed as one JSON document (`:rows`): PostgreSQL parses it much faster than the
    driver encodes parallel arrays element by element."""
    return f"json_to_recordset(CAST(:rows AS json)) AS r({', '.join(f'{n} {t}' for n, t in columns.items())})"


def as_rows(rows: list[dict[str, Any]]) -> dict[str, str]:
    """orjson encodes UUIDs and dates natively (asyncpg's own UUID type through `default`)."""
    return {"rows": orjson.dumps(rows, default=str).decode()}


LOOKUP = text(
    "SELECT k.source_name, k.external_key, coalesce(l.media_id, m.id) AS media_id, "
    "l.media_id IS NOT NULL AS linked "
    "FROM json_to_recordset(CAST(:rows AS json)) AS k(source_name text, external_key text, full_id text) "
    "LEFT JOIN media.external_links l ON l.source_name = k.source_name AND l.external_key = k.external_key "
    "LEFT JOIN media.media m ON l.media_id IS NULL AND m.external_id = k.full_id "
    "WHERE l.media_id IS NOT NULL OR m.id IS NOT NULL"
)
MEDIA_RECORDS = _records(
    {
        "id": "uuid",
        "external_id": "text",
        "media_type": "text",
        "media_class": "text",
        "title": "text",
        "release_date": "date",
        "country_of_origin": "text",
        "creators": "text[]",
        "cover_url": "text",
        "description": "text",
        "attributes": "jsonb",
        "collection_path": "text",
    }
)
MEDIA_VALUES = (
    "r.id, r.external_id, r.media_type, CAST(r.media_class AS ltree), r.title, r.release_date, "
    "r.country_of_origin, coalesce(r.creators, '{}'), r.cover_url, r.description, "
    "coalesce(r.attributes, '{}'), CAST(r.collection_path AS ltree)"
)
INSERT_MEDIA = text(
    "INSERT INTO media.media (id, external_id, media_type, media_class, title, release_date, "
    "country_of_origin, creators, cover_url, description, attributes, collection_path) "
    f"SELECT {MEDIA_VALUES} FROM {MEDIA_RECORDS}"
)
UPDATE_MEDIA = text(
    "UPDATE media.media m SET (external_id, media_type, media_class, title, release_date, "
    "country_of_origin, creators, cover_url, description, attributes, collection_path, updated_at) = "
    f"ROW({MEDIA_VALUES.removeprefix('r.id, ')}, now()) "
    f"FROM {MEDIA_RECORDS} "
    "WHERE m.id = r.id AND (m.external_id, m.media_type, m.media_class, m.title, m.release_date, "
    "m.country_of_origin, m.creators, m.cover_url, m.description, m.attributes, m.collection_path) "
    f"IS DISTINCT FROM ({MEDIA_VALUES.removeprefix('r.id, ')})"
)
INSERT_LINKS = text(
    "INSERT INTO media.external_links (media_id, source_name, external_key) "
    f"SELECT r.media_id, r.source_name, r.external_key FROM {_records({'media_id': 'uuid', 'source_name': 'text', 'external_key': 'text'})}"
)
INSERT_CONFLICTS = text(
    "INSERT INTO ingest.conflicts (job_id, line_number, source_name, external_key, existing_media_id, "
    "incoming_media_id, details) "
    "SELECT :job_id, r.line_number, r.source_name, r.external_key, r.existing, r.incoming, r.details FROM "
    + _records(
        {
            "line_number": "bigint",
            "source_name": "text",
            "external_key": "text",
            "existing": "uuid",
            "incoming": "uuid",
            "details": "jsonb",
        }
    )
)
UPSERT_PENDING = text(
    "INSERT INTO ingest.pending_relations AS p (media_id, target_source, target_key, relation_type, notes, weight) "
    "SELECT r.media_id, r.target_source, r.target_key, CAST(r.relation_type AS media.relation_type), "
    "r.notes, r.weight FROM "
    + _records(
        {
            "media_id": "uuid",
            "target_source": "text",
            "target_key": "text",
            "relation_type": "text",
            "notes": "text",
            "weight": "smallint",
        }
    )
    + " ON CONFLICT (media_id, target_source, target_key, relation_type) DO UPDATE "
    "SET notes = excluded.notes, weight = excluded.weight "
    "WHERE (p.notes, p.weight) IS DISTINCT FROM (excluded.notes, excluded.weight)"
)
INSERT_LOGS = text(
    "INSERT INTO ingest.import_logs (job_id, line_number, level, message, raw_line) "
    "SELECT :job_id, r.line_number, r.level, r.message, r.raw_line FROM "
    + _records({"line_number": "bigint", "level": "text", "message": "text", "raw_line": "text"})
)
ADVANCE_JOB = text(
    "UPDATE ingest.import_jobs SET last_committed_line = :line, inserted = inserted + :inserted, "
    "updated = updated + :updated, unchanged = unchanged + :unchanged, failed = failed + :failed "
    "WHERE id = :job_id"
)


def _media_rows(rows: list[tuple[uuid.UUID, str | None, dict[str, Any]]]) -> dict[str, str]:
    return as_rows(
        [{"id": media_id, "external_id": external_id, **values} for media_id, external_id, values in rows]
    )


@dataclass
class _Target:
    media_id: uuid.UUID
    is_new: bool
    records: list[Record] = field(default_factory=list)
    new_links: list[Key] = field(default_factory=list)


async def _nothing_to_wait_for() -> None:
    return None


async def _lookup(conn: AsyncConnection, batch: Batch) -> tuple[dict[Key, uuid.UUID], set[Key]]:
    """The media item owning each key of the batch (its records' keys and relation targets), and
    which of those keys are already linked."""
    lookup_keys: dict[Key, str | None] = {}
    for record in batch.records:
        for key in record.keys:
            lookup_keys[key] = record.external_id_text if key == record.external_id else None
        for relation in record.relations:
            lookup_keys.setdefault(relation.target, None)
    owners: dict[Key, uuid.UUID] = {}
    linked: set[Key] = set()
    if lookup_keys:
        found = await conn.execute(
            LOOKUP,
            as_rows(
                [
                    {"source_name": source, "external_key": key, "full_id": full_id}
                    for (source, key), full_id in lookup_keys.items()
                ]
            ),
        )
        for row in found:
            owners[(row.source_name, row.external_key)] = row.media_id
            if row.linked:
                linked.add((row.source_name, row.external_key))
    return owners, linked


async def apply_batch(
    conn: AsyncConnection,
    job_id: int,
    batch: Batch,
    wait_for_earlier_batches: Callable[[], Awaitable[None]] = _nothing_to_wait_for,
) -> Counts:
    """Write one batch inside the caller's transaction, with a fixed number of statements.

    Batches may be written concurrently (db/ingest.py) when their records share no key.
    `wait_for_earlier_batches` returns once every earlier batch has committed. It is awaited
    before items that already exist are read (an earlier batch may be changing them through
    another of their keys) and before relations are stored: a relation whose target an earlier
    batch was still inserting is looked up again then, so it never waits for a target that
    already exists."""
    counts = Counts(failed=len(batch.bad_lines))
    notes: list[BadLine] = list(batch.bad_lines)
    owners, linked = await _lookup(conn, batch)
    own_keys_found = any(key in owners for record in batch.records for key in record.keys)
    if own_keys_found:
        await wait_for_earlier_batches()
        owners, linked = await _lookup(conn, batch)

    targets: dict[uuid.UUID, _Target] = {}
    conflicts: list[dict[str, Any]] = []
    for record in batch.records:
        matched = next((owners[key] for key in record.keys if key in owners), None)
        target = targets.get(matched) if matched is not None else None
        if target is None:
            target = _Target(matched or time_ordered_uuid(), matched is None)
            targets[target.media_id] = target
        target.records.append(record)
        for key in record.keys:
            owner = owners.get(key)
            if owner is not None and owner != target.media_id:
                conflicts.append(
                    {
                        "line_number": record.line,
                        "source_name": key[0],
                        "external_key": key[1],
                        "existing": owner,
                        "incoming": target.media_id,
                        "details": {
                            "external_id": record.external_id_text,
                            "reason": "the key already belongs to another media item; it was left there",
                        },
                    }
                )
            elif key not in linked:
                target.new_links.append(key)
                owners[key] = target.media_id
    counts.conflicts = len(conflicts)

    existing_ids = [media_id for media_id, target in targets.items() if not target.is_new]
    existing: dict[uuid.UUID, Any] = {}
    if existing_ids:
        ids = bindparam("ids", existing_ids, type_=ARRAY(UUID(as_uuid=True)))
        rows = await conn.execute(
            select(Media.id, Media.external_id, *(getattr(Media, name) for name in MEDIA_FIELDS)).where(
                Media.id == any_(ids)
            )
        )
        existing = {row.id: row for row in rows}

    inserts: list[tuple[uuid.UUID, str | None, dict[str, Any]]] = []
    updates: list[tuple[uuid.UUID, str | None, dict[str, Any]]] = []
    for target in targets.values():
        merged: dict[str, Any] = {}
        current = existing.get(target.media_id)
        if current is not None:
            merged = {name: getattr(current, name) for name in MEDIA_FIELDS}
        for record in target.records:
            merged.update(record.fields)
        if current is None:
            inserts.append((target.media_id, target.records[0].external_id_text, merged))
            counts.inserted += len(target.records)
            continue
        external_id = current.external_id or target.records[0].external_id_text
        changed = external_id != current.external_id or any(
            merged[name] != getattr(current, name) for name in MEDIA_FIELDS
        )
        if changed:
            updates.append((target.media_id, external_id, merged))
        if changed or target.new_links:
            counts.updated += len(target.records)
        else:
            counts.unchanged += len(target.records)

    if inserts:
        await conn.execute(INSERT_MEDIA, _media_rows(inserts))
    if updates:
        await conn.execute(UPDATE_MEDIA, _media_rows(updates))
    new_links = [(target.media_id, key) for target in targets.values() for key in target.new_links]
    if new_links:
        await conn.execute(
            INSERT_LINKS,
            as_rows(
                [
                    {"media_id": media_id, "source_name": source, "external_key": key}
                    for media_id, (source, key) in new_links
                ]
            ),
        )
    if conflicts:
        await conn.execute(INSERT_CONFLICTS, {"job_id": job_id, **as_rows(conflicts)})

    if not own_keys_found:
        await wait_for_earlier_batches()
    new_media_ids = {media_id for media_id, target in targets.items() if target.is_new}
    facts: list[RelationFact] = []
    pending: dict[tuple[uuid.UUID, str, str, str], Relation] = {}
    for target in targets.values():
        for record in target.records:
            for relation in record.relations:
                related = owners.get(relation.target)
                if related == target.media_id:
                    notes.append(
                        BadLine(
                            record.line,
                            f"relation to {relation.target[0]}:{relation.target[1]} "
                            "points at the record itself; skipped",
                            None,
                            "warning",
                        )
                    )
                elif related is None:
                    pending[(target.media_id, *relation.target, relation.relation_type)] = relation
                else:
                    facts.append(
                        RelationFact(
                            target.media_id, related, relation.relation_type, relation.notes, relation.weight
                        )
                    )
    if pending:
        await conn.execute(
            UPSERT_PENDING,
            as_rows(
                [
                    {
                        "media_id": media_id,
                        "target_source": source,
                        "target_key": key,
                        "relation_type": relation.relation_type,
                        "notes": relation.notes,
                        "weight": relation.weight,
                    }
                    for (media_id, source, key, _), relation in pending.items()
                ]
            ),
        )
    # The targets still missing may have been inserted by an earlier batch while this one ran.
    waiting_targets = {(source, key) for (_, source, key, _) in pending}
    facts += await take_pending_relations(
        conn, [key for _, key in new_links if key not in waiting_targets] + sorted(waiting_targets)
    )
    if facts:
        await store_relations(conn, facts, new_media_ids)

    await log_bad_lines(conn, job_id, notes)
    return counts


async def log_bad_lines(conn: AsyncConnection, job_id: int, notes: list[BadLine]) -> None:
    if notes:
        await conn.execute(
            INSERT_LOGS,
            {
                "job_id": job_id,
                **as_rows(
                    [
                        {
                            "line_number": note.line,
                            "level": note.level,
                            "message": note.message,
                            "raw_line": note.raw,
                        }
                        for note in notes
                    ]
                ),
            },
        )
