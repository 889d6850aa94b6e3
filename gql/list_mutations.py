"""List mutations: create, update and delete lists; add, remove and move the items of static lists.
Each is one command of db/list_commands.py."""

from typing import Annotated, Any, TypeVar

import strawberry
from strawberry.scalars import JSON

from db import list_commands
from db.list_commands import UNCHANGED, ItemWritten, ListChanges, NewList, Unchanged
from db.smart_lists import SmartDefinition
from gql.auth import Viewer
from gql.commands import perform
from gql.context import Info
from gql.errors import INPUT, USER_ERRORS, UserError
from gql.lists import ListType, UserList
from gql.relay import decode_id
from gql.smart_definitions import definition_from_api

_UNSET: Any = strawberry.UNSET


@strawberry.input(description="A new list.")
class CreateListInput:
    name: str = strawberry.field(description="1 to 200 characters.")
    description: str | None = strawberry.field(default=None, description="At most 2,000 characters.")
    is_public: bool = strawberry.field(default=False, description="Whether others may see it.")
    list_type: ListType = strawberry.field(default=ListType.STATIC, description="STATIC or SMART; fixed.")
    definition: JSON | None = strawberry.field(
        default=None, description="Required for SMART lists; see UserList.definition."
    )


@strawberry.input(description="Fields left out keep their values.")
class UpdateListInput:
    id: strawberry.ID = strawberry.field(description="The list's ID.")
    name: str | None = strawberry.field(default=_UNSET, description="1 to 200 characters.")
    description: str | None = strawberry.field(
        default=_UNSET, description="At most 2,000 characters; null clears it."
    )
    is_public: bool | None = strawberry.field(default=_UNSET, description="Whether others may see it.")
    definition: JSON | None = strawberry.field(
        default=_UNSET, description="SMART lists only: the new definition."
    )


@strawberry.input(description="The list to delete.")
class DeleteListInput:
    id: strawberry.ID = strawberry.field(description="The list's ID.")


@strawberry.input(description="An item to add to a static list.")
class AddListItemInput:
    list_id: strawberry.ID = strawberry.field(description="The list's ID.")
    media_id: strawberry.ID = strawberry.field(description="The catalog item's ID.")
    position: int | None = strawberry.field(default=None, description="0 = first; the end by default.")


@strawberry.input(description="An item to remove from a static list.")
class RemoveListItemInput:
    list_id: strawberry.ID = strawberry.field(description="The list's ID.")
    media_id: strawberry.ID = strawberry.field(description="The catalog item's ID.")


@strawberry.input(description="An item of a static list and where it goes.")
class MoveListItemInput:
    list_id: strawberry.ID = strawberry.field(description="The list's ID.")
    media_id: strawberry.ID = strawberry.field(description="The catalog item's ID.")
    position: int = strawberry.field(description="The new 0-based position; past the end means last.")


@strawberry.type(description="The list as changed.")
class ListPayload:
    user_list: UserList | None = strawberry.field(default=None, name="list", description="The list.")
    user_errors: list[UserError] = strawberry.field(default_factory=list, description=USER_ERRORS)


@strawberry.type(description="The list that no longer exists.")
class DeleteListPayload:
    deleted_list_id: strawberry.ID | None = strawberry.field(
        default=None, description="The deleted list's ID."
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list, description=USER_ERRORS)


@strawberry.type(description="The list after an item was added, moved or removed.")
class ListItemPayload:
    user_list: UserList | None = strawberry.field(default=None, name="list", description="The list.")
    position: int | None = strawberry.field(default=None, description="Where the item now is (0-based).")
    user_errors: list[UserError] = strawberry.field(default_factory=list, description=USER_ERRORS)

    @classmethod
    def of(cls, written: ItemWritten) -> "ListItemPayload":
        return cls(user_list=UserList.from_row(written.list), position=written.position)


T = TypeVar("T")


def _given(value: T) -> T | Unchanged:
    return UNCHANGED if value is strawberry.UNSET else value


def _definition(value: JSON | None) -> SmartDefinition | None:
    return None if value is None else definition_from_api(value)


@strawberry.type
class ListMutation:
    @strawberry.mutation(description="Create a STATIC or SMART list for the viewer.")
    async def create_list(self, info: Info, input: Annotated[CreateListInput, INPUT]) -> ListPayload:
        async def run(viewer: Viewer) -> ListPayload:
            new = NewList(
                name=input.name,
                description=input.description,
                is_public=input.is_public,
                list_type=input.list_type.value,
                definition=_definition(input.definition),
            )
            created = await list_commands.create_list(info.context.engine, viewer.user_id, new)
            return ListPayload(user_list=UserList.from_row(created))

        return await perform(info, ListPayload, run)

    @strawberry.mutation(description="Rename, describe, publish or redefine one of the viewer's lists.")
    async def update_list(self, info: Info, input: Annotated[UpdateListInput, INPUT]) -> ListPayload:
        async def run(viewer: Viewer) -> ListPayload:
            changes = ListChanges(
                name=_given(input.name),
                description=_given(input.description),
                is_public=_given(input.is_public),
                definition=(
                    UNCHANGED if input.definition is strawberry.UNSET else _definition(input.definition)
                ),
            )
            updated = await list_commands.update_list(
                info.context.engine, viewer.user_id, decode_id(input.id, "UserList"), changes
            )
            return ListPayload(user_list=UserList.from_row(updated))

        return await perform(info, ListPayload, run)

    @strawberry.mutation(description="Delete one of the viewer's lists and its items.")
    async def delete_list(self, info: Info, input: Annotated[DeleteListInput, INPUT]) -> DeleteListPayload:
        async def run(viewer: Viewer) -> DeleteListPayload:
            await list_commands.delete_list(
                info.context.engine, viewer.user_id, decode_id(input.id, "UserList")
            )
            return DeleteListPayload(deleted_list_id=input.id)

        return await perform(info, DeleteListPayload, run)

    @strawberry.mutation(
        description="Add a media item to a static list, at the end unless `position` says where."
    )
    async def add_list_item(self, info: Info, input: Annotated[AddListItemInput, INPUT]) -> ListItemPayload:
        async def run(viewer: Viewer) -> ListItemPayload:
            written = await list_commands.add_list_item(
                info.context.engine,
                viewer.user_id,
                decode_id(input.list_id, "UserList"),
                decode_id(input.media_id, "Media"),
                input.position,
            )
            return ListItemPayload.of(written)

        return await perform(info, ListItemPayload, run)

    @strawberry.mutation(description="Remove a media item from a static list.")
    async def remove_list_item(
        self, info: Info, input: Annotated[RemoveListItemInput, INPUT]
    ) -> ListItemPayload:
        async def run(viewer: Viewer) -> ListItemPayload:
            written = await list_commands.remove_list_item(
                info.context.engine,
                viewer.user_id,
                decode_id(input.list_id, "UserList"),
                decode_id(input.media_id, "Media"),
            )
            return ListItemPayload.of(written)

        return await perform(info, ListItemPayload, run)

    @strawberry.mutation(description="Move an item of a static list to a 0-based position (0 = first).")
    async def move_list_item(self, info: Info, input: Annotated[MoveListItemInput, INPUT]) -> ListItemPayload:
        async def run(viewer: Viewer) -> ListItemPayload:
            written = await list_commands.move_list_item(
                info.context.engine,
                viewer.user_id,
                decode_id(input.list_id, "UserList"),
                decode_id(input.media_id, "Media"),
                input.position,
            )
            return ListItemPayload.of(written)

        return await perform(info, ListItemPayload, run)
