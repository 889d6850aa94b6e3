"""Tracking entries: TrackingEntry, the library and its statistics, Media.viewerEntry and the
tracking mutations. `user_library` and `user_stats` are plain functions so any User type can expose them."""

import datetime as dt
import uuid
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, cast

import strawberry

from db import tracking as tracking_queries
from db import tracking_commands
from db.accounts import UserRow
from db.keyset import InvalidCursor
from db.media import media_attributes
from db.media_filters import LTREE_PATTERN
from db.media_rows import EntryRow, MediaRow
from db.tracking import EntryChanges
from gql.auth import Viewer
from gql.commands import perform
from gql.context import Info
from gql.enums import MediaType, TrackingStatus
from gql.errors import INPUT, USER_ERRORS, BadUserInput, UserError
from gql.lazy_types import lazy_class
from gql.permissions import profile_visible_to
from gql.relay import (
    Connection,
    Node,
    bad_cursor,
    connection_from_page,
    decode_id,
    page_size,
    to_global_id,
)

if TYPE_CHECKING:
    from gql.accounts import User
    from gql.media import Media

# gql.media imports this module for Media.viewerEntry, gql.accounts for User.library.
LazyMedia = Annotated["Media", strawberry.lazy("gql.media")]
LazyUser = Annotated["User", strawberry.lazy("gql.accounts")]


def _media_from_row(row: MediaRow) -> "Media":
    media: Media = lazy_class(LazyMedia).from_row(row)
    return media


def _user_from_row(row: UserRow) -> "User":
    user: User = lazy_class(LazyUser).from_row(row)
    return user


@strawberry.type(description="A user's entry for one media item: where they are, what they thought.")
class TrackingEntry(Node):
    media_id: strawberry.Private[uuid.UUID]
    status: TrackingStatus = strawberry.field(description="Where the user is with the item.")
    progress: int = strawberry.field(description="Units done: episodes, chapters, pages...")
    rating: int | None = strawberry.field(description="1 to 10.")
    notes: str | None = strawberry.field(description="The user's own notes.")
    repeat_count: int = strawberry.field(description="How many times they went through it again.")
    started_at: dt.datetime | None = strawberry.field(description="When they started.")
    completed_at: dt.datetime | None = strawberry.field(description="When they finished.")
    created_at: dt.datetime = strawberry.field(description="When the item was first tracked.")
    updated_at: dt.datetime = strawberry.field(description="The entry's last change.")
    media_row: strawberry.Private[MediaRow | None] = None

    @classmethod
    def from_row(cls, row: EntryRow, media_row: MediaRow | None = None) -> "TrackingEntry":
        return cls(
            id=to_global_id("TrackingEntry", row.entry_user_id, row.entry_media_id),
            media_id=row.entry_media_id,
            status=TrackingStatus(row.entry_status),
            progress=row.entry_progress,
            rating=row.entry_rating,
            notes=row.entry_notes,
            repeat_count=row.entry_repeat_count,
            started_at=row.entry_started_at,
            completed_at=row.entry_completed_at,
            created_at=row.entry_created_at,
            updated_at=row.entry_updated_at,
            media_row=media_row,
        )

    async def _media_row(self, info: Info) -> MediaRow:
        if self.media_row is None:
            self.media_row = await info.context.loaders.media_by_id.load(self.media_id)
        # The entry's item exists (ON DELETE CASCADE) unless deleted between the two reads.
        assert self.media_row is not None
        return self.media_row

    @strawberry.field(description="The catalog item.")
    async def media(self, info: Info) -> LazyMedia:
        return _media_from_row(await self._media_row(info))

    @strawberry.field(
        description="Progress out of the media's total units, 0-100; null when the total is unknown."
    )
    async def progress_percent(self, info: Info) -> float | None:
        row = await self._media_row(info)
        total = tracking_queries.total_units(row.media_type, media_attributes(row))
        return None if total is None else round(100 * min(self.progress, total) / total, 1)


async def viewer_entry(root: "Media", info: Info) -> TrackingEntry | None:
    """Media.viewerEntry: the viewer's entry for the item (batched over the whole response)."""
    viewer = info.context.viewer
    if viewer is None:
        return None
    row = await info.context.loaders.entry_by_user_media.load((viewer.user_id, root.raw_id))
    return None if row is None else TrackingEntry.from_row(row)


async def entry_by_key(info: Info, key: tuple[uuid.UUID, uuid.UUID]) -> TrackingEntry | None:
    """node(id) for an entry: shown where its owner's library is (User.library's rule), else null."""
    owner_id, _ = key
    owner_row = await info.context.loaders.user_by_id.load(owner_id)
    if owner_row is None:
        return None
    owner = _user_from_row(owner_row)
    if not profile_visible_to(info.context.viewer, owner_id, owner.profile_public):
        return None
    row = await info.context.loaders.entry_by_user_media.load(key)
    return None if row is None else TrackingEntry.from_row(row)


