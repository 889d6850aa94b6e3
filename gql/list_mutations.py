"""List mutations: create, update and delete lists; add, remove and move the items of static lists.
Each mutation is one transaction that first locks the list row, so concurrent edits of one list queue."""

import uuid
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON

from db import list_commands, smart_lists
from db import lists as list_queries
from gql.auth import Viewer
from gql.commands import node_id, perform
from gql.context import Info
from gql.errors import INPUT, USER_ERRORS, UserError, UserErrorCode, user_error
from gql.lists import ListType, UserList
from gql.permissions import list_write_denied, write_denied
from gql.relay import decode_id

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
    user_list: UserList | None = strawberry.field(name="list", description="The list.")
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type(description="The list that no longer exists.")
class DeleteListPayload:
    deleted_list_id: strawberry.ID | None = strawberry.field(
        default=None, description="The deleted list's ID."
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list, description=USER_ERRORS)


@strawberry.type(description="The list after an item was added, moved or removed.")
class ListItemPayload:
    user_list: UserList | None = strawberry.field(name="list", description="The list.")
    position: int | None = strawberry.field(description="Where the item now is (0-based).")
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)


class ListInputError(Exception):
    def __init__(self, error: UserError) -> None:
        super().__init__(error.message)
        self.error = error


def _invalid(message: str, *field: str) -> ListInputError:
    return ListInputError(user_error(UserErrorCode.INVALID, message, *field))


def _checked_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > list_queries.NAME_MAX_LENGTH:
        raise _invalid(f"A name has 1 to {list_queries.NAME_MAX_LENGTH} characters", "name")
    return name


def _checked_description(description: str | None) -> str | None:
    if description is not None and len(description) > list_queries.DESCRIPTION_MAX_LENGTH:
        raise _invalid(
            f"A description has at most {list_queries.DESCRIPTION_MAX_LENGTH} characters", "description"
        )
    return description


def _checked_definition(definition: Any) -> dict[str, Any]:
    if definition is None:
        raise _invalid("A smart list needs a definition", "definition")
    try:
        return smart_lists.SmartDefinition.parse(definition).to_json()
    except smart_lists.InvalidDefinition as exc:
        raise _invalid(str(exc), "definition", *exc.path) from exc


def _list_id(global_id: str, field: str) -> uuid.UUID:
    list_id = decode_id(global_id, "UserList")
    if list_id is None:
        raise ListInputError(user_error(UserErrorCode.NOT_FOUND, "No such list", field))
    return list_id


async def _locked_own_list(conn: Any, info: Info, global_id: str, field: str) -> Any:
    row = await list_queries.lock_list(conn, _list_id(global_id, field))
    denied = list_write_denied(info.context.viewer, row, field)
    if denied is not None:
        raise ListInputError(denied)
    return row


def _check_writer(info: Info) -> uuid.UUID:
    viewer = info.context.viewer
    denied = write_denied(viewer)
    if denied is not None:
        raise ListInputError(denied)
    assert viewer is not None
    return viewer.user_id


async def _reread(conn: Any, list_id: uuid.UUID) -> UserList:
    """The list as just written in this transaction (so it exists)."""
    (row,) = await list_queries.lists_by_ids(conn, [list_id])
    assert row is not None
    return UserList.from_row(row)


