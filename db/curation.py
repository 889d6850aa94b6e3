"""Catalog writes by admins, each recorded in media.revisions; relation storage shared with ingestion.

Every function runs inside the caller's transaction and raises `Refused` for an expected failure, so
the caller's transaction rolls back and bad input changes nothing (db/curation_commands.py holds the
transactions).
"""

import datetime as dt
import uuid
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import orjson
from sqlalchemy import Row, delete, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from db.media import media_columns
from db.media_fields import MEDIA_FIELDS
from db.media_validation import class_misfit
from db.models import INVERSE_RELATION, NON_CANONICAL_RELATIONS, ExternalLink, Media, MediaRevision
from db.provenance import ADMIN, EVERY_FIELD, admin_sources
from db.refusals import FIELD, RefusalCode, Refused, refused


@dataclass(frozen=True)
class RelationFact:
    media_id: uuid.UUID
    related_media_id: uuid.UUID
    relation_type: str
    notes: str | None = None
    weight: int | None = None

    def canonical(self) -> "RelationFact":
        """`A prequel B` is the fact `B sequel A`: inverse labels are stored with swapped ends."""
        if self.relation_type not in NON_CANONICAL_RELATIONS:
            return self
        return RelationFact(
            self.related_media_id,
            self.media_id,
            INVERSE_RELATION[self.relation_type],
            self.notes,
            self.weight,
        )

    @property
    def pair_key(self) -> tuple[uuid.UUID, uuid.UUID, str]:
        low, high = sorted((self.media_id, self.related_media_id))
        return low, high, self.relation_type


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value


def _stored(fields: dict[str, Any]) -> dict[str, Any]:
    """Attribute keys given as null are absent from what is stored."""
    if isinstance(fields.get("attributes"), dict):
        return {**fields, "attributes": {k: v for k, v in fields["attributes"].items() if v is not None}}
    return fields


def snapshot(row: Row[Any]) -> dict[str, Any]:
    return {name: _json_value(getattr(row, name)) for name in ("external_id", *MEDIA_FIELDS)}


async def record_revision(
    conn: AsyncConnection,
    actor_id: uuid.UUID | None,
    media_id: uuid.UUID,
    action: str,
    changes: dict[str, Any],
) -> None:
    await conn.execute(
        insert(MediaRevision).values(media_id=media_id, actor_id=actor_id, action=action, changes=changes)
    )


async def _locked_media(conn: AsyncConnection, media_id: uuid.UUID) -> Any:
    row: Any = (
        await conn.execute(select(*media_columns).where(Media.id == media_id).with_for_update())
    ).first()
    if row is None:
        raise refused(RefusalCode.NOT_FOUND, "No media item has this id", "id")
    return row


async def _claim_link(conn: AsyncConnection, media_id: uuid.UUID, source: str, key: str) -> bool:
    """Link a key to an item; False when the item already holds it, CONFLICT when another item does."""
    inserted = (
        await conn.execute(
            pg_insert(ExternalLink)
            .values(media_id=media_id, source_name=source, external_key=key)
            .on_conflict_do_nothing()
            .returning(ExternalLink.media_id)
        )
    ).first()
    if inserted is not None:
        await resolve_pending_relations(conn, [(source, key)])
        return True
    owner = (
        await conn.execute(
            select(ExternalLink.media_id).where(
                ExternalLink.source_name == source, ExternalLink.external_key == key
            )
        )
    ).one()
    if owner.media_id != media_id:
        raise refused(
            RefusalCode.CONFLICT,
            f"{source}:{key} already belongs to another media item ({owner.media_id})",
            "external_key",
        )
    return False


