"""Media.revisions: the admin change history of a catalog item, readable by admins only."""

import datetime as dt
import uuid
from enum import Enum
from typing import TYPE_CHECKING, Any

import strawberry
from strawberry.scalars import JSON

from db.curation import RevisionRow
from gql.context import Info
from gql.enums import MediaType
from gql.permissions import is_admin
from gql.relations import RelationType
from gql.relay import to_global_id

if TYPE_CHECKING:
    from gql.media import Media


@strawberry.enum(description="What a revision did to the item.")
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


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


# Stored values that are media ids, and stored objects whose keys are field names too (a merge).
MEDIA_ID_KEYS = frozenset({"id", "media_id", "related_media_id", "merged_into", "moved_to", "moved_from"})
NESTED_KEYS = frozenset({"merged", "moved"})


def as_api(values: dict[str, Any] | None) -> Any:
    """Stored values (a revision's, a conflict's details) as the API spells things: camelCase keys,
    global IDs, enum names."""
    if values is None:
        return None
    shown: dict[str, Any] = {}
    for name, value in values.items():
        if name in MEDIA_ID_KEYS and isinstance(value, str):
            value = to_global_id("Media", uuid.UUID(value))
        elif name in NESTED_KEYS and isinstance(value, dict):
            value = as_api(value)
        elif name == "relation_type" and value is not None:
            value = RelationType(value).name
        elif name == "media_type" and value is not None:
            value = MediaType(value).name
        shown[_camel(name)] = value
    return shown


@strawberry.type(
    description="One change of a catalog item, by an admin (actorId) or a feed (importJobId, source): "
    "when, and the values before/after."
)
class MediaRevision:
    id: strawberry.ID = strawberry.field(description="The revision's number, in order of changes.")
    action: RevisionAction = strawberry.field(description="What the change did.")
    actor_id: strawberry.ID | None = strawberry.field(description="Global ID of the admin (User).")
    import_job_id: int | None = strawberry.field(
        description="The import job (ingest.import_jobs) that made a feed's change."
    )
    source: str | None = strawberry.field(description="The feed whose import job made the change.")
    before: JSON | None = strawberry.field(
        description="The values before (camelCase keys, global IDs, enum names as elsewhere in the API)."
    )
    after: JSON | None = strawberry.field(description="The values after, spelt as `before`.")
    created_at: dt.datetime = strawberry.field(description="When the change was made.")

    @classmethod
    def from_row(cls, row: RevisionRow) -> "MediaRevision":
        return cls(
            id=strawberry.ID(str(row.id)),
            action=RevisionAction(row.action),
            actor_id=None if row.actor_id is None else to_global_id("User", row.actor_id),
            import_job_id=row.job_id,
            source=row.source,
            before=as_api(row.changes.get("before")),
            after=as_api(row.changes.get("after")),
            created_at=row.created_at,
        )


async def media_revisions(root: "Media", info: Info) -> list[MediaRevision] | None:
    """Null for everyone but admins."""
    if not is_admin(info.context.viewer):
        return None
    rows = await info.context.loaders.revisions_by_media_id.load(root.raw_id)
    return [MediaRevision.from_row(row) for row in rows]
