"""Subscriptions (graphql-transport-ws at /graphql): libraryChanged, listChanged, mediaChanged and
libraryImportProgress.

A change says which rows moved (db/change_feed.py); each event reads them again with fresh loaders
and the same rules as the query fields, at the moment it is sent. A subscription starts receiving
changes before its first check, so nothing committed after the subscribe message was handled is
missed (gql/live.py); changes committed earlier are not sent: subscribe, then fetch.
"""

import asyncio
import uuid
from collections.abc import AsyncGenerator, Iterable
from enum import Enum
from typing import Annotated

import strawberry

from db.change_feed import Change
from db.library_import import jobs as job_queries
from db.library_import.jobs import FINISHED_STATUSES
from gql.context import Info
from gql.errors import NotFound
from gql.library_import import LibraryImportJob
from gql.lists import UserList
from gql.live import (
    EVERY_MEDIA,
    ChangeHub,
    LiveConnection,
    Subscriber,
    entries_topic,
    library_import_topic,
    list_topic,
    media_topic,
)
from gql.loaders import Loaders
from gql.media import Media, media_by_raw_id
from gql.permissions import can_evaluate_smart_list, can_see_list, is_owner, require_viewer
from gql.relay import decode_id, to_global_id
from gql.tracking import TrackingEntry


@strawberry.enum(description="What happened to a tracking entry.")
class EntryChangeKind(Enum):
    CREATED = "insert"
    UPDATED = "update"
    REMOVED = "delete"


@strawberry.type(description="One of the viewer's tracking entries was created, changed or removed.")
class LibraryChange:
    kind: EntryChangeKind = strawberry.field(description="Created, updated or removed.")
    entry_id: strawberry.ID = strawberry.field(description="The entry's ID.")
    media_id: strawberry.ID = strawberry.field(description="The ID of the entry's catalog item.")
    entry: TrackingEntry | None = strawberry.field(description="The entry as it is now; null once removed.")


@strawberry.enum(description="What happened to a list.")
class ListChangeKind(Enum):
    ITEMS_ADDED = "ITEMS_ADDED"
    ITEMS_MOVED = "ITEMS_MOVED"
    ITEMS_REMOVED = "ITEMS_REMOVED"
    UPDATED = strawberry.enum_value("UPDATED", description="Name, description, visibility or definition.")
    DELETED = "DELETED"
    RESULT_MAY_HAVE_CHANGED = strawberry.enum_value(
        "RESULT_MAY_HAVE_CHANGED", description="Smart lists: the catalog or the owner's library changed."
    )


LIST_ITEM_KINDS = {
    "insert": ListChangeKind.ITEMS_ADDED,
    "update": ListChangeKind.ITEMS_MOVED,
    "delete": ListChangeKind.ITEMS_REMOVED,
}


@strawberry.type(description="A list changed.")
class ListChange:
    kind: ListChangeKind = strawberry.field(description="What changed.")
    list_id: strawberry.ID = strawberry.field(description="The list's ID.")
    media_ids: list[strawberry.ID] = strawberry.field(description="The items added, moved or removed.")
    list: UserList | None = strawberry.field(description="The list as it is now; null once deleted.")


@strawberry.enum(description="What happened to a catalog item.")
class MediaChangeKind(Enum):
    UPDATED = strawberry.enum_value("UPDATED", description="Its fields, relations or external links.")
    DELETED = "DELETED"


@strawberry.type(description="A catalog item was curated, or deleted (merged into another).")
class MediaChange:
    kind: MediaChangeKind = strawberry.field(description="Updated, or deleted (merged into another).")
    media_id: strawberry.ID = strawberry.field(description="The item's ID.")
    media: Media | None = strawberry.field(
        description="The item as it is now: the one it was merged into, or null once deleted."
    )


def _live(info: Info) -> tuple[ChangeHub, LiveConnection]:
    hub, connection = info.context.hub, info.context.live
    if hub is None or connection is None:
        raise NotFound("subscription transport: subscribe over WebSocket (graphql-transport-ws)")
    return hub, connection


async def _next_change(info: Info, subscriber: Subscriber) -> Change:
    """The next change, once the connection's credential is known to work, with fresh loaders so
    the event reads what is committed now. Every subscriber of one change shares its loaders (they
    load by key, whoever asks; the resolvers authorise): one read serves them all."""
    change = await subscriber.queue.get()
    await subscriber.connection.authorised.wait()
    loaders = change.shared.get("loaders")
    if loaders is None:
        loaders = change.shared["loaders"] = Loaders(info.context.reads, info.context.loaders.session_idle)
    info.context.loaders = loaders
    return change


def _media_ids(ids: Iterable[uuid.UUID]) -> list[strawberry.ID]:
    return [strawberry.ID(to_global_id("Media", media_id)) for media_id in ids]


