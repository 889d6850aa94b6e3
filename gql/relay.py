"""Relay plumbing: opaque global IDs, the Node interface, PageInfo and generic connections."""

import base64
import binascii
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

import strawberry

from db.keyset import InvalidCursor, InvalidPageSize, Page, check_page_size
from gql.errors import BadUserInput

NodeT = TypeVar("NodeT")
RowT = TypeVar("RowT")
KeyT = TypeVar("KeyT")

KEY_SEPARATOR = ":"


@dataclass(frozen=True)
class NodeType(Generic[KeyT]):
    """How `node(id)` refetches one type: the raw id parsed into a key (ValueError when malformed),
    then fetched by that key (None when it does not exist or the caller may not see it)."""

    parse_raw_id: Callable[[str], KeyT]
    fetch: Callable[[Any, KeyT], Awaitable[Any]]


def canonical_uuid(text: str) -> uuid.UUID:
    """A UUID spelt exactly as `to_global_id` spells it, so each object has one ID (uuid.UUID alone
    also takes braces, `urn:uuid:`, capitals and missing hyphens)."""
    parsed = uuid.UUID(text)
    if str(parsed) != text:
        raise ValueError(f"not a canonical UUID: {text!r}")
    return parsed


def parse_uuid_pair(raw_id: str) -> tuple[uuid.UUID, uuid.UUID]:
    """The key of a node identified by two UUIDs, as `to_global_id` joins them."""
    first, second = raw_id.split(KEY_SEPARATOR)  # ValueError unless exactly two parts
    return canonical_uuid(first), canonical_uuid(second)


def to_global_id(type_name: str, *key: uuid.UUID) -> strawberry.ID:
    """`key` is one UUID, or several for an object keyed by a composite (a tracking entry: user, media)."""
    raw_id = KEY_SEPARATOR.join(str(part) for part in key)
    return strawberry.ID(base64.urlsafe_b64encode(f"{type_name}:{raw_id}".encode()).decode().rstrip("="))


def split_global_id(global_id: str) -> tuple[str, str] | None:
    """The type name and raw id of a global ID; None when it is not one."""
    try:
        decoded = base64.urlsafe_b64decode((global_id + "=" * (-len(global_id) % 4)).encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if base64.urlsafe_b64encode(decoded.encode()).decode().rstrip("=") != global_id:
        return None  # padding, stray bits or characters base64 skips: another spelling of some ID
    type_name, _, raw_id = decoded.partition(":")
    return type_name, raw_id


def from_global_id(global_id: str, expected_type: str | None = None) -> tuple[str, uuid.UUID] | None:
    """Decode a one-UUID global ID; None when it is malformed or (with expected_type) names another type."""
    split = split_global_id(global_id)
    if split is None or (expected_type is not None and split[0] != expected_type):
        return None
    type_name, raw_id = split
    try:
        return type_name, canonical_uuid(raw_id)
    except ValueError:
        return None


def decode_id(global_id: str, expected_type: str) -> uuid.UUID | None:
    decoded = from_global_id(global_id, expected_type)
    return None if decoded is None else decoded[1]


First = Annotated[
    int | None, strawberry.argument(description="How many items to return (default 20, at most 100).")
]
After = Annotated[
    str | None,
    strawberry.argument(
        description="Return the items after this cursor (an edge's `cursor` or `endCursor`)."
    ),
]


@strawberry.interface(description="An object with a globally unique, opaque ID.")
class Node:
    id: strawberry.ID = strawberry.field(description="The object's global ID: pass it to `node(id)`.")


def first_cursor(root: strawberry.Parent["PageInfo"]) -> str | None:
    return root.cursors[0] if root.cursors else None


def last_cursor(root: strawberry.Parent["PageInfo"]) -> str | None:
    return root.cursors[-1] if root.cursors else None


@strawberry.type(description="Where a page stands in its connection.")
class PageInfo:
    """Its cursors are encoded only when a client asks for them (db.keyset.LazyCursors)."""

    has_next_page: bool = strawberry.field(description="Whether items follow this page.")
    has_previous_page: bool = strawberry.field(description="Whether this page was asked for after a cursor.")
    start_cursor: str | None = strawberry.field(
        resolver=first_cursor, description="The cursor of the page's first item."
    )
    end_cursor: str | None = strawberry.field(
        resolver=last_cursor, description="The cursor of the page's last item: pass it as `after`."
    )
    cursors: strawberry.Private[Sequence[str]]


def edge_cursor(root: strawberry.Parent[Any]) -> str:
    """Encoded only when a client asks for it (db.keyset.LazyCursors)."""
    cursor: str = root.cursors[root.index]
    return cursor


@strawberry.type(description="An item of a page, with its cursor.")
class Edge(Generic[NodeT]):
    cursor: str = strawberry.field(
        resolver=edge_cursor, description="Pass as `after` for the items after this one."
    )
    node: NodeT = strawberry.field(description="The item.")
    cursors: strawberry.Private[Sequence[str]]
    index: strawberry.Private[int]


@strawberry.type(description="A page of items in a stable order; `pageInfo.endCursor` fetches the next one.")
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]] = strawberry.field(description="The items of this page, in order.")
    page_info: PageInfo = strawberry.field(description="Where this page stands.")
    count_total: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="The exact number of items matching, across all pages.")
    async def total_count(self) -> int:
        return await self.count_total()


def page_info(page: Page[RowT], after: str | None) -> PageInfo:
    return PageInfo(
        has_next_page=page.has_next_page,
        has_previous_page=after is not None,
        cursors=page.cursors,
    )


def connection_from_page(
    page: Page[RowT],
    after: str | None,
    to_node: Callable[[RowT], NodeT],
    count_total: Callable[[], Awaitable[int]],
) -> Connection[NodeT]:
    return Connection(
        edges=[
            Edge(node=to_node(row), cursors=page.cursors, index=index) for index, row in enumerate(page.rows)
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
