"""Relay plumbing: opaque global IDs, the Node interface, PageInfo and generic connections."""

import asyncio
import base64
import binascii
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

import strawberry

from db.pagination import InvalidCursor, InvalidPageSize, Page, check_page_size
from gql.errors import BadUserInput

NodeT = TypeVar("NodeT")

NodeFetcher = Callable[[Any, uuid.UUID], Awaitable[Any]]
NODE_FETCHERS: dict[str, NodeFetcher] = {}


def register_node(type_name: str, fetch: NodeFetcher) -> None:
    NODE_FETCHERS[type_name] = fetch


def to_global_id(type_name: str, raw_id: uuid.UUID | str) -> strawberry.ID:
    return strawberry.ID(base64.urlsafe_b64encode(f"{type_name}:{raw_id}".encode()).decode().rstrip("="))


def from_global_id(global_id: str, expected_type: str | None = None) -> tuple[str, uuid.UUID] | None:
    """Decode a global ID; None when it is malformed or (with expected_type) names another type."""
    try:
        decoded = base64.urlsafe_b64decode((global_id + "=" * (-len(global_id) % 4)).encode()).decode()
        type_name, _, raw = decoded.partition(":")
        parsed = uuid.UUID(raw)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if expected_type is not None and type_name != expected_type:
        return None
    return type_name, parsed


def decode_id(global_id: str, expected_type: str) -> uuid.UUID | None:
    decoded = from_global_id(global_id, expected_type)
    return None if decoded is None else decoded[1]


@strawberry.interface(description="An object with a globally unique, opaque ID.")
class Node:
    id: strawberry.ID


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[NodeT]):
    cursor: str
    node: NodeT


@strawberry.type
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]]
    page_info: PageInfo
    count_total: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="The exact number of items matching, across all pages.")
    async def total_count(self) -> int:
        return await self.count_total()


def page_info(page: Page[Any], after: str | None) -> PageInfo:
    return PageInfo(
        has_next_page=page.has_next_page,
        has_previous_page=after is not None,
        start_cursor=page.cursors[0] if page.cursors else None,
        end_cursor=page.cursors[-1] if page.cursors else None,
    )


def connection_from_page(
    page: Page[Any],
    after: str | None,
    to_node: Callable[[Any], NodeT],
    count_total: Callable[[], Awaitable[int]],
) -> Connection[NodeT]:
    return Connection(
        edges=[
            Edge(cursor=cursor, node=to_node(row))
            for row, cursor in zip(page.rows, page.cursors, strict=True)
        ],
        page_info=page_info(page, after),
        count_total=count_total,
    )


def page_size(first: int | None, maximum: int = 100) -> int:
    try:
        return check_page_size(first, maximum)
    except InvalidPageSize as exc:
        raise BadUserInput(str(exc)) from exc


def bad_cursor(exc: InvalidCursor) -> BadUserInput:
    return BadUserInput(str(exc))


async def resolve_node(info: Any, global_id: str) -> Node | None:
    decoded = from_global_id(global_id)
    if decoded is None or decoded[0] not in NODE_FETCHERS:
        return None
    node: Node | None = await NODE_FETCHERS[decoded[0]](info, decoded[1])
    return node


@strawberry.type
class NodeQuery:
    @strawberry.field(description="Any object by its global ID; null when it does not exist or is not yours.")
    async def node(self, info: strawberry.Info, id: strawberry.ID) -> Node | None:
        return await resolve_node(info, id)

    @strawberry.field(description="Several objects by global ID, in the order asked; null where not found.")
    async def nodes(self, info: strawberry.Info, ids: list[strawberry.ID]) -> list[Node | None]:
        if len(ids) > 100:
            raise BadUserInput("`ids` holds at most 100 IDs")
        return list(await asyncio.gather(*(resolve_node(info, global_id) for global_id in ids)))
