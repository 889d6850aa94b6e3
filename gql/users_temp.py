"""A minimal User with `viewer` and `user(username)`, standing in for the accounts issue's User.
At merge, attach `library`, `lists` and `stats` (below) to that User type and delete this module."""

import datetime as dt
import uuid
from typing import Any

import strawberry

from db import users_temp as profile_queries
from gql.context import Info
from gql.list_permissions import can_see_profile
from gql.lists import UserListConnection, user_lists
from gql.relay import Node, register_node, to_global_id
from gql.tracking import (
    LibraryFilter,
    LibrarySort,
    LibraryStats,
    TrackingEntryConnection,
    user_library,
    user_stats,
)


@strawberry.type(
    description="A user as others see them: public lists, and the library when the profile is PUBLIC."
)
class User(Node):
    raw_id: strawberry.Private[uuid.UUID]
    profile_public: strawberry.Private[bool]
    username: str
    created_at: dt.datetime

    @classmethod
    def from_row(cls, row: Any) -> "User":
        return cls(
            id=to_global_id("User", row.id),
            raw_id=row.id,
            profile_public=bool(row.profile_public),
            username=row.username,
            created_at=row.created_at,
        )

    @strawberry.field(description="Tracking entries; null unless the profile is yours or PUBLIC.")
    async def library(
        self,
        info: Info,
        filter: LibraryFilter | None = None,
        sort: LibrarySort = LibrarySort.UPDATED_AT,
        first: int | None = None,
        after: str | None = None,
    ) -> TrackingEntryConnection | None:
        return await user_library(info, self.raw_id, self.profile_public, filter, sort, first, after)

    @strawberry.field(description="Lists: all of them for their owner, public ones for everyone else.")
    async def lists(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> UserListConnection:
        return await user_lists(info, self.raw_id, first, after)

    @strawberry.field(description="Library statistics; null unless the profile is yours or PUBLIC.")
    async def stats(self, info: Info) -> LibraryStats | None:
        return await user_stats(info, self.raw_id, self.profile_public)


async def user_by_raw_id(info: Info, user_id: uuid.UUID) -> User | None:
    row = await info.context.loaders.profile_by_id.load(user_id)
    if row is None or not can_see_profile(info.context.viewer, row.id, row.profile_public):
        return None
    return User.from_row(row)


register_node("User", user_by_raw_id)


@strawberry.type
class UserQuery:
    @strawberry.field(description="The signed-in user; null when anonymous.")
    async def viewer(self, info: Info) -> User | None:
        viewer = info.context.viewer
        return None if viewer is None else await user_by_raw_id(info, viewer.user_id)

    @strawberry.field(description="A public profile by username; null when there is none or it is private.")
    async def user(self, info: Info, username: str) -> User | None:
        async with info.context.engine.connect() as conn:
            row = await profile_queries.profile_by_username(conn, username)
        if row is None or not can_see_profile(info.context.viewer, row.id, row.profile_public):
            return None
        return User.from_row(row)