@strawberry.type
class ListMutation:
    @strawberry.mutation(description="Create a STATIC or SMART list for the viewer.")
    async def create_list(self, info: Info, input: Annotated[CreateListInput, INPUT]) -> ListPayload:
        try:
            owner_id = _check_writer(info)
            values: dict[str, Any] = {
                "name": _checked_name(input.name),
                "description": _checked_description(input.description),
                "is_public": input.is_public,
                "list_type": input.list_type.value,
                "filter_definition": None,
            }
            if input.list_type is ListType.SMART:
                values["filter_definition"] = _checked_definition(input.definition)
            elif input.definition is not None:
                raise _invalid("Only smart lists have a definition", "definition")
            async with info.context.engine.begin() as conn:
                list_id = await list_queries.create_list(conn, owner_id, values)
                created = await _reread(conn, list_id)
        except ListInputError as exc:
            return ListPayload(user_list=None, user_errors=[exc.error])
        return ListPayload(user_list=created, user_errors=[])

    @strawberry.mutation(description="Rename, describe, publish or redefine one of the viewer's lists.")
    async def update_list(self, info: Info, input: Annotated[UpdateListInput, INPUT]) -> ListPayload:
        try:
            _check_writer(info)
            async with info.context.engine.begin() as conn:
                row = await _locked_own_list(conn, info, input.id, "id")
                values: dict[str, Any] = {}
                if input.name is not strawberry.UNSET:
                    if input.name is None:
                        raise _invalid("A list needs a name", "name")
                    values["name"] = _checked_name(input.name)
                if input.description is not strawberry.UNSET:
                    values["description"] = _checked_description(input.description)
                if input.is_public is not strawberry.UNSET:
                    if input.is_public is None:
                        raise _invalid("isPublic cannot be null", "isPublic")
                    values["is_public"] = input.is_public
                if input.definition is not strawberry.UNSET:
                    if row.list_type != ListType.SMART.value:
                        raise _invalid("Only smart lists have a definition", "definition")
                    values["filter_definition"] = _checked_definition(input.definition)
                await list_queries.update_list(conn, row.id, values)
                updated = await _reread(conn, row.id)
        except ListInputError as exc:
            return ListPayload(user_list=None, user_errors=[exc.error])
        return ListPayload(user_list=updated, user_errors=[])

    @strawberry.mutation(description="Delete one of the viewer's lists and its items.")
    async def delete_list(self, info: Info, input: Annotated[DeleteListInput, INPUT]) -> DeleteListPayload:
        async def run(viewer: Viewer) -> DeleteListPayload:
            list_id = node_id(input.id, "UserList", "list", "id")
            await list_commands.delete_list(info.context.engine, viewer.user_id, list_id)
            return DeleteListPayload(deleted_list_id=input.id)

        return await perform(info, DeleteListPayload, run)

    @strawberry.mutation(
        description="Add a media item to a static list, at the end unless `position` says where."
    )
    async def add_list_item(self, info: Info, input: Annotated[AddListItemInput, INPUT]) -> ListItemPayload:
        try:
            _check_writer(info)
            media_id = decode_id(input.media_id, "Media")
            if input.position is not None and input.position < 0:
                raise _invalid("position cannot be negative", "position")
            async with info.context.engine.begin() as conn:
                row = await _locked_own_list(conn, info, input.list_id, "listId")
                _require_static(row)
                if media_id is None or not await list_queries.media_exists(conn, media_id):
                    raise ListInputError(user_error(UserErrorCode.NOT_FOUND, "No such media", "mediaId"))
                if await list_queries.has_item(conn, row.id, media_id):
                    raise ListInputError(
                        user_error(UserErrorCode.CONFLICT, "This item is already in the list", "mediaId")
                    )
                count = await list_queries.item_count(conn, row.id)
                if count >= list_queries.LIST_ITEM_LIMIT:
                    raise ListInputError(
                        user_error(
                            UserErrorCode.LIMIT_EXCEEDED,
                            f"A list holds at most {list_queries.LIST_ITEM_LIMIT} items",
                            "listId",
                        )
                    )
                ordinal = count if input.position is None else min(input.position, count)
                stored = await list_queries.free_position(conn, row.id, ordinal)
                await list_queries.add_item(conn, row.id, media_id, stored)
                updated = await _reread(conn, row.id)
        except ListInputError as exc:
            return ListItemPayload(user_list=None, position=None, user_errors=[exc.error])
        return ListItemPayload(user_list=updated, position=ordinal, user_errors=[])

    @strawberry.mutation(description="Remove a media item from a static list.")
    async def remove_list_item(
        self, info: Info, input: Annotated[RemoveListItemInput, INPUT]
    ) -> ListItemPayload:
        try:
            _check_writer(info)
            media_id = decode_id(input.media_id, "Media")
            async with info.context.engine.begin() as conn:
                row = await _locked_own_list(conn, info, input.list_id, "listId")
                _require_static(row)
                if media_id is None or not await list_queries.remove_item(conn, row.id, media_id):
                    raise ListInputError(
                        user_error(UserErrorCode.NOT_FOUND, "This item is not in the list", "mediaId")
                    )
                updated = await _reread(conn, row.id)
        except ListInputError as exc:
            return ListItemPayload(user_list=None, position=None, user_errors=[exc.error])
        return ListItemPayload(user_list=updated, position=None, user_errors=[])

    @strawberry.mutation(description="Move an item of a static list to a 0-based position (0 = first).")
    async def move_list_item(self, info: Info, input: Annotated[MoveListItemInput, INPUT]) -> ListItemPayload:
        try:
            _check_writer(info)
            media_id = decode_id(input.media_id, "Media")
            if input.position < 0:
                raise _invalid("position cannot be negative", "position")
            async with info.context.engine.begin() as conn:
                row = await _locked_own_list(conn, info, input.list_id, "listId")
                _require_static(row)
                if media_id is None or not await list_queries.has_item(conn, row.id, media_id):
                    raise ListInputError(
                        user_error(UserErrorCode.NOT_FOUND, "This item is not in the list", "mediaId")
                    )
                others = await list_queries.item_count(conn, row.id) - 1
                ordinal = min(input.position, others)
                stored = await list_queries.free_position(conn, row.id, ordinal, moving=media_id)
                await list_queries.move_item(conn, row.id, media_id, stored)
                updated = await _reread(conn, row.id)
        except ListInputError as exc:
            return ListItemPayload(user_list=None, position=None, user_errors=[exc.error])
        return ListItemPayload(user_list=updated, position=ordinal, user_errors=[])


def _require_static(row: Any) -> None:
    if row.list_type != ListType.STATIC.value:
        raise _invalid(
            "Smart lists are evaluated from their definition; their items cannot be edited", "listId"
        )
