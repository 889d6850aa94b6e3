"""Idempotent, resumable batch ingestion of JSON Lines catalogs (format and guarantees: docs/ingestion.md).

The file is streamed and applied in batches; each batch is one transaction that also advances the
job's `last_committed_line`, so a killed run resumed with its job id ends in the state of an unbroken
run. Records are matched through media.external_links; values are compared before writing, so a
second run of the same file changes no catalog row. A session advisory lock per source refuses a
second concurrent run of the same source; a transaction lock serialises batches of different sources.
"""

import asyncio
import hashlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from db.curation import RelationFact, resolve_pending_relations, store_relations
from db.media_validation import (
    MEDIA_FIELDS,
    InvalidValue,
    external_key,
    external_link,
    relation_type,
    relation_weight,
    validate_media_fields,
)
from db.models import Media

Key = tuple[str, str]
RECORD_FIELDS = frozenset({"external_id", "external_links", "relations", *MEDIA_FIELDS})
RAW_LINE_LIMIT = 2000
LOCK_NAMESPACE = "omnimediatrak.ingest"

log = logging.getLogger("omnimediatrak.ingest")


class IngestError(Exception):
    """The run cannot start or continue (unknown job, changed file, ...)."""


class SourceBusy(IngestError):
    """Another run holds this source's lock."""


class InvalidRecord(ValueError):
    pass


@dataclass
class Relation:
    relation_type: str
    target: Key
    notes: str | None
    weight: int | None


@dataclass
class Record:
    line: int
    external_id: Key
    fields: dict[str, Any]
    keys: list[Key]
    relations: list[Relation]

    @property
    def external_id_text(self) -> str:
        return f"{self.external_id[0]}:{self.external_id[1]}"


@dataclass
class BadLine:
    line: int
    message: str
    raw: str | None
    level: str = "error"


@dataclass
class Batch:
    records: list[Record] = field(default_factory=list)
    bad_lines: list[BadLine] = field(default_factory=list)
    keys: set[Key] = field(default_factory=set)
    last_line: int = 0


@dataclass
class Counts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    conflicts: int = 0
    relations: int = 0
    pending: int = 0

    def add(self, other: "Counts") -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class Progress:
    lines_done: int
    lines_total: int
    counts: Counts


@dataclass
class JobSummary:
    job_id: int
    source: str
    status: str
    dry_run: bool
    lines: int
    counts: Counts
    errors: list[tuple[int | None, str]]
    pending_relations: int

    @property
    def clean(self) -> bool:
        return self.status == "succeeded" and self.counts.failed == 0 and self.counts.conflicts == 0


def parse_record(line: int, raw: str) -> Record:
    """One line of the file; InvalidRecord names the first thing wrong with it."""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidRecord(f"not valid JSON: {exc.msg} at column {exc.colno}") from exc
    if not isinstance(data, dict):
        raise InvalidRecord("a line must hold one JSON object")
    unknown = sorted(set(data) - RECORD_FIELDS)
    if unknown:
        raise InvalidRecord(f"unknown field {unknown[0]}")
    try:
        primary = external_key(data.get("external_id"))
    except InvalidValue as exc:
        raise InvalidRecord(f"external_id {exc}") from exc
    fields, errors = validate_media_fields({k: v for k, v in data.items() if k in MEDIA_FIELDS}, True)
    if errors:
        raise InvalidRecord(f"{'.'.join(errors[0].field)} {errors[0].message}")
    keys = [primary]
    links = data.get("external_links") or []
    if not isinstance(links, list):
        raise InvalidRecord("external_links must be a list")
    for index, link in enumerate(links):
        if not isinstance(link, dict) or set(link) - {"source", "key"}:
            raise InvalidRecord(f'external_links.{index} must be {{"source": ..., "key": ...}}')
        try:
            key = external_link(link.get("source"), link.get("key"))
        except InvalidValue as exc:
            raise InvalidRecord(f"external_links.{index} {exc}") from exc
        if key not in keys:
            keys.append(key)
    return Record(line, primary, fields, keys, _relations(data.get("relations")))


def _relations(value: Any) -> list[Relation]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidRecord("relations must be a list")
    relations = []
    for index, item in enumerate(value):
        if not isinstance(item, dict) or set(item) - {"type", "target", "notes", "weight"}:
            raise InvalidRecord(f"relations.{index} must be {{type, target, notes?, weight?}}")
        try:
            notes = item.get("notes")
            if notes is not None and not isinstance(notes, str):
                raise InvalidValue("notes must be a string")
            relations.append(
                Relation(
                    relation_type(item.get("type")),
                    external_key(item.get("target")),
                    notes,
                    relation_weight(item.get("weight")),
                )
            )
        except InvalidValue as exc:
            raise InvalidRecord(f"relations.{index} {exc}") from exc
    return relations


