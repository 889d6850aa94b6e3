"""Catalog curation by admins: media, relation and external-link mutations, and Media.revisions.

Each mutation authorises first (anyone but an admin gets FORBIDDEN and nothing changes), validates
with the validator ingestion uses, then writes in one transaction that also records a revision.
"""

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncConnection
from strawberry.scalars import JSON

from db import curation, identity
from db import media as media_queries
from db.curation import CurationError, RelationFact
from db.media_fields import MEDIA_FIELDS, validate_media_fields
from db.media_validation import InvalidValue, external_key, external_link
from db.refusals import RefusalCode
from gql.context import Info
from gql.enums import DatePrecision, MediaType
from gql.errors import INPUT, USER_ERRORS, UserError, UserErrorCode, user_error
from gql.media import Media
from gql.permissions import admin_denied
from gql.relations import RelationType
from gql.relay import decode_id


def require_admin(info: Info) -> UserError | None:
    return admin_denied(info.context.viewer)


@strawberry.input(description="Another title of an item.")
class AlternativeTitleInput:
    title: str = strawberry.field(description="The title.")
    language: str | None = strawberry.field(default=None, description="A language tag such as `ja`.")


@strawberry.input(description="A new catalog item.")
class CreateMediaInput:
    title: str = strawberry.field(description="The main title.")
    media_type: MediaType = strawberry.field(description="The kind of media.")
    media_class: str = strawberry.field(description="Taxonomy path, e.g. `written.book.novel`.")
    alternative_titles: list[AlternativeTitleInput] | None = strawberry.field(
        default=None, description="Other titles: translations, romanisations, working titles."
    )
    release_date: dt.date | None = strawberry.field(default=None, description="When it came out.")
    release_date_precision: DatePrecision | None = strawberry.field(
        default=None,
        description="YEAR or MONTH when only that much is known; the date is stored as the period's first "
        "day. Defaults to DAY.",
    )
    country_of_origin: str | None = strawberry.field(default=None, description="An ISO 3166-1 country code.")
    creators: list[str] | None = strawberry.field(default=None, description="In credit order.")
    cover_url: str | None = strawberry.field(default=None, description="An image of the cover or poster.")
    description: str | None = strawberry.field(default=None, description="A summary.")
    attributes: JSON | None = strawberry.field(
        default=None, description="Type-specific fields: isbn, page_count, episodes..."
    )
    collection_path: str | None = strawberry.field(
        default=None, description="Franchise / universe path, e.g. `dune.novels`."
    )
    external_id: str | None = strawberry.field(
        default=None, description='"<source>:<key>", also registered as an external link.'
    )


@strawberry.input(description="Only the fields given change; null clears an optional field.")
class UpdateMediaInput:
    id: strawberry.ID = strawberry.field(description="The item's ID.")
    title: str | None = strawberry.field(default=strawberry.UNSET, description="The main title.")
    media_type: MediaType | None = strawberry.field(
        default=strawberry.UNSET, description="The kind of media."
    )
    media_class: str | None = strawberry.field(default=strawberry.UNSET, description="Taxonomy path.")
    alternative_titles: list[AlternativeTitleInput] | None = strawberry.field(
        default=strawberry.UNSET, description="Every other title (replaces the list)."
    )
    release_date: dt.date | None = strawberry.field(default=strawberry.UNSET, description="When it came out.")
    release_date_precision: DatePrecision | None = strawberry.field(
        default=strawberry.UNSET, description="Given with releaseDate; defaults to DAY."
    )
    country_of_origin: str | None = strawberry.field(
        default=strawberry.UNSET, description="An ISO 3166-1 country code."
    )
    creators: list[str] | None = strawberry.field(default=strawberry.UNSET, description="In credit order.")
    cover_url: str | None = strawberry.field(default=strawberry.UNSET, description="An image of the cover.")
    description: str | None = strawberry.field(default=strawberry.UNSET, description="A summary.")
    attributes: JSON | None = strawberry.field(default=strawberry.UNSET, description="Type-specific fields.")
    collection_path: str | None = strawberry.field(
        default=strawberry.UNSET, description="Franchise / universe path."
    )


@strawberry.input(description="The catalog item to delete.")
class DeleteMediaInput:
    id: strawberry.ID = strawberry.field(description="The item's ID.")


