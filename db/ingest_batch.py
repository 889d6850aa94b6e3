"""One ingestion batch written with a fixed number of set-based statements, inside the caller's
transaction: matching records to items (identity conflicts are recorded, never merged), field
precedence (db/provenance.py) and the revisions a feed leaves. Values are compared before writing,
so a batch already applied changes no row."""

import dataclasses
import os
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import any_, bindparam, select, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.ext.asyncio import AsyncConnection

from db.conflicts import (
    KEY_OF_ANOTHER_ITEM,
    KEY_SHARED_IN_RUN,
    KEYS_OF_TWO_ITEMS,
    SECONDARY_KEY_OF_ANOTHER_ITEM,
)
from db.curation import RelationFact, store_relations, take_pending_relations
from db.ingest_format import BadLine, Batch, Key, Record, Relation
from db.media_fields import CATALOG_FIELDS, MEDIA_FIELDS, new_item, recordset_type, stored_value
from db.models import Media
from db.provenance import EVERY_FIELD, FieldEvent, ItemMerge, Precedence, feed


def time_ordered_uuid() -> uuid.UUID:
    """A UUIDv7 (RFC 9562): new items land at the right edge of every index keyed by media id,
    which keeps a bulk load's writes (and WAL) local instead of scattered over the whole index."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10)) & ((1 << 80) - 1)
    value = (value & ~(0xF << 76)) | (0x7 << 76)
    value = (value & ~(0x3 << 62)) | (0x2 << 62)
    return uuid.UUID(int=value)


COUNTERS = ("inserted", "updated", "unchanged", "failed", "conflicts")


@dataclass
class Counts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    conflicts: int = 0
    # Per field ("title", "attributes.studio", ...): values changed on existing items, and values
    # left alone because another source owns them.
    changed_fields: Counter[str] = field(default_factory=Counter)
    kept_fields: Counter[str] = field(default_factory=Counter)

    def add(self, other: "Counts") -> None:
        for name in COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.changed_fields.update(other.changed_fields)
        self.kept_fields.update(other.kept_fields)


@dataclass(frozen=True)
class Feed:
    """The run applying a batch: its job (the revisions' actor), its source and the precedence."""

    job_id: int
    source: str
    precedence: Precedence = field(default_factory=Precedence)
    dry_run: bool = False

    @property
    def owner(self) -> str:
        return feed(self.source)


@dataclass
class BatchOutcome:
    counts: Counts
    # In a dry run: what each record would change or may not change, for ingest.import_logs.
    field_notes: list[BadLine]
    # Rows for ingest.conflicts: written by apply_batch, or in a dry run by the caller after the rollback.
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    new_media_ids: set[uuid.UUID] = field(default_factory=set)

    def conflicts_without_new_items(self) -> list[dict[str, Any]]:
        """The conflicts as a dry run reports them: the items it would have created do not exist."""
        return [
            {
                **conflict,
                "existing": None if conflict["existing"] in self.new_media_ids else conflict["existing"],
                "incoming": None if conflict["incoming"] in self.new_media_ids else conflict["incoming"],
            }
            for conflict in self.conflicts
        ]


@dataclass(frozen=True)
class Claim:
    """The first record of a run that gave a key."""

    line: int
    record_id: str


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
# Everything a batch writes to an item: its identity, its catalog fields and their sources.
WRITTEN_COLUMNS = (
    Media.__table__.c.external_id,
    *(catalog_field.column for catalog_field in CATALOG_FIELDS),
    Media.__table__.c.field_sources,
)
MEDIA_RECORDS = _records({"id": "uuid", **{column.key: recordset_type(column) for column in WRITTEN_COLUMNS}})
STORED_COLUMNS = ", ".join(column.key for column in WRITTEN_COLUMNS)
MEDIA_VALUES = ", ".join(stored_value(column) for column in WRITTEN_COLUMNS)
# The item and its "create" revision (the record's fields as stored, actor = the job) together.
INSERT_MEDIA = text(
    f"WITH r AS MATERIALIZED (SELECT * FROM {MEDIA_RECORDS}), "
    f"created AS (INSERT INTO media.media (id, {STORED_COLUMNS}) SELECT r.id, {MEDIA_VALUES} FROM r) "
    "INSERT INTO media.revisions (media_id, action, changes, job_id, source) "
    "SELECT r.id, 'create', jsonb_build_object('before', NULL, 'after', to_jsonb(r) - 'id' - 'field_sources'), "
    ":job_id, :source FROM r"
)
UPDATE_MEDIA = text(
    f"UPDATE media.media m SET ({STORED_COLUMNS}, updated_at) = ROW({MEDIA_VALUES}, now()) "
    f"FROM {MEDIA_RECORDS} "
    f"WHERE m.id = r.id AND ({', '.join('m.' + c for c in STORED_COLUMNS.split(', '))}) "
    f"IS DISTINCT FROM ({MEDIA_VALUES})"
)
INSERT_REVISIONS = text(
    "INSERT INTO media.revisions (media_id, action, changes, job_id, source) "
    "SELECT r.media_id, r.action, r.changes, :job_id, :source FROM "
    + _records({"media_id": "uuid", "action": "text", "changes": "jsonb"})
)
INSERT_LINKS = text(
    "INSERT INTO media.external_links (media_id, source_name, external_key) "
    f"SELECT r.media_id, r.source_name, r.external_key FROM {_records({'media_id': 'uuid', 'source_name': 'text', 'external_key': 'text'})}"
)
INSERT_CONFLICTS = text(
    "INSERT INTO ingest.conflicts (job_id, line_number, kind, source_name, external_key, existing_media_id, "
    "incoming_media_id, details) "
    "SELECT :job_id, r.line_number, r.kind, r.source_name, r.external_key, r.existing, r.incoming, r.details FROM "
    + _records(
        {
            "line_number": "bigint",
            "kind": "text",
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


def _add_counters(column: str, parameter: str) -> str:
    """`column` (a JSON object of counters) plus the counters of the JSON parameter, key by key."""
    return (
        f"{column} = {column} || coalesce((SELECT jsonb_object_agg(d.key, d.value::bigint + "
        f"coalesce(({column} ->> d.key)::bigint, 0)) FROM jsonb_each_text(CAST(:{parameter} AS jsonb)) d), '{{}}')"
    )


ADVANCE_JOB = text(
    "UPDATE ingest.import_jobs SET last_committed_line = :line, inserted = inserted + :inserted, "
    "updated = updated + :updated, unchanged = unchanged + :unchanged, failed = failed + :failed, "
    f"{_add_counters('changed_fields', 'changed_fields')}, {_add_counters('kept_fields', 'kept_fields')} "
    "WHERE id = :job_id"
)
# The other keys an item holds in given namespaces: an item already known to a source under one
# key is not another record of that source (a takeover through a secondary key).
KEYS_IN_NAMESPACES = text(
    "SELECT DISTINCT c.media_id, c.source_name, l.external_key FROM "
    + _records({"media_id": "uuid", "source_name": "text", "external_key": "text"}).replace(
        " AS r(", " AS c("
    )
    + " JOIN media.external_links l ON l.media_id = c.media_id AND l.source_name = c.source_name "
    "AND l.external_key <> c.external_key"
)


# The run's earlier claims of the batch's keys, read before the batch's own are added (one snapshot).
# The batch's keys become the run's; a key the run already has is returned with its first record.
# The upsert finds earlier claims through the primary key whatever the planner thinks of the table's
# size (a join planned while the table was small scanned all of it for every batch); the no-op
# update of an earlier claim happens only for keys records share.
CLAIM_KEYS = text(
    "WITH claimed AS (INSERT INTO ingest.job_keys AS k (job_id, source_name, external_key, line_number, record_id) "
    "SELECT :job_id, r.source_name, r.external_key, r.line_number, r.record_id FROM "
    + _records({"source_name": "text", "external_key": "text", "line_number": "bigint", "record_id": "text"})
    + " ON CONFLICT (job_id, source_name, external_key) DO UPDATE SET line_number = k.line_number "
    "RETURNING k.source_name, k.external_key, k.line_number, k.record_id, k.xmax <> 0 AS earlier) "
    "SELECT source_name, external_key, line_number, record_id FROM claimed WHERE earlier"
)


SharedKeys = dict[int, dict[Key, Claim]]


async def claim_keys(conn: AsyncConnection, job_id: int, batch: Batch) -> SharedKeys:
    """Record the keys of the batch's records as the run's, and return, per line, the keys that
    line shares with earlier records of the run (other external ids), with the record that gave
    each first. Called outside a dry run's rollback, so the claims hold across batches."""
    first: dict[Key, Claim] = {}
    for record in batch.records:
        for key in record.keys:
            first.setdefault(key, Claim(record.line, record.external_id_text))
    if not first:
        return {}
    rows = await conn.execute(
        CLAIM_KEYS,
        {
            "job_id": job_id,
            **as_rows(
                [
                    {
                        "source_name": source,
                        "external_key": key,
                        "line_number": claim.line,
                        "record_id": claim.record_id,
                    }
                    for (source, key), claim in first.items()
                ]
            ),
        },
    )
    earlier = {(row.source_name, row.external_key): Claim(row.line_number, row.record_id) for row in rows}
    shared: SharedKeys = {}
    for record in batch.records:
        for key in record.keys:
            claim = earlier.get(key) or first[key]
            if claim.record_id != record.external_id_text:
                shared.setdefault(record.line, {})[key] = claim
    return shared


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


def _conflict(
    record: Record,
    kind: str,
    key: Key,
    existing: uuid.UUID | None,
    incoming: uuid.UUID | None,
    reason: str,
    **details: Any,
) -> dict[str, Any]:
    return {
        "line_number": record.line,
        "kind": kind,
        "source_name": key[0],
        "external_key": key[1],
        "existing": existing,
        "incoming": incoming,
        "details": {
            "external_id": record.external_id_text,
            "title": record.fields.get("title"),
            "reason": reason,
            **details,
        },
    }


def _shared_key_conflict(
    record: Record, key: Key, claim: Claim, holder: uuid.UUID | None, incoming: uuid.UUID | None, outcome: str
) -> dict[str, Any]:
    return _conflict(
        record,
        KEY_SHARED_IN_RUN,
        key,
        holder,
        incoming,
        f"line {claim.line} ({claim.record_id}) of this run has the same key; the record {outcome}",
        earlier_line=claim.line,
        earlier_external_id=claim.record_id,
    )


async def _match(
    conn: AsyncConnection,
    batch: Batch,
    owners: dict[Key, uuid.UUID],
    shared: SharedKeys,
) -> tuple[list[tuple[Record, uuid.UUID | None]], list[dict[str, Any]]]:
    """The item each record is (None: a new one), leaving out the records whose identity is in
    conflict. A record is the item holding its own external_id; failing that, the one item its
    other keys point at, unless that item already holds another key of the record's namespace
    (it is then another record of that source: taking it over would merge two items)."""
    conflicts: list[dict[str, Any]] = []
    matched: list[tuple[Record, uuid.UUID | None]] = []
    through_secondary: list[tuple[Record, uuid.UUID]] = []
    for record in batch.records:
        claims = shared.get(record.line)
        if claims is not None:
            if record.external_id in claims:
                claim = claims[record.external_id]
                conflicts.append(
                    _shared_key_conflict(
                        record,
                        record.external_id,
                        claim,
                        owners.get(record.external_id),
                        None,
                        "was not applied",
                    )
                )
                continue
            # The record is applied without the keys an earlier record of the run gave.
            record = dataclasses.replace(record, keys=[key for key in record.keys if key not in claims])
        own = owners.get(record.external_id)
        if own is not None:
            matched.append((record, own))
            continue
        pointed = {key: owners[key] for key in record.keys[1:] if key in owners}
        items = list(dict.fromkeys(pointed.values()))
        if len(items) > 1:
            first = items[0]
            for key, owner in pointed.items():
                if owner != first:
                    conflicts.append(
                        _conflict(
                            record,
                            KEYS_OF_TWO_ITEMS,
                            key,
                            first,
                            owner,
                            "the record's keys belong to different media items; the record was not applied",
                            keys={f"{s}:{k}": str(item) for (s, k), item in pointed.items()},
                        )
                    )
        elif items:
            through_secondary.append((record, items[0]))
        else:
            matched.append((record, None))
    if through_secondary:
        held = await conn.execute(
            KEYS_IN_NAMESPACES,
            as_rows(
                [
                    {
                        "media_id": item,
                        "source_name": record.external_id[0],
                        "external_key": record.external_id[1],
                    }
                    for record, item in through_secondary
                ]
            ),
        )
        other_keys: dict[tuple[uuid.UUID, str], str] = {}
        for row in held:
            other_keys.setdefault((row.media_id, row.source_name), row.external_key)
        # Records of this batch count too: two of them must not become one item.
        claimed: dict[tuple[uuid.UUID, str], str] = {
            (item, record.external_id[0]): record.external_id[1]
            for record, item in matched
            if item is not None
        }
        for record, item in through_secondary:
            namespace, own_key = record.external_id
            holder_key = other_keys.get((item, namespace)) or claimed.get((item, namespace))
            if holder_key is not None and holder_key != own_key:
                key = next(key for key in record.keys[1:] if owners.get(key) == item)
                conflicts.append(
                    _conflict(
                        record,
                        SECONDARY_KEY_OF_ANOTHER_ITEM,
                        key,
                        item,
                        None,
                        f"the key belongs to an item that is {namespace}:{holder_key}, not "
                        f"{record.external_id_text}; the record was not applied",
                        holder=f"{namespace}:{holder_key}",
                    )
                )
            else:
                claimed[(item, namespace)] = own_key
                matched.append((record, item))
        # Records of one item apply in file order.
        matched.sort(key=lambda pair: pair[0].line)
    return matched, conflicts


async def apply_batch(
    conn: AsyncConnection,
    feed_run: Feed,
    batch: Batch,
    wait_for_earlier_batches: Callable[[], Awaitable[None]] = _nothing_to_wait_for,
    shared: SharedKeys | None = None,
) -> BatchOutcome:
    """Write one batch inside the caller's transaction, with a fixed number of statements.

    Batches may be written concurrently (db/ingest.py) when their records share no key.
    `wait_for_earlier_batches` returns once every earlier batch has committed. It is awaited
    before items that already exist are read (an earlier batch may be changing them through
    another of their keys) and before relations are stored: a relation whose target an earlier
    batch was still inserting is looked up again then, so it never waits for a target that
    already exists."""
    counts = Counts(failed=len(batch.bad_lines))
    notes: list[BadLine] = list(batch.bad_lines)
    field_notes: list[BadLine] = []
    owners, linked = await _lookup(conn, batch)
    own_keys_found = any(key in owners for record in batch.records for key in record.keys)
    if own_keys_found:
        await wait_for_earlier_batches()
        owners, linked = await _lookup(conn, batch)

    if shared is None:
        shared = await claim_keys(conn, feed_run.job_id, batch)
    matched, conflicts = await _match(conn, batch, owners, shared)
    targets: dict[uuid.UUID, _Target] = {}
    for record, item in matched:
        target = targets.get(item) if item is not None else None
        if target is None:
            target = _Target(item or time_ordered_uuid(), item is None)
            targets[target.media_id] = target
        target.records.append(record)
        for key, claim in shared.get(record.line, {}).items():
            conflicts.append(
                _shared_key_conflict(
                    record, key, claim, owners.get(key), target.media_id, "was applied without it"
                )
            )
        for key in record.keys:
            owner = owners.get(key)
            if owner is not None and owner != target.media_id:
                conflicts.append(
                    _conflict(
                        record,
                        KEY_OF_ANOTHER_ITEM,
                        key,
                        owner,
                        target.media_id,
                        "the key already belongs to another media item; it was left there",
                    )
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
            select(
                Media.id,
                Media.external_id,
                Media.field_sources,
                *(getattr(Media, name) for name in MEDIA_FIELDS),
            ).where(Media.id == any_(ids))
        )
        existing = {row.id: row for row in rows}

    inserts: list[tuple[uuid.UUID, str | None, dict[str, Any]]] = []
    updates: list[tuple[uuid.UUID, str | None, dict[str, Any]]] = []
    revisions: list[dict[str, Any]] = []
    incoming = feed_run.owner
    for target in targets.values():
        current = existing.get(target.media_id)
        if current is None:
            first, *later = target.records
            # A new item is its first record (attribute keys given as null are simply absent).
            attributes = first.fields.get("attributes")
            if attributes and None in attributes.values():
                attributes = {key: value for key, value in attributes.items() if value is not None}
            values = {**new_item(), **first.fields, "attributes": attributes or {}}
            sources = {EVERY_FIELD: incoming}
            if later:
                merge = ItemMerge(values, sources)
                for record in later:
                    merge.apply(record.line, record.fields, incoming, feed_run.precedence)
            inserts.append((target.media_id, first.external_id_text, values | {"field_sources": sources}))
            counts.inserted += len(target.records)
            continue
        merge = ItemMerge(
            {name: getattr(current, name) for name in MEDIA_FIELDS},
            dict(current.field_sources),
            events=[] if feed_run.dry_run else None,
        )
        for record in target.records:
            merge.apply(record.line, record.fields, incoming, feed_run.precedence)
        counts.changed_fields.update(merge.changed)
        counts.kept_fields.update(merge.kept)
        for line, event in merge.events or ():
            field_notes.append(_field_note(line, event))
        external_id = current.external_id or target.records[0].external_id_text
        changed = external_id != current.external_id or bool(merge.before)
        if changed or merge.sources != current.field_sources:
            updates.append((target.media_id, external_id, merge.values | {"field_sources": merge.sources}))
        if changed:
            before = {name: merge.before[name] for name in merge.before}
            after = {name: merge.values[name] for name in merge.before}
            if external_id != current.external_id:
                before["external_id"], after["external_id"] = current.external_id, external_id
            revisions.append(
                {
                    "media_id": target.media_id,
                    "action": "update",
                    "changes": {"before": before, "after": after},
                }
            )
        for link_source, link_key in target.new_links:
            revisions.append(
                {
                    "media_id": target.media_id,
                    "action": "add_external_link",
                    "changes": {
                        "before": None,
                        "after": {"source_name": link_source, "external_key": link_key},
                    },
                }
            )
        if changed or target.new_links:
            counts.updated += len(target.records)
        else:
            counts.unchanged += len(target.records)

    job = {"job_id": feed_run.job_id, "source": feed_run.source}
    if inserts:
        await conn.execute(INSERT_MEDIA, {**job, **_media_rows(inserts)})
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
    if revisions:
        await conn.execute(INSERT_REVISIONS, {**job, **as_rows(revisions)})
    if conflicts and not feed_run.dry_run:
        await record_conflicts(conn, feed_run.job_id, conflicts)

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
        await store_relations(conn, facts, new_media_ids, (feed_run.job_id, feed_run.source))

    await log_bad_lines(conn, feed_run.job_id, notes)
    return BatchOutcome(counts, field_notes, conflicts, new_media_ids)


def _shown(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()[:200]


def _field_note(line: int, event: FieldEvent) -> BadLine:
    if event.outcome == "changed":
        message = f"{event.name} would change from {_shown(event.before)} to {_shown(event.after)}"
    else:
        message = (
            f"{event.name} kept at {_shown(event.before)} (set by {event.owner}), not {_shown(event.after)}"
        )
    return BadLine(line, message, None, event.outcome)


async def record_conflicts(conn: AsyncConnection, job_id: int, conflicts: list[dict[str, Any]]) -> None:
    await conn.execute(INSERT_CONFLICTS, {"job_id": job_id, **as_rows(conflicts)})


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
