"""The catalog writes of admins, one transaction each: the fields are checked with the validator
ingestion uses, the write records a revision (db/curation.py, db/identity.py), and the items it
changed are read back in the same transaction. An id the API could not read is passed as None: it
names no item, and is refused like an id of an item that does not exist."""

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from db import curation, identity
from db import media as media_queries
from db.curation import RelationFact
from db.media_fields import validate_media_fields
from db.media_rows import MediaRow
from db.media_validation import InvalidValue, external_key, external_link
from db.refusals import FIELD, Refusal, RefusalCode, Refused, invalid

NO_SUCH_ITEM = "No media item has this id"
SMALLINT = range(-32768, 32768)


def _unknown(**ids: uuid.UUID | None) -> list[Refusal]:
    return [
        Refusal(RefusalCode.NOT_FOUND, NO_SUCH_ITEM, (field,))
        for field, value in ids.items()
        if value is None
    ]


def _known(**ids: uuid.UUID | None) -> list[uuid.UUID]:
    """The ids, each naming an item (the items' existence is checked in the transaction)."""
    _refuse(_unknown(**ids))
    return [media_id for media_id in ids.values() if media_id is not None]


def _validated(fields: dict[str, Any], require_all: bool) -> tuple[dict[str, Any], list[Refusal]]:
    clean, errors = validate_media_fields(fields, require_all)
    return clean, [
        Refusal(RefusalCode.INVALID, f"{FIELD} {error.message}", error.field[:1], within=error.field[1:])
        for error in errors
    ]


def _refuse(refusals: list[Refusal]) -> None:
    if refusals:
        raise Refused(*refusals)


async def _fresh(conn: AsyncConnection, *ids: uuid.UUID) -> list[MediaRow | None]:
    return await media_queries.media_by_ids(conn, list(ids))


async def create_media(
    engine: AsyncEngine, actor_id: uuid.UUID, fields: dict[str, Any], external_id: str | None
) -> MediaRow | None:
    """A new item from `fields` (snake_case names, every required one given); `external_id`
    ("<source>:<key>") is also registered as its external link."""
    clean, refusals = _validated(fields, require_all=True)
    key = None
    if external_id is not None:
        try:
            key = external_key(external_id)
        except InvalidValue as exc:
            refusals.append(Refusal(RefusalCode.INVALID, f"{FIELD} {exc}", ("external_id",)))
    _refuse(refusals)
    async with engine.begin() as conn:
        (row,) = await _fresh(conn, await curation.create_media(conn, actor_id, clean, key))
    return row


async def update_media(
    engine: AsyncEngine, actor_id: uuid.UUID, media_id: uuid.UUID | None, fields: dict[str, Any]
) -> MediaRow | None:
    """The item with the fields given changed; the others stay."""
    (media_id,) = _known(id=media_id)
    clean, refusals = _validated(fields, require_all=False)
    _refuse(refusals)
    async with engine.begin() as conn:
        await curation.update_media(conn, actor_id, media_id, clean)
        (row,) = await _fresh(conn, media_id)
    return row


async def delete_media(engine: AsyncEngine, actor_id: uuid.UUID, media_id: uuid.UUID | None) -> None:
    (media_id,) = _known(id=media_id)
    async with engine.begin() as conn:
        await curation.delete_media(conn, actor_id, media_id)


def _relation_fact(
    media_id: uuid.UUID | None,
    related_media_id: uuid.UUID | None,
    relation_type: str,
    notes: str | None,
    weight: int | None,
) -> RelationFact:
    refusals = _unknown(media_id=media_id, related_media_id=related_media_id)
    if weight is not None and weight not in SMALLINT:
        refusals.append(Refusal(RefusalCode.INVALID, "weight must fit in 16 bits", ("weight",)))
    _refuse(refusals)
    item, related = _known(media_id=media_id, related_media_id=related_media_id)
    return RelationFact(item, related, relation_type, notes, weight)


async def link_media(
    engine: AsyncEngine,
    actor_id: uuid.UUID,
    media_id: uuid.UUID | None,
    related_media_id: uuid.UUID | None,
    relation_type: str,
    notes: str | None,
    weight: int | None,
) -> list[MediaRow | None]:
    """Both items after `related_media_id` became the `relation_type` of `media_id`."""
    fact = _relation_fact(media_id, related_media_id, relation_type, notes, weight)
    async with engine.begin() as conn:
        await curation.link_media(conn, actor_id, fact)
        return await _fresh(conn, fact.media_id, fact.related_media_id)


async def unlink_media(
    engine: AsyncEngine,
    actor_id: uuid.UUID,
    media_id: uuid.UUID | None,
    related_media_id: uuid.UUID | None,
    relation_type: str,
) -> list[MediaRow | None]:
    """Both items after the relation, however it was phrased, was removed."""
    fact = _relation_fact(media_id, related_media_id, relation_type, None, None)
    async with engine.begin() as conn:
        await curation.unlink_media(conn, actor_id, fact)
        return await _fresh(conn, fact.media_id, fact.related_media_id)


ChangeLink = Callable[[AsyncConnection, uuid.UUID | None, uuid.UUID, str, str], Awaitable[Any]]


async def _change_external_link(
    change: ChangeLink,
    engine: AsyncEngine,
    actor_id: uuid.UUID,
    media_id: uuid.UUID | None,
    source_name: str,
    key: str,
) -> MediaRow | None:
    (media_id,) = _known(media_id=media_id)
    try:
        source, clean_key = external_link(source_name, key)
    except InvalidValue as exc:
        raise invalid(str(exc), "source_name" if exc.subfield == ("source",) else "external_key") from exc
    async with engine.begin() as conn:
        await change(conn, actor_id, media_id, source, clean_key)
        (row,) = await _fresh(conn, media_id)
    return row


async def add_external_link(
    engine: AsyncEngine, actor_id: uuid.UUID, media_id: uuid.UUID | None, source_name: str, key: str
) -> MediaRow | None:
    """The item with one more external id; a key another item holds is a CONFLICT."""
    return await _change_external_link(
        curation.add_external_link, engine, actor_id, media_id, source_name, key
    )


async def remove_external_link(
    engine: AsyncEngine, actor_id: uuid.UUID, media_id: uuid.UUID | None, source_name: str, key: str
) -> MediaRow | None:
    return await _change_external_link(
        curation.remove_external_link, engine, actor_id, media_id, source_name, key
    )


async def move_external_link(
    engine: AsyncEngine, actor_id: uuid.UUID, media_id: uuid.UUID | None, source_name: str, key: str
) -> MediaRow | None:
    """The item holding the key now, taken from whichever item held it."""
    return await _change_external_link(
        identity.move_external_link, engine, actor_id, media_id, source_name, key
    )


async def merge_media(
    engine: AsyncEngine, actor_id: uuid.UUID, keep_id: uuid.UUID | None, merge_id: uuid.UUID | None
) -> MediaRow | None:
    """The kept item, holding everything of the merged one."""
    keep_id, merge_id = _known(keep_id=keep_id, merge_id=merge_id)
    async with engine.begin() as conn:
        await identity.merge_media(conn, actor_id, keep_id, merge_id)
        (row,) = await _fresh(conn, keep_id)
    return row