@strawberry.input(description="A relation to record between two items.")
class LinkMediaInput:
    media_id: strawberry.ID = strawberry.field(description="The item the relation starts at.")
    related_media_id: strawberry.ID = strawberry.field(description="The item it ends at.")
    relation_type: RelationType = strawberry.field(description="What the related item is to the first.")
    notes: str | None = strawberry.field(default=None, description="A note on the relation.")
    weight: int | None = strawberry.field(default=None, description="An integer to attach to the relation.")


@strawberry.input(description="A recorded relation to remove.")
class UnlinkMediaInput:
    media_id: strawberry.ID = strawberry.field(description="The item the relation starts at.")
    related_media_id: strawberry.ID = strawberry.field(description="The item it ends at.")
    relation_type: RelationType = strawberry.field(description="The relation's type.")


@strawberry.input(description="Where an item is known in another catalog.")
class ExternalLinkInput:
    media_id: strawberry.ID = strawberry.field(description="The item's ID.")
    source_name: str = strawberry.field(description="The other catalog, e.g. `tmdb`.")
    external_key: str = strawberry.field(description="The item's key there.")


@strawberry.input(description="Two items that are one: everything of the second moves to the first.")
class MergeMediaInput:
    keep_id: strawberry.ID = strawberry.field(description="The item that stays.")
    merge_id: strawberry.ID = strawberry.field(description="The item merged into it; its ID then redirects.")


@strawberry.type(description="The item that absorbed another.")
class MergeMediaPayload:
    media: Media | None = strawberry.field(description="The item kept, holding everything moved.")
    merged_media_id: strawberry.ID | None = strawberry.field(
        description="The merged item's id; it keeps resolving to the item kept."
    )
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type(description="The catalog item as changed.")
class MediaPayload:
    media: Media | None = strawberry.field(description="The item.")
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type(description="The catalog item that no longer exists.")
class DeleteMediaPayload:
    deleted_media_id: strawberry.ID | None = strawberry.field(description="Its ID.")
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type(description="The two items of a relation, as changed.")
class LinkMediaPayload:
    media: Media | None = strawberry.field(description="The item the relation starts at.")
    related_media: Media | None = strawberry.field(description="The item it ends at.")
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)


MEDIA_INPUT_FIELDS = MEDIA_FIELDS


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _fields_of(data: CreateMediaInput | UpdateMediaInput) -> dict[str, Any]:
    fields = {}
    for name in MEDIA_INPUT_FIELDS:
        value = getattr(data, name)
        if value is strawberry.UNSET or (name == "release_date_precision" and value is None):
            continue
        if isinstance(value, MediaType | DatePrecision):
            value = value.value
        elif name == "alternative_titles" and value is not None:
            value = [{"title": item.title, "language": item.language} for item in value]
        fields[name] = value
    return fields


def _validate(
    data: CreateMediaInput | UpdateMediaInput, require_all: bool
) -> tuple[dict[str, Any], list[UserError]]:
    clean, errors = validate_media_fields(_fields_of(data), require_all)
    return clean, [
        user_error(
            UserErrorCode.INVALID,
            f"{'.'.join((_camel(error.field[0]), *error.field[1:]))} {error.message}",
            _camel(error.field[0]),
            *error.field[1:],
        )
        for error in errors
    ]


def _not_found(field: str) -> UserError:
    return user_error(UserErrorCode.NOT_FOUND, "No media item has this id", field)


def _from_curation(exc: CurationError) -> UserError:
    return user_error(RefusalCode[exc.code], exc.message, *exc.field)


async def _fresh_media(conn: AsyncConnection, *ids: uuid.UUID) -> list[Media | None]:
    rows = await media_queries.media_by_ids(conn, list(ids))
    return [None if row is None else Media.from_row(row) for row in rows]


Write = Callable[[AsyncConnection], Awaitable[list[Media | None]]]


async def _write(info: Info, write: Write) -> tuple[list[Media | None], list[UserError]]:
    """One transaction; a CurationError rolls it back and becomes a user error."""
    try:
        async with info.context.engine.begin() as conn:
            return await write(conn), []
    except CurationError as exc:
        return [], [_from_curation(exc)]