@strawberry.type(description="Live changes, over a WebSocket (graphql-transport-ws).")
class Subscription:
    @strawberry.subscription(description="The viewer's tracking entries, from any device, token or import.")
    async def library_changed(self, info: Info) -> AsyncGenerator[LibraryChange, None]:
        viewer = require_viewer(info)
        hub, connection = _live(info)
        with hub.subscribe(connection, [entries_topic(viewer.user_id)]) as subscriber:
            while True:
                change = await _next_change(info, subscriber)
                loader = info.context.loaders.entry_by_user_media
                rows = await loader.load_many([(viewer.user_id, media_id) for media_id in change.ids])
                for media_id, row in zip(change.ids, rows, strict=True):
                    yield LibraryChange(
                        kind=EntryChangeKind(change.op),
                        entry_id=strawberry.ID(to_global_id("TrackingEntry", viewer.user_id, media_id)),
                        media_id=strawberry.ID(to_global_id("Media", media_id)),
                        entry=None if row is None else TrackingEntry.from_row(row),
                    )

    @strawberry.subscription(
        description="A list's items and metadata, for whoever may read the list; ends when that stops."
    )
    async def list_changed(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="The list's ID.")]
    ) -> AsyncGenerator[ListChange, None]:
        list_id = decode_id(id, "UserList")
        if list_id is None:
            raise NotFound("list")
        hub, connection = _live(info)
        viewer = info.context.viewer
        with hub.subscribe(connection, [list_topic(list_id)]) as subscriber:
            row = await info.context.loaders.list_by_id.load(list_id)
            if row is None or not can_see_list(viewer, row):
                raise NotFound("list")
            if row.list_type == "smart":
                subscriber.coalesce = True
                hub.watch(subscriber, EVERY_MEDIA)
                if can_evaluate_smart_list(viewer, row):
                    hub.watch(subscriber, entries_topic(row.user_id))
            global_id = strawberry.ID(to_global_id("UserList", list_id))
            while True:
                change = await _next_change(info, subscriber)
                row = await info.context.loaders.list_by_id.load(list_id)
                # A deleted list's items may be told before the list itself: either way it is gone.
                if row is None:
                    yield ListChange(kind=ListChangeKind.DELETED, list_id=global_id, media_ids=[], list=None)
                    return
                if not can_see_list(viewer, row):
                    return
                if change.topic == "list_items":
                    kind, media_ids = LIST_ITEM_KINDS[change.op], _media_ids(change.ids)
                elif change.topic == "list":
                    kind, media_ids = ListChangeKind.UPDATED, []
                else:
                    while not subscriber.queue.empty():  # one signal for a burst of changes
                        subscriber.queue.get_nowait()
                    kind, media_ids = ListChangeKind.RESULT_MAY_HAVE_CHANGED, []
                yield ListChange(
                    kind=kind, list_id=global_id, media_ids=media_ids, list=UserList.from_row(row)
                )

    @strawberry.subscription(description="A catalog item's curation: its fields, a merge, its deletion.")
    async def media_changed(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="The item's ID.")]
    ) -> AsyncGenerator[MediaChange, None]:
        media_id = decode_id(id, "Media")
        if media_id is None:
            raise NotFound("media")
        hub, connection = _live(info)
        with hub.subscribe(connection, [media_topic(media_id)]) as subscriber:
            if await media_by_raw_id(info, media_id) is None:
                raise NotFound("media")
            while True:
                change = await _next_change(info, subscriber)
                yield MediaChange(
                    kind=MediaChangeKind.DELETED
                    if (change.topic, change.op) == ("media", "delete")
                    else MediaChangeKind.UPDATED,
                    media_id=strawberry.ID(to_global_id("Media", media_id)),
                    media=await media_by_raw_id(info, media_id),
                )

    @strawberry.subscription(
        description="The owner's library import: its state now, then after every batch; ends when it finishes."
    )
    async def library_import_progress(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The import job's ID.")],
    ) -> AsyncGenerator[LibraryImportJob, None]:
        viewer = require_viewer(info)
        job_id = decode_id(id, "LibraryImportJob")
        if job_id is None:
            raise NotFound("library import")
        hub, connection = _live(info)
        with hub.subscribe(connection, [library_import_topic(job_id)], coalesce=True) as subscriber:
            while True:
                (row,) = await info.context.loaders.read(job_queries.jobs_by_ids, [job_id])
                if row is None or not is_owner(viewer, row.user_id):
                    raise NotFound("library import")
                yield LibraryImportJob.from_row(row)
                if row.status in FINISHED_STATUSES:
                    return
                await _next_change(info, subscriber)
                # Batches commit quickly one after another: report the latest state once.
                await asyncio.sleep(0)
                while not subscriber.queue.empty():
                    subscriber.queue.get_nowait()