def scan_file(path: Path) -> tuple[str, int]:
    """SHA-256 and line count, read in chunks (a resumed run must see the same file)."""
    digest = hashlib.sha256()
    lines = 0
    last = b"\n"
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return digest.hexdigest(), lines + (last != b"\n")


def read_batches(path: Path, batch_size: int, skip_lines: int) -> Iterator[Batch]:
    """Batches of up to batch_size lines; a record sharing a key with an earlier record of the
    batch starts the next batch, so the records of one batch never race for the same key."""
    batch = Batch()
    with path.open("rb") as handle:
        for number, raw_bytes in enumerate(handle, start=1):
            if number <= skip_lines:
                continue
            try:
                raw = raw_bytes.decode("utf-8").strip()
            except UnicodeDecodeError:
                record, bad = None, BadLine(number, "not valid UTF-8", None)
            else:
                if not raw:
                    batch.last_line = number
                    continue
                try:
                    record, bad = parse_record(number, raw), None
                except InvalidRecord as exc:
                    record, bad = None, BadLine(number, str(exc), raw[:RAW_LINE_LIMIT])
            if record is not None and batch.keys.intersection(record.keys):
                yield batch
                batch = Batch()
            if record is not None:
                batch.records.append(record)
                batch.keys.update(record.keys)
            if bad is not None:
                batch.bad_lines.append(bad)
            batch.last_line = number
            if len(batch.records) + len(batch.bad_lines) >= batch_size:
                yield batch
                batch = Batch()
    if batch.records or batch.bad_lines or batch.last_line:
        yield batch


def _unnest(columns: dict[str, str]) -> str:
    casts = ", ".join(f"CAST(:{name} AS {sql_type}[])" for name, sql_type in columns.items())
    return f"unnest({casts}) AS r({', '.join(columns)})"