def _actor(info: Info) -> uuid.UUID | None:
    viewer = info.context.viewer
    return None if viewer is None else viewer.user_id


@strawberry.type
class AdminMutation:
    @strawberry.mutation(description="Add a catalog item (admins only).")
    async def create_media(self, info: Info, input: Annotated[CreateMediaInput, INPUT]) -> MediaPayload:
        if forbidden := require_admin(info):
            return MediaPayload(media=None, user_errors=[forbidden])
        fields, errors = _validate(input, require_all=True)
        key = None
        if input.external_id is not None:
            try:
                key = external_key(input.external_id)
            except InvalidValue as exc:
                errors.append(user_error(UserErrorCode.INVALID, f"externalId {exc}", "externalId"))
        if errors:
            return MediaPayload(media=None, user_errors=errors)

        async def write(conn: AsyncConnection) -> list[Media | None]:
            return await _fresh_media(conn, await curation.create_media(conn, _actor(info), fields, key))

        media, errors = await _write(info, write)
        return MediaPayload(media=media[0] if media else None, user_errors=errors)

    @strawberry.mutation(description="Change the given fields of a catalog item (admins only).")
    async def update_media(self, info: Info, input: Annotated[UpdateMediaInput, INPUT]) -> MediaPayload:
        if forbidden := require_admin(info):
            return MediaPayload(media=None, user_errors=[forbidden])
        media_id = decode_id(input.id, "Media")
        if media_id is None:
            return MediaPayload(media=None, user_errors=[_not_found("id")])
        fields, errors = _validate(input, require_all=False)
        if errors:
            return MediaPayload(media=None, user_errors=errors)

        async def write(conn: AsyncConnection) -> list[Media | None]:
            await curation.update_media(conn, _actor(info), media_id, fields)
            return await _fresh_media(conn, media_id)

        media, errors = await _write(info, write)
        return MediaPayload(media=media[0] if media else None, user_errors=errors)

    @strawberry.mutation(description="Delete a catalog item with its links and relations (admins only).")
    async def delete_media(self, info: Info, input: Annotated[DeleteMediaInput, INPUT]) -> DeleteMediaPayload:
        if forbidden := require_admin(info):
            return DeleteMediaPayload(deleted_media_id=None, user_errors=[forbidden])
        media_id = decode_id(input.id, "Media")
        if media_id is None:
            return DeleteMediaPayload(deleted_media_id=None, user_errors=[_not_found("id")])

        async def write(conn: AsyncConnection) -> list[Media | None]:
            await curation.delete_media(conn, _actor(info), media_id)
            return []

        _, errors = await _write(info, write)
        return DeleteMediaPayload(deleted_media_id=None if errors else input.id, user_errors=errors)

    @strawberry.mutation(
        description="Relate two items: relatedMedia is the <relationType> of media. A fact already stored "
        "in either direction (B SOURCE A when A ADAPTATION B exists) stores nothing new (admins only)."
    )
    async def link_media(self, info: Info, input: Annotated[LinkMediaInput, INPUT]) -> LinkMediaPayload:
        if forbidden := require_admin(info):
            return LinkMediaPayload(media=None, related_media=None, user_errors=[forbidden])
        fact, errors = _relation_fact(input, input.notes, input.weight)
        if fact is None:
            return LinkMediaPayload(media=None, related_media=None, user_errors=errors)

        async def write(conn: AsyncConnection) -> list[Media | None]:
            await curation.link_media(conn, _actor(info), fact)
            return await _fresh_media(conn, fact.media_id, fact.related_media_id)

        media, errors = await _write(info, write)
        item, related = media or [None, None]
        return LinkMediaPayload(media=item, related_media=related, user_errors=errors)

    @strawberry.mutation(description="Remove a relation however it is phrased (admins only).")
    async def unlink_media(self, info: Info, input: Annotated[UnlinkMediaInput, INPUT]) -> LinkMediaPayload:
        if forbidden := require_admin(info):
            return LinkMediaPayload(media=None, related_media=None, user_errors=[forbidden])
        fact, errors = _relation_fact(input, None, None)
        if fact is None:
            return LinkMediaPayload(media=None, related_media=None, user_errors=errors)

        async def write(conn: AsyncConnection) -> list[Media | None]:
            await curation.unlink_media(conn, _actor(info), fact)
            return await _fresh_media(conn, fact.media_id, fact.related_media_id)

        media, errors = await _write(info, write)
        item, related = media or [None, None]
        return LinkMediaPayload(media=item, related_media=related, user_errors=errors)

    @strawberry.mutation(
        description="Link an external id to an item; a key held by another item is a CONFLICT (admins only)."
    )
    async def add_external_link(self, info: Info, input: Annotated[ExternalLinkInput, INPUT]) -> MediaPayload:
        return await _change_external_link(info, input, curation.add_external_link)

    @strawberry.mutation(description="Remove an external id from an item (admins only).")
    async def remove_external_link(
        self, info: Info, input: Annotated[ExternalLinkInput, INPUT]
    ) -> MediaPayload:
        return await _change_external_link(info, input, curation.remove_external_link)

    @strawberry.mutation(
        description="Move an external id from the item holding it to this item, e.g. to settle an ingestion "
        "conflict (admins only)."
    )
    async def move_external_link(
        self, info: Info, input: Annotated[ExternalLinkInput, INPUT]
    ) -> MediaPayload:
        return await _change_external_link(info, input, identity.move_external_link)

    @strawberry.mutation(
        description="Merge two items that are one: the external ids, relations, tracking entries and list "
        "items of mergeId move to keepId (an entry or list item the kept item already has wins), keepId's "
        "fields stay, and mergeId's global ID keeps resolving to keepId (admins only)."
    )
    async def merge_media(self, info: Info, input: Annotated[MergeMediaInput, INPUT]) -> MergeMediaPayload:
        if forbidden := require_admin(info):
            return MergeMediaPayload(media=None, merged_media_id=None, user_errors=[forbidden])
        keep_id = decode_id(input.keep_id, "Media")
        merge_id = decode_id(input.merge_id, "Media")
        errors = [
            _not_found(field)
            for field, value in (("keepId", keep_id), ("mergeId", merge_id))
            if value is None
        ]
        if keep_id is None or merge_id is None:
            return MergeMediaPayload(media=None, merged_media_id=None, user_errors=errors)

        async def write(conn: AsyncConnection) -> list[Media | None]:
            await identity.merge_media(conn, _actor(info), keep_id, merge_id)
            return await _fresh_media(conn, keep_id)

        media, errors = await _write(info, write)
        return MergeMediaPayload(
            media=media[0] if media else None,
            merged_media_id=None if errors else input.merge_id,
            user_errors=errors,
        )