TrackingEntryConnection = Connection[TrackingEntry]


@strawberry.enum(description="The order of a library: most recently changed first unless chosen.")
class LibrarySort(Enum):
    UPDATED_AT = "updated_at"
    RATING = "rating"
    TITLE = "title"
    RELEASE_DATE = "release_date"
    STATUS = "status"
    COMPLETED_AT = strawberry.enum_value("completed_at", description="Latest finished first; undated last.")
    STARTED_AT = strawberry.enum_value("started_at", description="Latest started first; undated last.")


@strawberry.input(description="Which entries of a library to show; every condition given must hold.")
class LibraryFilter:
    statuses: list[TrackingStatus] | None = strawberry.field(
        default=None, description="Any of these statuses."
    )
    media_types: list[MediaType] | None = strawberry.field(
        default=None, description="Any of these media types."
    )
    media_class: str | None = strawberry.field(default=None, description="Taxonomy subtree, e.g. `written`.")

    def to_query(self) -> tracking_queries.LibraryFilter:
        if self.media_class is not None and not LTREE_PATTERN.fullmatch(self.media_class):
            raise BadUserInput("`mediaClass` must be dot-separated labels of letters, digits and _")
        return tracking_queries.LibraryFilter(
            statuses=None if self.statuses is None else tuple(status.value for status in self.statuses),
            media_types=None if self.media_types is None else tuple(kind.value for kind in self.media_types),
            media_class=self.media_class,
        )


async def user_library(
    info: Info,
    owner_id: uuid.UUID,
    profile_public: bool,
    filter: LibraryFilter | None,
    sort: LibrarySort,
    first: int | None,
    after: str | None,
) -> TrackingEntryConnection | None:
    """User.library / viewer.library: null when the profile is not visible to the caller."""
    if not profile_visible_to(info.context.viewer, owner_id, profile_public):
        return None
    request = tracking_queries.LibraryRequest(
        owner_id, (filter or LibraryFilter()).to_query(), sort.value, page_size(first), after
    )
    try:
        tracking_queries.check_library_cursor(request.sort, after)
    except InvalidCursor as exc:
        raise bad_cursor(exc) from exc
    loaders = info.context.loaders
    page = await loaders.library_page.load(request)

    async def count_total() -> int:
        return await loaders.library_count.load(request)

    return connection_from_page(
        page, after, lambda row: TrackingEntry.from_row(row, media_row=row), count_total
    )


@strawberry.type(description="How many entries of a library have one status.")
class LibraryStatusCount:
    status: TrackingStatus = strawberry.field(description="The status.")
    count: int = strawberry.field(description="How many entries have it.")


@strawberry.type(description="How many entries of a library are of one media type.")
class LibraryMediaTypeCount:
    media_type: MediaType = strawberry.field(description="The media type.")
    count: int = strawberry.field(description="How many entries are of it.")


@strawberry.type(description="A library in numbers.")
class LibraryStats:
    total: int = strawberry.field(description="How many entries the library holds.")
    mean_rating: float | None = strawberry.field(description="Mean of the rated entries; null when none.")
    by_status: list[LibraryStatusCount] = strawberry.field(description="Entries per status (those with any).")
    by_media_type: list[LibraryMediaTypeCount] = strawberry.field(
        description="Entries per media type (those with any)."
    )


async def user_stats(info: Info, owner_id: uuid.UUID, profile_public: bool) -> LibraryStats | None:
    """User.stats / viewer.stats: null when the profile is not visible to the caller."""
    if not profile_visible_to(info.context.viewer, owner_id, profile_public):
        return None
    stats = await info.context.loaders.library_stats_by_user.load(owner_id)
    return LibraryStats(
        total=stats.total,
        mean_rating=stats.mean_rating,
        by_status=[
            LibraryStatusCount(status=TrackingStatus(status), count=count)
            for status, count in sorted(stats.by_status.items())
        ],
        by_media_type=[
            LibraryMediaTypeCount(media_type=MediaType(media_type), count=count)
            for media_type, count in sorted(stats.by_media_type.items())
        ],
    )


# --- mutations ------------------------------------------------------------------------------------

_UNSET: Any = strawberry.UNSET