LOOKUP = text(
    "SELECT k.source_name, k.external_key, coalesce(l.media_id, m.id) AS media_id, "
    "l.media_id IS NOT NULL AS linked "
    "FROM unnest(CAST(:sources AS text[]), CAST(:keys AS text[]), CAST(:full_ids AS text[])) "
    "AS k(source_name, external_key, full_id) "
    "LEFT JOIN media.external_links l ON l.source_name = k.source_name AND l.external_key = k.external_key "
    "LEFT JOIN media.media m ON l.media_id IS NULL AND m.external_id = k.full_id "
    "WHERE l.media_id IS NOT NULL OR m.id IS NOT NULL"
)
MEDIA_COLUMNS = {
    "id": "uuid",
    "external_id": "text",
    "media_type": "text",
    "media_class": "text",
    "title": "text",
    "release_date": "date",
    "country_of_origin": "text",
    "creators": "text",
    "cover_url": "text",
    "description": "text",
    "attributes": "text",
    "collection_path": "text",
}
MEDIA_VALUES = (
    "r.id, r.external_id, r.media_type, CAST(r.media_class AS ltree), r.title, r.release_date, "
    "r.country_of_origin, ARRAY(SELECT jsonb_array_elements_text(CAST(r.creators AS jsonb))), "
    "r.cover_url, r.description, CAST(r.attributes AS jsonb), CAST(r.collection_path AS ltree)"
)
INSERT_MEDIA = text(
    "INSERT INTO media.media (id, external_id, media_type, media_class, title, release_date, "
    "country_of_origin, creators, cover_url, description, attributes, collection_path) "
    f"SELECT {MEDIA_VALUES} FROM {_unnest(MEDIA_COLUMNS)}"
)
UPDATE_MEDIA = text(
    "UPDATE media.media m SET (external_id, media_type, media_class, title, release_date, "
    "country_of_origin, creators, cover_url, description, attributes, collection_path, updated_at) = "
    f"ROW({MEDIA_VALUES.removeprefix('r.id, ')}, now()) "
    f"FROM {_unnest(MEDIA_COLUMNS)} "
    "WHERE m.id = r.id AND (m.external_id, m.media_type, m.media_class, m.title, m.release_date, "
    "m.country_of_origin, m.creators, m.cover_url, m.description, m.attributes, m.collection_path) "
    f"IS DISTINCT FROM ({MEDIA_VALUES.removeprefix('r.id, ')})"
)
INSERT_LINKS = text(
    "INSERT INTO media.external_links (media_id, source_name, external_key) "
    f"SELECT r.media_id, r.source_name, r.external_key FROM {_unnest({'media_id': 'uuid', 'source_name': 'text', 'external_key': 'text'})} "
    "ON CONFLICT DO NOTHING"
)
INSERT_CONFLICTS = text(
    "INSERT INTO ingest.conflicts (job_id, line_number, source_name, external_key, existing_media_id, "
    "incoming_media_id, details) "
    "SELECT :job_id, r.line_number, r.source_name, r.external_key, r.existing, r.incoming, "
    "CAST(r.details AS jsonb) FROM "
    + _unnest(
        {
            "line_number": "bigint",
            "source_name": "text",
            "external_key": "text",
            "existing": "uuid",
            "incoming": "uuid",
            "details": "text",
        }
    )
)
UPSERT_PENDING = text(
    "INSERT INTO ingest.pending_relations AS p (media_id, target_source, target_key, relation_type, notes, weight) "
    "SELECT r.media_id, r.target_source, r.target_key, CAST(r.relation_type AS media.relation_type), "
    "r.notes, r.weight FROM "
    + _unnest(
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
    + _unnest({"line_number": "bigint", "level": "text", "message": "text", "raw_line": "text"})
)
ADVANCE_JOB = text(
    "UPDATE ingest.import_jobs SET last_committed_line = :line, inserted = inserted + :inserted, "
    "updated = updated + :updated, unchanged = unchanged + :unchanged, failed = failed + :failed "
    "WHERE id = :job_id"
)


def _media_params(rows: list[tuple[uuid.UUID, str | None, dict[str, Any]]]) -> dict[str, list[Any]]:
    params: dict[str, list[Any]] = {name: [] for name in MEDIA_COLUMNS}
    for media_id, external_id, values in rows:
        params["id"].append(media_id)
        params["external_id"].append(external_id)
        for name in MEDIA_FIELDS:
            value = values.get(name)
            if name in ("creators", "attributes"):
                value = json.dumps(value if value is not None else ([] if name == "creators" else {}))
            params[name].append(value)
    return params


@dataclass
class _Target:
    media_id: uuid.UUID
    is_new: bool
    records: list[Record] = field(default_factory=list)
    new_links: list[Key] = field(default_factory=list)


async def apply_batch(conn: AsyncConnection, job_id: int, batch: Batch) -> Counts:
    """Write one batch inside the caller's transaction, with a fixed number of statements."""
    counts = Counts(failed=len(batch.bad_lines))
    notes: list[BadLine] = list(batch.bad_lines)
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
            {
                "sources": [source for source, _ in lookup_keys],
                "keys": [key for _, key in lookup_keys],
                "full_ids": list(lookup_keys.values()),
            },
        )
        for row in found:
            owners[(row.source_name, row.external_key)] = row.media_id
            if row.linked:
                linked.add((row.source_name, row.external_key))

    targets: dict[uuid.UUID, _Target] = {}
    conflicts: list[dict[str, Any]] = []
    for record in batch.records:
        matched = next((owners[key] for key in record.keys if key in owners), None)
        target = targets.get(matched) if matched is not None else None
        if target is None:
            target = _Target(matched or uuid.uuid4(), matched is None)
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
                        "details": json.dumps(
                            {
                                "external_id": record.external_id_text,
                                "reason": "the key already belongs to another media item; it was left there",
                            }
                        ),
                    }
                )
            elif key not in linked:
                target.new_links.append(key)
                owners[key] = target.media_id
    counts.conflicts = len(conflicts)

    existing_ids = [media_id for media_id, target in targets.items() if not target.is_new]
    existing: dict[uuid.UUID, Any] = {}
    if existing_ids:
        rows = await conn.execute(
            select(Media.id, Media.external_id, *(getattr(Media, name) for name in MEDIA_FIELDS)).where(
                Media.id.in_(existing_ids)
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
        await conn.execute(INSERT_MEDIA, _media_params(inserts))
    if updates:
        await conn.execute(UPDATE_MEDIA, _media_params(updates))
    new_links = [(target.media_id, key) for target in targets.values() for key in target.new_links]
    if new_links:
        await conn.execute(
            INSERT_LINKS,
            {
                "media_id": [media_id for media_id, _ in new_links],
                "source_name": [key[0] for _, key in new_links],
                "external_key": [key[1] for _, key in new_links],
            },
        )
    if conflicts:
        await conn.execute(
            INSERT_CONFLICTS,
            {"job_id": job_id, **{name: [c[name] for c in conflicts] for name in conflicts[0]}},
        )

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
    if facts:
        inserted, updated = await store_relations(conn, facts)
        counts.relations += inserted + updated
    if pending:
        await conn.execute(
            UPSERT_PENDING,
            {
                "media_id": [media_id for media_id, _, _, _ in pending],
                "target_source": [source for _, source, _, _ in pending],
                "target_key": [key for _, _, key, _ in pending],
                "relation_type": [relation.relation_type for relation in pending.values()],
                "notes": [relation.notes for relation in pending.values()],
                "weight": [relation.weight for relation in pending.values()],
            },
        )
    counts.pending = len(pending)
    counts.relations += await resolve_pending_relations(conn, [key for _, key in new_links])

    if notes:
        await conn.execute(
            INSERT_LOGS,
            {
                "job_id": job_id,
                "line_number": [note.line for note in notes],
                "level": [note.level for note in notes],
                "message": [note.message for note in notes],
                "raw_line": [note.raw for note in notes],
            },
        )
    return counts


BeforeCommit = Callable[[int], Awaitable[None]]
ProgressCallback = Callable[[Progress], None]


async def _start_job(
    conn: AsyncConnection,
    path: Path,
    sha256: str,
    source: str | None,
    batch_size: int | None,
    dry_run: bool,
    resume_job: int | None,
) -> tuple[int, str, int, bool, int, Counts]:
    """(job id, source, batch size, dry run, first line to read after, counts so far)."""
    if resume_job is None:
        name = source or path.stem
        await conn.execute(
            text("INSERT INTO ingest.sources (name) VALUES (:name) ON CONFLICT (name) DO NOTHING"),
            {"name": name},
        )
        size = batch_size or 1000
        job_id = (
            await conn.execute(
                text(
                    "INSERT INTO ingest.import_jobs (source_id, file_name, file_sha256, dry_run, batch_size) "
                    "SELECT id, :file_name, :sha256, :dry_run, :batch_size FROM ingest.sources WHERE name = :name "
                    "RETURNING id"
                ),
                {
                    "file_name": str(path),
                    "sha256": sha256,
                    "dry_run": dry_run,
                    "batch_size": size,
                    "name": name,
                },
            )
        ).scalar_one()
        return int(job_id), name, size, dry_run, 0, Counts()
    job = (
        await conn.execute(
            text(
                "SELECT j.*, s.name AS source FROM ingest.import_jobs j JOIN ingest.sources s ON s.id = j.source_id "
                "WHERE j.id = :id"
            ),
            {"id": resume_job},
        )
    ).first()
    if job is None:
        raise IngestError(f"there is no import job {resume_job}")
    if source is not None and source != job.source:
        raise IngestError(f"job {resume_job} ingests source {job.source}, not {source}")
    if job.status == "succeeded":
        raise IngestError(f"job {resume_job} already succeeded; nothing to resume")
    if job.file_sha256 != sha256:
        raise IngestError(f"{path} is not the file job {resume_job} started with (its SHA-256 differs)")
    conflicts = (
        await conn.execute(text("SELECT count(*) FROM ingest.conflicts WHERE job_id = :id"), {"id": job.id})
    ).scalar_one()
    counts = Counts(job.inserted, job.updated, job.unchanged, job.failed, conflicts)
    return job.id, job.source, batch_size or job.batch_size, job.dry_run, job.last_committed_line, counts


async def _acquire_source_lock(conn: AsyncConnection, source: str) -> None:
    async with conn.begin():
        acquired = (
            await conn.execute(
                text("SELECT pg_try_advisory_lock(hashtextextended(:name, 0))"),
                {"name": f"{LOCK_NAMESPACE}:{source}"},
            )
        ).scalar_one()
    if not acquired:
        raise SourceBusy(f"another ingestion of source {source!r} is running")


async def _release_source_lock(conn: AsyncConnection, source: str) -> None:
    async with conn.begin():
        await conn.execute(
            text("SELECT pg_advisory_unlock(hashtextextended(:name, 0))"),
            {"name": f"{LOCK_NAMESPACE}:{source}"},
        )


async def _finish_job(conn: AsyncConnection, job_id: int, status: str) -> None:
    async with conn.begin():
        await conn.execute(
            text("UPDATE ingest.import_jobs SET status = :status, finished_at = now() WHERE id = :id"),
            {"status": status, "id": job_id},
        )


async def _job_source(conn: AsyncConnection, job_id: int) -> str | None:
    async with conn.begin():
        return (
            await conn.execute(
                text(
                    "SELECT s.name FROM ingest.import_jobs j JOIN ingest.sources s ON s.id = j.source_id "
                    "WHERE j.id = :id"
                ),
                {"id": job_id},
            )
        ).scalar_one_or_none()


async def ingest_file(
    engine: AsyncEngine,
    path: Path,
    source: str | None = None,
    batch_size: int | None = None,
    dry_run: bool = False,
    resume_job: int | None = None,
    progress: ProgressCallback | None = None,
    before_commit: BeforeCommit | None = None,
) -> JobSummary:
    """Run (or resume) one import job. `before_commit(batch_number)` runs inside each batch's
    transaction just before it commits: tests use it to break a run at a precise point."""
    sha256, total_lines = await asyncio.to_thread(scan_file, path)
    async with engine.connect() as conn:
        lock_source = source or path.stem
        if resume_job is not None:
            lock_source = await _job_source(conn, resume_job) or lock_source
        await _acquire_source_lock(conn, lock_source)
        try:
            return await _run(
                conn,
                path,
                sha256,
                total_lines,
                source,
                batch_size,
                dry_run,
                resume_job,
                progress,
                before_commit,
            )
        finally:
            await _release_source_lock(conn, lock_source)


async def _run(
    conn: AsyncConnection,
    path: Path,
    sha256: str,
    total_lines: int,
    source: str | None,
    batch_size: int | None,
    dry_run: bool,
    resume_job: int | None,
    progress: ProgressCallback | None,
    before_commit: BeforeCommit | None,
) -> JobSummary:
    async with conn.begin():
        job_id, source_name, size, dry_run, skip_lines, counts = await _start_job(
            conn, path, sha256, source, batch_size, dry_run, resume_job
        )
        await conn.execute(
            text("UPDATE ingest.import_jobs SET status = 'running', finished_at = NULL WHERE id = :id"),
            {"id": job_id},
        )
    status = "failed"
    lines_done = skip_lines
    log.info("job %d (%s) %s at line %d of %s", job_id, source_name, "resumed" if resume_job else "started", skip_lines + 1, path)
    try:
        for number, batch in enumerate(read_batches(path, size, skip_lines), start=1):
            async with conn.begin():
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))"), {"name": LOCK_NAMESPACE}
                )
                if dry_run:
                    savepoint = await conn.begin_nested()
                    batch_counts = await apply_batch(conn, job_id, batch)
                    await savepoint.rollback()
                    if batch.bad_lines:
                        await conn.execute(
                            INSERT_LOGS,
                            {
                                "job_id": job_id,
                                "line_number": [bad.line for bad in batch.bad_lines],
                                "level": [bad.level for bad in batch.bad_lines],
                                "message": [bad.message for bad in batch.bad_lines],
                                "raw_line": [bad.raw for bad in batch.bad_lines],
                            },
                        )
                else:
                    batch_counts = await apply_batch(conn, job_id, batch)
                await conn.execute(
                    ADVANCE_JOB,
                    {
                        "job_id": job_id,
                        "line": batch.last_line,
                        "inserted": batch_counts.inserted,
                        "updated": batch_counts.updated,
                        "unchanged": batch_counts.unchanged,
                        "failed": batch_counts.failed,
                    },
                )
                if before_commit is not None:
                    await before_commit(number)
            counts.add(batch_counts)
            lines_done = batch.last_line
            if progress is not None:
                progress(Progress(lines_done, total_lines, counts))
        status = "succeeded"
    except (asyncio.CancelledError, KeyboardInterrupt):
        status = "interrupted"
        log.error("job %d interrupted after line %d; resume it with --resume %d", job_id, lines_done, job_id)
        raise
    except Exception:
        log.exception("job %d failed after line %d; resume it with --resume %d", job_id, lines_done, job_id)
        raise
    finally:
        await _finish_job(conn, job_id, status)
    return await _summary(conn, job_id, source_name, status, dry_run, lines_done, counts)


async def _summary(
    conn: AsyncConnection, job_id: int, source: str, status: str, dry_run: bool, lines: int, counts: Counts
) -> JobSummary:
    async with conn.begin():
        errors = (
            await conn.execute(
                text(
                    "SELECT line_number, message FROM ingest.import_logs WHERE job_id = :id AND level = 'error' "
                    "ORDER BY line_number"
                ),
                {"id": job_id},
            )
        ).all()
        pending = (await conn.execute(text("SELECT count(*) FROM ingest.pending_relations"))).scalar_one()
    return JobSummary(
        job_id,
        source,
        status,
        dry_run,
        lines,
        counts,
        [(row.line_number, row.message) for row in errors],
        pending,
    )


async def catalog_is_empty(engine: AsyncEngine) -> bool:
    async with engine.connect() as conn:
        return (await conn.execute(select(Media.id).limit(1))).first() is None
