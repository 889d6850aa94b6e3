"""Catalog curation by admins: media, relation and external-link mutations, and Media.revisions.

Each mutation authorises the ADMIN scope (anyone else gets FORBIDDEN and nothing changes) and runs one
command of db/curation_commands.py.
"""

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.scalars import JSON

from db import curation_commands
from db.media_fields import MEDIA_FIELDS
from db.media_rows import MediaRow
from gql.auth import Viewer
from gql.commands import perform
from gql.context import Info
from gql.enums import DatePrecision, MediaType
from gql.errors import INPUT, USER_ERRORS, UserError
from gql.media import Media
from gql.permissions import ADMIN
from gql.relations import RelationType
from gql.relay import decode_id


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
    media: Media | None = strawberry.field(
        default=None, description="The item kept, holding everything moved."
    )
    merged_media_id: strawberry.ID | None = strawberry.field(
        default=None, description="The merged item's id; it keeps resolving to the item kept."
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list, description=USER_ERRORS)


@strawberry.type(description="The catalog item as changed.")
class MediaPayload:
    media: Media | None = strawberry.field(default=None, description="The item.")
    user_errors: list[UserError] = strawberry.field(default_factory=list, description=USER_ERRORS)


@strawberry.type(description="The catalog item that no longer exists.")
class DeleteMediaPayload:
    deleted_media_id: strawberry.ID | None = strawberry.field(default=None, description="Its ID.")
    user_errors: list[UserError] = strawberry.field(default_factory=list, description=USER_ERRORS)


@strawberry.type(description="The two items of a relation, as changed.")
class LinkMediaPayload:
    media: Media | None = strawberry.field(default=None, description="The item the relation starts at.")
    related_media: Media | None = strawberry.field(default=None, description="The item it ends at.")
    user_errors: list[UserError] = strawberry.field(default_factory=list, description=USER_ERRORS)


MEDIA_INPUT_FIELDS = MEDIA_FIELDS


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


def _media_id(global_id: str) -> uuid.UUID | None:
    """None for an id that is no media ID: the command refuses it as an item that does not exist."""
    return decode_id(global_id, "Media")


def _media(row: MediaRow | None) -> Media | None:
    return None if row is None else Media.from_row(row)


@strawberry.type
class AdminMutation:
    @strawberry.mutation(description="Add a catalog item (admins only).")
    async def create_media(self, info: Info, input: Annotated[CreateMediaInput, INPUT]) -> MediaPayload:
        async def run(viewer: Viewer) -> MediaPayload:
            row = await curation_commands.create_media(
                info.context.engine, viewer.user_id, _fields_of(input), input.external_id
            )
            return MediaPayload(media=_media(row))

        return await perform(info, MediaPayload, run, scope=ADMIN)

    @strawberry.mutation(description="Change the given fields of a catalog item (admins only).")
    async def update_media(self, info: Info, input: Annotated[UpdateMediaInput, INPUT]) -> MediaPayload:
        async def run(viewer: Viewer) -> MediaPayload:
            row = await curation_commands.update_media(
                info.context.engine, viewer.user_id, _media_id(input.id), _fields_of(input)
            )
            return MediaPayload(media=_media(row))

        return await perform(info, MediaPayload, run, scope=ADMIN)

    @strawberry.mutation(description="Delete a catalog item with its links and relations (admins only).")
    async def delete_media(self, info: Info, input: Annotated[DeleteMediaInput, INPUT]) -> DeleteMediaPayload:
        async def run(viewer: Viewer) -> DeleteMediaPayload:
            await curation_commands.delete_media(info.context.engine, viewer.user_id, _media_id(input.id))
            return DeleteMediaPayload(deleted_media_id=input.id)

        return await perform(info, DeleteMediaPayload, run, scope=ADMIN)

    @strawberry.mutation(
        description="Relate two items: relatedMedia is the <relationType> of media. A fact already stored "
        "in either direction (B SOURCE A when A ADAPTATION B exists) stores nothing new (admins only)."
    )
    async def link_media(self, info: Info, input: Annotated[LinkMediaInput, INPUT]) -> LinkMediaPayload:
        async def run(viewer: Viewer) -> LinkMediaPayload:
            item, related = await curation_commands.link_media(
                info.context.engine,
                viewer.user_id,
                _media_id(input.media_id),
                _media_id(input.related_media_id),
                input.relation_type.value,
                input.notes,
                input.weight,
            )
            return LinkMediaPayload(media=_media(item), related_media=_media(related))

        return await perform(info, LinkMediaPayload, run, scope=ADMIN)

    @strawberry.mutation(description="Remove a relation however it is phrased (admins only).")
    async def unlink_media(self, info: Info, input: Annotated[UnlinkMediaInput, INPUT]) -> LinkMediaPayload:
        async def run(viewer: Viewer) -> LinkMediaPayload:
            item, related = await curation_commands.unlink_media(
                info.context.engine,
                viewer.user_id,
                _media_id(input.media_id),
                _media_id(input.related_media_id),
                input.relation_type.value,
            )
            return LinkMediaPayload(media=_media(item), related_media=_media(related))

        return await perform(info, LinkMediaPayload, run, scope=ADMIN)

    @strawberry.mutation(
        description="Link an external id to an item; a key held by another item is a CONFLICT (admins only)."
    )
    async def add_external_link(self, info: Info, input: Annotated[ExternalLinkInput, INPUT]) -> MediaPayload:
        return await _change_external_link(info, input, curation_commands.add_external_link)

    @strawberry.mutation(description="Remove an external id from an item (admins only).")
    async def remove_external_link(
        self, info: Info, input: Annotated[ExternalLinkInput, INPUT]
    ) -> MediaPayload:
        return await _change_external_link(info, input, curation_commands.remove_external_link)

    @strawberry.mutation(
        description="Move an external id from the item holding it to this item, e.g. to settle an ingestion "
        "conflict (admins only)."
    )
    async def move_external_link(
        self, info: Info, input: Annotated[ExternalLinkInput, INPUT]
    ) -> MediaPayload:
        return await _change_external_link(info, input, curation_commands.move_external_link)

    @strawberry.mutation(
        description="Merge two items that are one: the external ids, relations, tracking entries and list "
        "items of mergeId move to keepId (an entry or list item the kept item already has wins), keepId's "
        "fields stay, and mergeId's global ID keeps resolving to keepId (admins only)."
    )
    async def merge_media(self, info: Info, input: Annotated[MergeMediaInput, INPUT]) -> MergeMediaPayload:
        async def run(viewer: Viewer) -> MergeMediaPayload:
            row = await curation_commands.merge_media(
                info.context.engine, viewer.user_id, _media_id(input.keep_id), _media_id(input.merge_id)
            )
            return MergeMediaPayload(media=_media(row), merged_media_id=input.merge_id)

        return await perform(info, MergeMediaPayload, run, scope=ADMIN)


ChangeExternalLink = Callable[
    [AsyncEngine, uuid.UUID, uuid.UUID | None, str, str], Awaitable[MediaRow | None]
]


async def _change_external_link(
    info: Info, data: ExternalLinkInput, change: ChangeExternalLink
) -> MediaPayload:
    async def run(viewer: Viewer) -> MediaPayload:
        row = await change(
            info.context.engine, viewer.user_id, _media_id(data.media_id), data.source_name, data.external_key
        )
        return MediaPayload(media=_media(row))

    return await perform(info, MediaPayload, run, scope=ADMIN)
