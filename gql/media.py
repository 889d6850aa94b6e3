"""Catalog types and queries: Media, searchMedia."""

import datetime as dt
import uuid
from enum import Enum
from typing import Any

import strawberry
from sqlalchemy import Row
from strawberry.scalars import JSON

from db import media as media_queries
from db.pagination import InvalidCursor
from gql.context import Info
from gql.relay import (
    Connection,
    Edge,
    Node,
    bad_cursor,
    decode_id,
    page_info,
    page_size,
    register_node,
    to_global_id,
)
from gql.revisions import MediaRevision, media_revisions


@strawberry.enum(description="The kind of media; the database stores the lower-case value.")
class MediaType(Enum):
    BOOK = "book"
    COMIC = "comic"
    MANGA = "manga"
    ANIME = "anime"
    FILM = "film"
    SERIES = "series"
    GAME = "game"
    PODCAST = "podcast"
    AUDIOBOOK = "audiobook"
    MUSIC = "music"
    LIVE_EVENT = "live_event"


@strawberry.type(description="One canonical catalog item: a book, a film, a game, a live event...")
class Media(Node):
    raw_id: strawberry.Private[uuid.UUID]
    external_id: str | None
    media_type: MediaType
    media_class: str = strawberry.field(description="Taxonomy path, e.g. `written.book.novel`.")
    title: str
    release_date: dt.date | None
    country_of_origin: str | None
    creators: list[str]
    cover_url: str | None
    description: str | None
    attributes: JSON = strawberry.field(description="Type-specific fields: isbn, page_count, episodes...")
    collection_path: str | None = strawberry.field(
        description="Franchise / universe path, e.g. `dune.novels`."
    )
    created_at: dt.datetime
    updated_at: dt.datetime
    tracker_count: strawberry.Private[int]
    revisions: list[MediaRevision] | None = strawberry.field(
        resolver=media_revisions,
        description="Admin change history, newest first; null unless the viewer is an admin.",
    )

    @classmethod
    def from_row(cls, row: Row[Any]) -> "Media":
        return cls(
            id=to_global_id("Media", row.id),
            raw_id=row.id,
            external_id=row.external_id,
            media_type=MediaType(row.media_type),
            media_class=row.media_class,
            title=row.title,
            release_date=row.release_date,
            country_of_origin=row.country_of_origin,
            creators=list(row.creators or []),
            cover_url=row.cover_url,
            description=row.description,
            attributes=row.attributes,
            collection_path=row.collection_path,
            created_at=row.created_at,
            updated_at=row.updated_at,
            tracker_count=row.tracker_count,
        )


async def media_by_raw_id(info: Info, media_id: uuid.UUID) -> Media | None:
    row = await info.context.loaders.media_by_id.load(media_id)
    return None if row is None else Media.from_row(row)


register_node("Media", media_by_raw_id)

MediaConnection = Connection[Media]


@strawberry.type
class MediaQuery:
    @strawberry.field(description="A catalog item by its global ID; null when there is none.")
    async def media(self, info: Info, id: strawberry.ID) -> Media | None:
        media_id = decode_id(id, "Media")
        return None if media_id is None else await media_by_raw_id(info, media_id)

    @strawberry.field(description="Search, filter and sort the catalog, with keyset pagination.")
    async def search_media(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Media]:
        size = page_size(first)
        engine = info.context.engine
        try:
            async with engine.connect() as conn:
                page = await media_queries.search_media(conn, size, after)
        except InvalidCursor as exc:
            raise bad_cursor(exc) from exc

        async def count_total() -> int:
            async with engine.connect() as conn:
                return await media_queries.count_media(conn)

        return Connection(
            edges=[
                Edge(cursor=cursor, node=Media.from_row(row))
                for row, cursor in zip(page.rows, page.cursors, strict=True)
            ],
            page_info=page_info(page, after),
            count_total=count_total,
        )