def _relation_fact(
    data: LinkMediaInput | UnlinkMediaInput, notes: str | None, weight: int | None
) -> tuple[RelationFact | None, list[UserError]]:
    media_id = decode_id(data.media_id, "Media")
    related_id = decode_id(data.related_media_id, "Media")
    errors = []
    if media_id is None:
        errors.append(_not_found("mediaId"))
    if related_id is None:
        errors.append(_not_found("relatedMediaId"))
    if weight is not None and not -32768 <= weight <= 32767:
        errors.append(user_error(UserErrorCode.INVALID, "weight must fit in 16 bits", "weight"))
    if media_id is None or related_id is None or errors:
        return None, errors
    return RelationFact(media_id, related_id, data.relation_type.value, notes, weight), []


async def _change_external_link(
    info: Info,
    data: ExternalLinkInput,
    change: Callable[[AsyncConnection, uuid.UUID | None, uuid.UUID, str, str], Awaitable[Any]],
) -> MediaPayload:
    if forbidden := require_admin(info):
        return MediaPayload(media=None, user_errors=[forbidden])
    media_id = decode_id(data.media_id, "Media")
    if media_id is None:
        return MediaPayload(media=None, user_errors=[_not_found("mediaId")])
    try:
        source, key = external_link(data.source_name, data.external_key)
    except InvalidValue as exc:
        field = "sourceName" if exc.subfield == ("source",) else "externalKey"
        return MediaPayload(media=None, user_errors=[user_error(UserErrorCode.INVALID, str(exc), field)])

    async def write(conn: AsyncConnection) -> list[Media | None]:
        await change(conn, _actor(info), media_id, source, key)
        return await _fresh_media(conn, media_id)

    media, errors = await _write(info, write)
    return MediaPayload(media=media[0] if media else None, user_errors=errors)
