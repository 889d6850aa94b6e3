"""Media.revisions: the admin change history of a catalog item, readable by admins only."""

import datetime as dt
from enum import Enum
from typing import Any

import strawberry
from sqlalchemy import Row
from strawberry.scalars import JSON

from gql.context import Info
from gql.permissions import is_admin
from gql.relay import to_global_id


@strawberry.enum
class RevisionAction(Enum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    LINK = "link"
    UNLINK = "unlink"
    ADD_EXTERNAL_LINK = "add_external_link"
    REMOVE_EXTERNAL_LINK = "remove_external_link"
    MOVE_EXTERNAL_LINK = "move_external_link"
    MERGE = "merge"


@strawberry.type(
    description="One change of a catalog item, by an admin (actorId) or a feed (importJobId, source): "
    "when, and the values before/after."
)
class MediaRevision:
    id: strawberry.ID
    action: RevisionAction
    actor_id: strawberry.ID | None = strawberry.field(description="Global ID of the admin (User).")
    import_job_id: int | None = strawberry.field(
        description="The import job (ingest.import_jobs) that made a feed's change."
    )
    source: str | None = strawberry.field(description="The feed whose import job made the change.")
    before: JSON | None
    after: JSON | None
    created_at: dt.datetime

    @classmethod
    def from_row(cls, row: Row[Any]) -> "MediaRevision":
        return cls(
            id=strawberry.ID(str(row.id)),
            action=RevisionAction(row.action),
            actor_id=None if row.actor_id is None else to_global_id("User", row.actor_id),
            import_job_id=row.job_id,
            source=row.source,
            before=row.changes.get("before"),
            after=row.changes.get("after"),
            created_at=row.created_at,
        )


async def media_revisions(root: Any, info: Info) -> list[MediaRevision] | None:
    """Null for everyone but admins."""
    if not is_admin(info.context.viewer):
        return None
    rows = await info.context.loaders.revisions_by_media_id.load(root.raw_id)
    return [MediaRevision.from_row(row) for row in rows]