@strawberry.input(description="Fields left out keep their values; a new entry starts PLANNED.")
class TrackMediaInput:
    media_id: strawberry.ID = strawberry.field(description="The catalog item's ID.")
    status: TrackingStatus | None = strawberry.field(default=_UNSET, description="Where you are with it.")
    progress: int | None = strawberry.field(default=_UNSET, description="Units done (0 or more).")
    rating: int | None = strawberry.field(default=_UNSET, description="1 to 10; null clears it.")
    notes: str | None = strawberry.field(default=_UNSET, description="At most 10,000 characters.")
    repeat_count: int | None = strawberry.field(
        default=_UNSET, description="Times gone through again (0 or more)."
    )
    started_at: dt.datetime | None = strawberry.field(default=_UNSET, description="When you started.")
    completed_at: dt.datetime | None = strawberry.field(default=_UNSET, description="When you finished.")


@strawberry.input(description="The same change for up to 100 tracked items; all or nothing.")
class UpdateTrackingEntriesInput:
    media_ids: list[strawberry.ID] = strawberry.field(
        description="The items whose entries change (all tracked)."
    )
    status: TrackingStatus | None = strawberry.field(default=_UNSET, description="The new status.")
    progress: int | None = strawberry.field(default=_UNSET, description="Units done (0 or more).")
    rating: int | None = strawberry.field(default=_UNSET, description="1 to 10; null clears it.")
    notes: str | None = strawberry.field(default=_UNSET, description="At most 10,000 characters.")
    repeat_count: int | None = strawberry.field(default=_UNSET, description="Times gone through again.")
    started_at: dt.datetime | None = strawberry.field(default=_UNSET, description="When you started.")
    completed_at: dt.datetime | None = strawberry.field(default=_UNSET, description="When you finished.")


@strawberry.input(description="The item to remove from your library.")
class UntrackMediaInput:
    media_id: strawberry.ID = strawberry.field(description="The catalog item's ID.")


@strawberry.type(description="Your entry as it now is.")
class TrackMediaPayload:
    entry: TrackingEntry | None = strawberry.field(default=None, description="Your entry.")
    user_errors: list[UserError] = strawberry.field(default_factory=list, description=USER_ERRORS)


@strawberry.type(description="Your entries as they now are.")
class UpdateTrackingEntriesPayload:
    entries: list[TrackingEntry] = strawberry.field(
        default_factory=list, description="Your entries as changed."
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list, description=USER_ERRORS)


@strawberry.type(description="The item no longer in your library.")
class UntrackMediaPayload:
    untracked_media_id: strawberry.ID | None = strawberry.field(
        default=None, description="The item no longer tracked."
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list, description=USER_ERRORS)


def _changes(data: TrackMediaInput | UpdateTrackingEntriesInput) -> EntryChanges:
    changes: dict[str, Any] = {}
    for name in EntryChanges.__annotations__:
        value = getattr(data, name)
        if value is strawberry.UNSET:
            continue
        if isinstance(value, TrackingStatus):
            value = value.value
        elif isinstance(value, dt.datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        changes[name] = value
    return cast(EntryChanges, changes)


@strawberry.type
class TrackingMutation:
    @strawberry.mutation(description="Create or update the viewer's entry for a media item.")
    async def track_media(self, info: Info, input: Annotated[TrackMediaInput, INPUT]) -> TrackMediaPayload:
        async def run(viewer: Viewer) -> TrackMediaPayload:
            entry = await tracking_commands.track_media(
                info.context.engine, viewer.user_id, decode_id(input.media_id, "Media"), _changes(input)
            )
            return TrackMediaPayload(entry=TrackingEntry.from_row(entry))

        return await perform(info, TrackMediaPayload, run)

    @strawberry.mutation(description="Remove the viewer's entry for a media item.")
    async def untrack_media(
        self, info: Info, input: Annotated[UntrackMediaInput, INPUT]
    ) -> UntrackMediaPayload:
        async def run(viewer: Viewer) -> UntrackMediaPayload:
            await tracking_commands.untrack_media(
                info.context.engine, viewer.user_id, decode_id(input.media_id, "Media")
            )
            return UntrackMediaPayload(untracked_media_id=input.media_id)

        return await perform(info, UntrackMediaPayload, run)

    @strawberry.mutation(description="Apply one change to up to 100 of the viewer's entries, all or nothing.")
    async def update_tracking_entries(
        self, info: Info, input: Annotated[UpdateTrackingEntriesInput, INPUT]
    ) -> UpdateTrackingEntriesPayload:
        async def run(viewer: Viewer) -> UpdateTrackingEntriesPayload:
            entries = await tracking_commands.update_entries(
                info.context.engine,
                viewer.user_id,
                [decode_id(media_id, "Media") for media_id in input.media_ids],
                _changes(input),
            )
            return UpdateTrackingEntriesPayload(entries=[TrackingEntry.from_row(row) for row in entries])

        return await perform(info, UpdateTrackingEntriesPayload, run)