async def create_media(
    conn: AsyncConnection,
    actor_id: uuid.UUID | None,
    fields: dict[str, Any],
    external_id: tuple[str, str] | None,
) -> uuid.UUID:
    external_text = None if external_id is None else f"{external_id[0]}:{external_id[1]}"
    if external_text is not None:
        taken = (await conn.execute(select(Media.id).where(Media.external_id == external_text))).first()
        if taken is not None:
            raise refused(
                RefusalCode.CONFLICT, f"{external_text} already belongs to another media item", "external_id"
            )
    row: Any = (
        await conn.execute(
            insert(Media)
            .values(external_id=external_text, field_sources={EVERY_FIELD: ADMIN}, **_stored(fields))
            .returning(*media_columns)
        )
    ).one()
    if external_id is not None:
        try:
            await _claim_link(conn, row.id, *external_id)
        except Refused as exc:
            raise Refused(*(replace(refusal, field=("external_id",)) for refusal in exc.refusals)) from exc
    await record_revision(conn, actor_id, row.id, "create", {"before": None, "after": snapshot(row)})
    return uuid.UUID(str(row.id))


async def update_media(
    conn: AsyncConnection, actor_id: uuid.UUID | None, media_id: uuid.UUID, fields: dict[str, Any]
) -> bool:
    """Apply the given fields; True when something changed (an unchanged item keeps its updated_at)."""
    current = await _locked_media(conn, media_id)
    changed = {name: value for name, value in _stored(fields).items() if getattr(current, name) != value}
    if not changed:
        return False
    if "media_type" in changed or "media_class" in changed:
        misfit = class_misfit(
            changed.get("media_type", current.media_type), changed.get("media_class", current.media_class)
        )
        if misfit is not None:
            raise refused(RefusalCode.INVALID, f"{FIELD} {misfit}", "media_class")
    sources = admin_sources(
        current.field_sources, {name: getattr(current, name) for name in changed}, changed
    )
    await conn.execute(
        update(Media)
        .where(Media.id == media_id)
        .values(**changed, field_sources=sources, updated_at=text("now()"))
    )
    await record_revision(
        conn,
        actor_id,
        media_id,
        "update",
        {
            "before": {name: _json_value(getattr(current, name)) for name in changed},
            "after": {name: _json_value(value) for name, value in changed.items()},
        },
    )
    return True


async def delete_media(conn: AsyncConnection, actor_id: uuid.UUID | None, media_id: uuid.UUID) -> None:
    current = await _locked_media(conn, media_id)
    await conn.execute(delete(Media).where(Media.id == media_id))
    await record_revision(conn, actor_id, media_id, "delete", {"before": snapshot(current), "after": None})


async def _require_media(conn: AsyncConnection, ids: Sequence[uuid.UUID], fields: Sequence[str]) -> None:
    found = set((await conn.execute(select(Media.id).where(Media.id.in_(ids)))).scalars())
    for media_id, field in zip(ids, fields, strict=True):
        if media_id not in found:
            raise refused(RefusalCode.NOT_FOUND, "No media item has this id", field)


async def link_media(conn: AsyncConnection, actor_id: uuid.UUID | None, fact: RelationFact) -> bool:
    """Store a relation; False when the same fact is already stored (in either direction)."""
    if fact.media_id == fact.related_media_id:
        raise refused(RefusalCode.INVALID, "An item cannot be related to itself", "related_media_id")
    await _require_media(conn, [fact.media_id, fact.related_media_id], ["media_id", "related_media_id"])
    inserted, updated = await store_relations(conn, [fact])
    if not (inserted or updated):
        return False
    canonical = fact.canonical()
    await record_revision(
        conn,
        actor_id,
        fact.media_id,
        "link",
        {
            "before": None,
            "after": {
                "media_id": str(canonical.media_id),
                "related_media_id": str(canonical.related_media_id),
                "relation_type": canonical.relation_type,
                "notes": canonical.notes,
                "weight": canonical.weight,
            },
        },
    )
    return True


