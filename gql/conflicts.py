"""Query.ingestConflicts: the identity conflicts ingestion recorded, for the admins who settle them
with mergeMedia (two items that are one) or moveExternalLink (a key that belongs elsewhere)."""

import datetime as dt
import uuid
from enum import Enum
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from db import conflicts as conflict_queries
from db.conflicts import ConflictRow
from db.keyset import InvalidCursor
from gql.context import Info
from gql.errors import Forbidden
from gql.media import Media, media_by_raw_id
from gql.permissions import is_admin
from gql.relay import After, Connection, First, bad_cursor, connection_from_page, page_size
from gql.revisions import as_api


@strawberry.enum(
    description="KEYS_OF_TWO_ITEMS: the record's keys belong to two items (not applied). "
    "SECONDARY_KEY_OF_ANOTHER_ITEM: a key of the record belongs to an item its source knows by another id "
    "(not applied). KEY_OF_ANOTHER_ITEM: the record's item was updated, but this key stayed with the item "
    "holding it. KEY_SHARED_IN_RUN: an earlier record of the same run (details.earlierLine) gave this key; "
    "the record was applied to its own item without it (not applied when the key is its own id)."
)
class IngestConflictKind(Enum):
    KEYS_OF_TWO_ITEMS = conflict_queries.KEYS_OF_TWO_ITEMS
    SECONDARY_KEY_OF_ANOTHER_ITEM = conflict_queries.SECONDARY_KEY_OF_ANOTHER_ITEM
    KEY_OF_ANOTHER_ITEM = conflict_queries.KEY_OF_ANOTHER_ITEM
    KEY_SHARED_IN_RUN = conflict_queries.KEY_SHARED_IN_RUN


@strawberry.enum(description="OPEN until an admin settles the conflict; RESOLVED after.")
class IngestConflictStatus(Enum):
    OPEN = "open"
    RESOLVED = "resolved"


@strawberry.type(
    description="A key two catalog items (or two records of one import run) claimed. Settle it with "
    "mergeMedia(keepId, mergeId) when existingMedia and incomingMedia are one work, or with "
    "moveExternalLink(mediaId, sourceName, externalKey) when the key belongs to the other item; either "
    "marks the conflict resolved."
)
class IngestConflict:
    id: strawberry.ID = strawberry.field(description="The conflict's number.")
    import_job_id: int = strawberry.field(description="The import job (ingest.import_jobs) that met it.")
    source: str = strawberry.field(description="The feed the job ingested.")
    line_number: int | None = strawberry.field(description="The line of the record in the job's file.")
    kind: IngestConflictKind | None = strawberry.field(
        description="Null for conflicts recorded before kinds."
    )
    source_name: str = strawberry.field(description="The key in dispute: its source...")
    external_key: str = strawberry.field(description="...and its key.")
    external_id: str | None = strawberry.field(description="The record's own external id.")
    title: str | None = strawberry.field(description="The record's title.")
    reason: str | None = strawberry.field(description="Why the key is in dispute, for people.")
    details: JSON = strawberry.field(
        description="Everything recorded (camelCase keys): e.g. earlierLine and earlierExternalId of "
        "KEY_SHARED_IN_RUN, keys of KEYS_OF_TWO_ITEMS, holder of SECONDARY_KEY_OF_ANOTHER_ITEM."
    )
    created_at: dt.datetime = strawberry.field(description="When the run met it.")
    resolved_at: dt.datetime | None = strawberry.field(description="When it was settled; null while OPEN.")
    existing_media_raw_id: strawberry.Private[uuid.UUID | None]
    incoming_media_raw_id: strawberry.Private[uuid.UUID | None]

    @strawberry.field(description="The item that held the key (for a merge: usually the one to keep).")
    async def existing_media(self, info: Info) -> Media | None:
        return (
            None
            if self.existing_media_raw_id is None
            else await media_by_raw_id(info, self.existing_media_raw_id)
        )

    @strawberry.field(description="The record's item, when it has one (it was created or matched by its id).")
    async def incoming_media(self, info: Info) -> Media | None:
        return (
            None
            if self.incoming_media_raw_id is None
            else await media_by_raw_id(info, self.incoming_media_raw_id)
        )

    @classmethod
    def from_row(cls, row: ConflictRow) -> "IngestConflict":
        details = dict(row.details or {})
        return cls(
            id=strawberry.ID(str(row.id)),
            import_job_id=row.job_id,
            source=row.feed,
            line_number=row.line_number,
            kind=None if row.kind is None else IngestConflictKind(row.kind),
            source_name=row.source_name,
            external_key=row.external_key,
            external_id=details.get("external_id"),
            title=details.get("title"),
            reason=details.get("reason"),
            details=JSON(as_api(details)),
            created_at=row.created_at,
            resolved_at=row.resolved_at,
            existing_media_raw_id=row.existing_media_id,
            incoming_media_raw_id=row.incoming_media_id,
        )


IngestConflictConnection = Connection[IngestConflict]


@strawberry.type
class ConflictQuery:
    @strawberry.field(
        description="Identity conflicts of ingestion runs (dry runs left out), newest first (admins only)."
    )
    async def ingest_conflicts(
        self,
        info: Info,
        status: Annotated[
            IngestConflictStatus, strawberry.argument(description="OPEN (the default) or RESOLVED ones.")
        ] = IngestConflictStatus.OPEN,
        first: First = None,
        after: After = None,
    ) -> IngestConflictConnection:
        if not is_admin(info.context.viewer):
            raise Forbidden("Only admins can list ingestion conflicts")
        resolved = status is IngestConflictStatus.RESOLVED
        size = page_size(first)
        read = info.context.loaders.read
        try:
            page = await read(conflict_queries.conflicts_page, resolved, size, after)
        except InvalidCursor as exc:
            raise bad_cursor(exc) from exc

        async def count_total() -> int:
            return await read(conflict_queries.count_conflicts, resolved)

        return connection_from_page(page, after, IngestConflict.from_row, count_total)
