"""`node(id)` and `nodes(ids)`: every type implementing Node is registered here, and only here."""

import asyncio
from typing import Annotated, Any

import strawberry

from gql.accounts import api_token_by_raw_id, session_by_raw_id, user_by_raw_id
from gql.errors import BadUserInput
from gql.library_import import job_by_raw_id
from gql.lists import list_by_raw_id
from gql.media import media_by_raw_id
from gql.relay import Node, NodeType, canonical_uuid, parse_uuid_pair, split_global_id
from gql.tracking import entry_by_key

NODE_TYPES: dict[str, NodeType[Any]] = {
    "Media": NodeType(canonical_uuid, media_by_raw_id),
    "User": NodeType(canonical_uuid, user_by_raw_id),
    "ApiToken": NodeType(canonical_uuid, api_token_by_raw_id),
    "Session": NodeType(canonical_uuid, session_by_raw_id),
    "UserList": NodeType(canonical_uuid, list_by_raw_id),
    "TrackingEntry": NodeType(parse_uuid_pair, entry_by_key),
    "LibraryImportJob": NodeType(canonical_uuid, job_by_raw_id),
}


async def resolve_node(info: Any, global_id: str) -> Node | None:
    split = split_global_id(global_id)
    if split is None or split[0] not in NODE_TYPES:
        return None
    type_name, raw_id = split
    node_type = NODE_TYPES[type_name]
    try:
        key = node_type.parse_raw_id(raw_id)
    except ValueError:
        return None
    node: Node | None = await node_type.fetch(info, key)
    return node


@strawberry.type
class NodeQuery:
    @strawberry.field(description="Any object by its global ID; null when it does not exist or is not yours.")
    async def node(
        self,
        info: strawberry.Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="A global ID.")],
    ) -> Node | None:
        return await resolve_node(info, id)

    @strawberry.field(description="Several objects by global ID, in the order asked; null where not found.")
    async def nodes(
        self,
        info: strawberry.Info,
        ids: Annotated[list[strawberry.ID], strawberry.argument(description="At most 100 global IDs.")],
    ) -> list[Node | None]:
        if len(ids) > 100:
            raise BadUserInput("`ids` holds at most 100 IDs")
        return list(await asyncio.gather(*(resolve_node(info, global_id) for global_id in ids)))