async def unlink_media(conn: AsyncConnection, actor_id: uuid.UUID | None, fact: RelationFact) -> None:
    """Remove the fact however it was phrased: `A prequel B` removes the stored `B sequel A`."""
    canonical = fact.canonical()
    symmetric = canonical.relation_type not in INVERSE_RELATION
    pairs = [(canonical.media_id, canonical.related_media_id)]
    if symmetric:
        pairs.append((canonical.related_media_id, canonical.media_id))
    removed = (
        await conn.execute(
            text(
                "DELETE FROM media.relationships r USING unnest(CAST(:a AS uuid[]), CAST(:b AS uuid[])) AS p(a, b) "
                "WHERE r.media_id = p.a AND r.related_media_id = p.b "
                "AND r.relation_type = CAST(:relation_type AS media.relation_type) "
                "RETURNING r.media_id, r.related_media_id, r.relation_type::text AS relation_type, r.notes, r.weight"
            ),
            {
                "a": [a for a, _ in pairs],
                "b": [b for _, b in pairs],
                "relation_type": canonical.relation_type,
            },
        )
    ).first()
    if removed is None:
        raise refused(RefusalCode.NOT_FOUND, "These items are not related this way", "relation_type")
    await record_revision(
        conn,
        actor_id,
        fact.media_id,
        "unlink",
        {
            "before": {
                "media_id": str(removed.media_id),
                "related_media_id": str(removed.related_media_id),
                "relation_type": removed.relation_type,
                "notes": removed.notes,
                "weight": removed.weight,
            },
            "after": None,
        },
    )


async def add_external_link(
    conn: AsyncConnection, actor_id: uuid.UUID | None, media_id: uuid.UUID, source: str, key: str
) -> bool:
    await _require_media(conn, [media_id], ["media_id"])
    added = await _claim_link(conn, media_id, source, key)
    if added:
        link = {"source_name": source, "external_key": key}
        await record_revision(conn, actor_id, media_id, "add_external_link", {"before": None, "after": link})
    return added


async def remove_external_link(
    conn: AsyncConnection, actor_id: uuid.UUID | None, media_id: uuid.UUID, source: str, key: str
) -> None:
    removed = (
        await conn.execute(
            delete(ExternalLink)
            .where(
                ExternalLink.media_id == media_id,
                ExternalLink.source_name == source,
                ExternalLink.external_key == key,
            )
            .returning(ExternalLink.media_id)
        )
    ).first()
    if removed is None:
        raise refused(RefusalCode.NOT_FOUND, "This item has no such external link", "external_key")
    link = {"source_name": source, "external_key": key}
    await record_revision(conn, actor_id, media_id, "remove_external_link", {"before": link, "after": None})


INCOMING_RELATIONS = (
    "json_to_recordset(CAST(:rows AS json)) AS i(src uuid, dst uuid, type text, notes text, weight smallint)"
)
UPDATE_RELATIONS = text(
    "UPDATE media.relationships r SET notes = coalesce(i.notes, r.notes), "
    f"weight = coalesce(i.weight, r.weight) FROM {INCOMING_RELATIONS} "
    "WHERE r.media_id = i.src AND r.related_media_id = i.dst "
    "AND r.relation_type = CAST(i.type AS media.relation_type) "
    "AND (r.notes, r.weight) IS DISTINCT FROM (coalesce(i.notes, r.notes), coalesce(i.weight, r.weight))"
)
INSERT_NEW_RELATIONS = text(
    "INSERT INTO media.relationships (media_id, related_media_id, relation_type, notes, weight) "
    f"SELECT i.src, i.dst, CAST(i.type AS media.relation_type), i.notes, i.weight FROM {INCOMING_RELATIONS}"
)
INSERT_RELATIONS = text(INSERT_NEW_RELATIONS.text + " ON CONFLICT DO NOTHING")


def _relation_json(row: str, notes: str = "notes", weight: str = "weight") -> str:
    return (
        f"jsonb_build_object('media_id', {row}.media_id, 'related_media_id', {row}.related_media_id, "
        f"'relation_type', {row}.relation_type::text, 'notes', {row}.{notes}, 'weight', {row}.{weight})"
    )


