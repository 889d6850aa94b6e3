"""Lists: UserList (static and smart), list(id) and the lists of a user (mutations: gql/list_mutations.py).
`user_lists` is a plain function so any User type can expose it."""

import dataclasses
import datetime as dt
import json
import uuid
from collections.abc import Sequence
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.scalars import JSON

from db import lists as list_queries
from db.keyset import InvalidCursor, Page
from gql.context import Info
from gql.lazy_types import lazy_class
from gql.media import Media
from gql.permissions import (
    can_evaluate_smart_list,
    can_see_list,
    is_owner,
    profile_visible_to,
)
from gql.relay import (
    After,
    Connection,
    First,
    Node,
    PageInfo,
    bad_cursor,
    connection_from_page,
    decode_id,
    edge_cursor,
    page_info,
    page_size,
    to_global_id,
)
from gql.smart_definitions import definition_to_api

if TYPE_CHECKING:
    from gql.accounts import User

# gql.accounts imports this module for User.lists.
LazyUser = Annotated["User", strawberry.lazy("gql.accounts")]


@strawberry.enum(description="STATIC: items you add and order; SMART: a saved query, evaluated when read.")
class ListType(Enum):
    STATIC = "static"
    SMART = "smart"


@strawberry.type(description="An item of a list at its 0-based `position`.")
class ListItemEdge:
    cursor: str = strawberry.field(
        resolver=edge_cursor, description="Pass as `after` for the items after this one."
    )
    position: int = strawberry.field(description="The item's 0-based place in the list.")
    added_at: dt.datetime | None = strawberry.field(description="Null for smart lists.")
    node: Media = strawberry.field(description="The catalog item.")
    cursors: strawberry.Private[Sequence[str]]
    index: strawberry.Private[int]


@strawberry.type(description="A page of a list's items, in list order.")
class ListItemConnection:
    edges: list[ListItemEdge] = strawberry.field(description="The items of this page, in list order.")
    page_info: PageInfo = strawberry.field(description="Where this page stands.")
    count_request: strawberry.Private[list_queries.ItemsRequest]

    @strawberry.field(description="The exact number of items in the list.")
    async def total_count(self, info: Info) -> int:
        count: int = await info.context.loaders.list_item_count.load(self.count_request)
        return count


@strawberry.type(description="A user's list: STATIC (hand-ordered) or SMART (a saved query).")
class UserList(Node):
    raw_id: strawberry.Private[uuid.UUID]
    row: strawberry.Private[list_queries.UserListRow]
    name: str = strawberry.field(description="The list's name.")
    description: str | None = strawberry.field(description="What the list is about.")
    is_public: bool = strawberry.field(description="Whether others may see it.")
    list_type: ListType = strawberry.field(description="STATIC or SMART.")
    definition: JSON | None = strawberry.field(
        description="Smart lists: `{media: <MediaFilter fields>, tracking: {statuses, ratingMin, ratingMax}, "
        "sort: {field: TITLE|RELEASE_DATE|UPDATED_AT, direction: ASC|DESC}}`."
    )
    created_at: dt.datetime = strawberry.field(description="When it was made.")
    updated_at: dt.datetime = strawberry.field(description="When it last changed.")

    @classmethod
    def from_row(cls, row: list_queries.UserListRow) -> "UserList":
        return cls(
            id=to_global_id("UserList", row.id),
            raw_id=row.id,
            row=row,
            name=row.name,
            description=row.description,
            is_public=row.is_public,
            list_type=ListType(row.list_type),
            definition=None
            if row.filter_definition is None
            else JSON(definition_to_api(row.filter_definition)),
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    @strawberry.field(description="The owner; null when their profile is private to you.")
    async def owner(self, info: Info) -> LazyUser | None:
        if not profile_visible_to(info.context.viewer, self.row.user_id, self.row.owner_profile_public):
            return None
        owner = await info.context.loaders.user_by_id.load(self.row.user_id)
        return None if owner is None else lazy_class(LazyUser).from_row(owner)

    @strawberry.field(
        description="True when this smart list selects by its owner's private library: you see no items."
    )
    def items_restricted(self, info: Info) -> bool:
        return self.list_type is ListType.SMART and not can_evaluate_smart_list(info.context.viewer, self.row)

    @strawberry.field(description="The items in list order (smart lists: evaluated now).")
    async def items(self, info: Info, first: First = None, after: After = None) -> ListItemConnection:
        smart = self.list_type is ListType.SMART
        request = list_queries.ItemsRequest(
            list_id=self.raw_id,
            smart=smart,
            owner_id=self.row.user_id,
            definition=json.dumps(self.row.filter_definition, sort_keys=True) if smart else None,
            evaluate=can_evaluate_smart_list(info.context.viewer, self.row),
            first=page_size(first),
            after=after,
        )
        try:
            list_queries.check_items_cursor(request)
        except InvalidCursor as exc:
            raise bad_cursor(exc) from exc
        page: Page[list_queries.ListItemRow] = await info.context.loaders.list_items_page.load(request)
        return ListItemConnection(
            edges=[
                ListItemEdge(
                    position=item.ordinal,
                    added_at=item.added_at,
                    node=Media.from_row(item.media),
                    cursors=page.cursors,
                    index=index,
                )
                for index, item in enumerate(page.rows)
            ],
            page_info=page_info(page, after),
            count_request=dataclasses.replace(request, first=0, after=None),
        )


async def list_by_raw_id(info: Info, list_id: uuid.UUID) -> UserList | None:
    row = await info.context.loaders.list_by_id.load(list_id)
    if row is None or not can_see_list(info.context.viewer, row):
        return None
    return UserList.from_row(row)


UserListConnection = Connection[UserList]


async def _no_lists() -> int:
    return 0


async def user_lists(
    info: Info, owner_id: uuid.UUID, profile_public: bool, first: int | None, after: str | None
) -> UserListConnection:
    """User.lists / viewer.lists: every list for the owner, public lists for everyone else, and none
    when a PRIVATE profile hides them (a public list stays reachable through `list(id)`)."""
    viewer = info.context.viewer
    size = page_size(first)
    if not profile_visible_to(viewer, owner_id, profile_public):
        # Not even a page query: its hasNextPage would tell that the hidden profile has public lists.
        return Connection(edges=[], page_info=page_info(Page([], False, []), after), count_total=_no_lists)
    request = list_queries.ListsRequest(owner_id, is_owner(viewer, owner_id), size, after)
    try:
        list_queries.check_lists_cursor(after)
    except InvalidCursor as exc:
        raise bad_cursor(exc) from exc
    loaders = info.context.loaders
    page = await loaders.lists_page.load(request)

    async def count_total() -> int:
        return await loaders.lists_count.load(request)

    return connection_from_page(page, after, UserList.from_row, count_total)


@strawberry.type
class ListQuery:
    @strawberry.field(description="A list by ID; null when it does not exist or is private to someone else.")
    async def list(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="The list's ID.")]
    ) -> UserList | None:
        list_id = decode_id(id, "UserList")
        return None if list_id is None else await list_by_raw_id(info, list_id)