# A feed's relation changes are revisions too, those of the items it creates included.
FEED_LINK_REVISIONS = (
    "INSERT INTO media.revisions (media_id, action, changes, job_id, source) "
    "SELECT c.media_id, 'link', jsonb_build_object('before', {before}, 'after', {after}), :job_id, :source "
    "FROM changed c"
)
INSERT_NEW_RELATIONS_BY_FEED = text(
    f"WITH changed AS ({INSERT_NEW_RELATIONS.text} RETURNING media_id, related_media_id, relation_type, notes, weight) "
    + FEED_LINK_REVISIONS.format(before="NULL", after=_relation_json("c"))
)
INSERT_RELATIONS_BY_FEED = text(
    f"WITH changed AS ({INSERT_RELATIONS.text} RETURNING media_id, related_media_id, relation_type, notes, weight) "
    + FEED_LINK_REVISIONS.format(before="NULL", after=_relation_json("c"))
)
UPDATE_RELATIONS_BY_FEED = text(
    "WITH changed AS (UPDATE media.relationships r SET notes = coalesce(i.notes, r.notes), "
    f"weight = coalesce(i.weight, r.weight) FROM {INCOMING_RELATIONS} "
    "JOIN media.relationships o ON o.media_id = i.src AND o.related_media_id = i.dst "
    "AND o.relation_type = CAST(i.type AS media.relation_type) "
    "WHERE r.media_id = o.media_id AND r.related_media_id = o.related_media_id AND r.relation_type = o.relation_type "
    "AND (r.notes, r.weight) IS DISTINCT FROM (coalesce(i.notes, r.notes), coalesce(i.weight, r.weight)) "
    "RETURNING r.media_id, r.related_media_id, r.relation_type, r.notes, r.weight, "
    "o.notes AS old_notes, o.weight AS old_weight) "
    + FEED_LINK_REVISIONS.format(
        before=_relation_json("c", "old_notes", "old_weight"), after=_relation_json("c")
    )
)


def _relation_params(facts: list[RelationFact]) -> dict[str, str]:
    rows = [
        {
            "src": fact.media_id,
            "dst": fact.related_media_id,
            "type": fact.relation_type,
            "notes": fact.notes,
            "weight": fact.weight,
        }
        for fact in facts
    ]
    return {"rows": orjson.dumps(rows, default=str).decode()}


async def store_relations(
    conn: AsyncConnection,
    facts: Iterable[RelationFact],
    new_media_ids: Collection[uuid.UUID] = (),
    feed_job: tuple[int, str] | None = None,
) -> tuple[int, int]:
    """Store facts in canonical form, each once; a fact already stored in either direction only
    takes new notes/weight (when given), and so does a fact stated twice among `facts` (the later
    statement wins, as if they were stored one after the other). Returns (inserted, updated); at
    most two statements. `new_media_ids`: items created in this transaction and absent from every
    fact stored before this call, so no stored fact of theirs can need an update. `feed_job`
    (job id, source): a feed's batch, whose changes to relations between older items are revisions."""
    revision = {} if feed_job is None else {"job_id": feed_job[0], "source": feed_job[1]}
    unique: dict[tuple[uuid.UUID, uuid.UUID, str], RelationFact] = {}
    for fact in facts:
        canonical = fact.canonical()
        if canonical.media_id == canonical.related_media_id:
            continue
        earlier = unique.get(canonical.pair_key)
        if earlier is not None:
            canonical = RelationFact(
                earlier.media_id,
                earlier.related_media_id,
                earlier.relation_type,
                canonical.notes if canonical.notes is not None else earlier.notes,
                canonical.weight if canonical.weight is not None else earlier.weight,
            )
        unique[canonical.pair_key] = canonical
    if not unique:
        return 0, 0
    rows = list(unique.values())
    # Only facts carrying notes or a weight can change a stored row.
    annotated = [
        fact
        for fact in rows
        if (fact.notes is not None or fact.weight is not None)
        and fact.media_id not in new_media_ids
        and fact.related_media_id not in new_media_ids
    ]
    updated = 0
    if annotated:
        statement = UPDATE_RELATIONS if feed_job is None else UPDATE_RELATIONS_BY_FEED
        updated = (await conn.execute(statement, {**revision, **_relation_params(annotated)})).rowcount
    # Facts of new items cannot collide with a stored one: they skip ON CONFLICT's extra index probes.
    fresh = [
        fact for fact in rows if fact.media_id in new_media_ids or fact.related_media_id in new_media_ids
    ]
    known = [
        fact
        for fact in rows
        if fact.media_id not in new_media_ids and fact.related_media_id not in new_media_ids
    ]
    inserted = 0
    if fresh:
        statement = INSERT_NEW_RELATIONS if feed_job is None else INSERT_NEW_RELATIONS_BY_FEED
        inserted += (await conn.execute(statement, {**revision, **_relation_params(fresh)})).rowcount
    if known:
        statement = INSERT_RELATIONS if feed_job is None else INSERT_RELATIONS_BY_FEED
        inserted += (await conn.execute(statement, {**revision, **_relation_params(known)})).rowcount
    return inserted, updated


async def take_pending_relations(
    conn: AsyncConnection, keys: Sequence[tuple[str, str]]
) -> list[RelationFact]:
    """Relations that waited for one of these keys, removed from the waiting list now that the keys
    are linked; the caller stores them."""
    if not keys:
        return []
    resolved = await conn.execute(
        text(
            "DELETE FROM ingest.pending_relations p "
            "USING unnest(CAST(:sources AS text[]), CAST(:keys AS text[])) AS k(source_name, external_key) "
            "JOIN media.external_links l "
            "ON l.source_name = k.source_name AND l.external_key = k.external_key "
            "WHERE p.target_source = k.source_name AND p.target_key = k.external_key "
            "RETURNING p.media_id, l.media_id AS target_id, p.relation_type::text AS relation_type, "
            "p.notes, p.weight"
        ),
        {"sources": [source for source, _ in keys], "keys": [key for _, key in keys]},
    )
    return [
        RelationFact(row.media_id, row.target_id, row.relation_type, row.notes, row.weight)
        for row in resolved
    ]


async def resolve_pending_relations(conn: AsyncConnection, keys: Sequence[tuple[str, str]]) -> int:
    """Relations that waited for one of these keys become real now that the keys are linked."""
    resolved = await take_pending_relations(conn, keys)
    if resolved:
        await store_relations(conn, resolved)
    return len(resolved)


class RevisionRow(Protocol):
    """One change of an item, as media.revisions holds it."""

    @property
    def id(self) -> int: ...
    @property
    def media_id(self) -> uuid.UUID: ...
    @property
    def actor_id(self) -> uuid.UUID | None: ...
    @property
    def action(self) -> str: ...
    @property
    def changes(self) -> dict[str, Any]: ...
    @property
    def created_at(self) -> dt.datetime: ...
    @property
    def job_id(self) -> int | None: ...
    @property
    def source(self) -> str | None: ...


async def revisions_by_media_ids(conn: AsyncConnection, ids: Sequence[uuid.UUID]) -> list[list[RevisionRow]]:
    rows = (
        await conn.execute(
            select(MediaRevision)
            .where(MediaRevision.media_id.in_(ids))
            .order_by(MediaRevision.media_id, MediaRevision.created_at.desc(), MediaRevision.id.desc())
        )
    ).all()
    by_media: dict[uuid.UUID, list[RevisionRow]] = {media_id: [] for media_id in ids}
    for row in rows:
        by_media[row.media_id].append(row)
    return [by_media[media_id] for media_id in ids]
