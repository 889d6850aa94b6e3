"""Account types and queries: User (public profile and, for its owner, private fields), `viewer`, `user`.

One `User` type serves both `viewer` and `user(username)`: private fields (email, role, settings,
apiTokens, sessions) resolve only for the user themself and are null for anyone else; a PRIVATE
profile shows others its username only. Other domains add fields to `User` through `raw_id` and
`profile_public` (see gql/permissions.py for the rules).
"""

import datetime as dt
import uuid
from enum import Enum
from typing import Annotated, Any

import strawberry

from db.accounts import PROFILE_VISIBILITY_KEY, ApiTokenRow, SessionRow, UserRow
from db.passwords import USERNAME_PATTERN
from gql.context import Info
from gql.library_import import LibraryImportJobConnection, user_library_imports
from gql.lists import UserListConnection, user_lists
from gql.permissions import is_owner, is_signed_in_owner, profile_visible_to
from gql.relay import After, First, Node, to_global_id
from gql.tracking import (
    LibraryFilter,
    LibrarySort,
    LibraryStats,
    TrackingEntryConnection,
    user_library,
    user_stats,
)


@strawberry.enum(description="Who sees a user's join date, lists and library.")
class ProfileVisibility(Enum):
    PUBLIC = "public"
    PRIVATE = "private"


@strawberry.enum(description="What an account may do: ADMIN also edits the catalog.")
class UserRole(Enum):
    USER = "user"
    ADMIN = "admin"


@strawberry.enum(description="What an API token may do. Scopes are cumulative: ADMIN > WRITE > READ.")
class TokenScope(Enum):
    READ = "READ"
    WRITE = "WRITE"
    ADMIN = "ADMIN"


DEFAULT_PROFILE_VISIBILITY = ProfileVisibility.PRIVATE


@strawberry.type(description="Your account settings.")
class UserSettings:
    profile_visibility: ProfileVisibility = strawberry.field(
        description="Who sees your join date, lists and library."
    )

    @classmethod
    def from_json(cls, settings: dict[str, Any]) -> "UserSettings":
        return cls(profile_visibility=profile_visibility_of(settings))


def profile_visibility_of(settings: dict[str, Any]) -> ProfileVisibility:
    try:
        return ProfileVisibility(settings.get(PROFILE_VISIBILITY_KEY, DEFAULT_PROFILE_VISIBILITY.value))
    except ValueError:
        return DEFAULT_PROFILE_VISIBILITY


@strawberry.type(description="A personal API token. Its secret is shown once, when it is created.")
class ApiToken(Node):
    raw_id: strawberry.Private[uuid.UUID]
    name: str = strawberry.field(description="What the token is for.")
    scopes: list[TokenScope] = strawberry.field(description="What it may do.")
    created_at: dt.datetime = strawberry.field(description="When it was made.")
    expires_at: dt.datetime | None = strawberry.field(description="When it stops working.")
    last_used_at: dt.datetime | None = strawberry.field(description="Its last use; null when never used.")

    @classmethod
    def from_row(cls, row: ApiTokenRow) -> "ApiToken":
        return cls(
            id=to_global_id("ApiToken", row.id),
            raw_id=row.id,
            name=row.name,
            scopes=[scope for scope in TokenScope if scope.value in row.scopes],
            created_at=row.created_at,
            expires_at=row.expires_at,
            last_used_at=row.last_used_at,
        )


@strawberry.type(name="Session", description="A signed-in session (a device), without its secret.")
class SignInSession(Node):
    created_at: dt.datetime = strawberry.field(description="When you signed in.")
    last_seen_at: dt.datetime = strawberry.field(description="Its last use.")
    expires_at: dt.datetime = strawberry.field(description="When it ends unless used again before.")
    ip: str | None = strawberry.field(description="The address it signed in from.")
    user_agent: str | None = strawberry.field(description="The browser or program it signed in with.")
    current: bool = strawberry.field(description="Whether this request uses this session.")

    @classmethod
    def from_row(cls, row: SessionRow, current_session_id: uuid.UUID | None) -> "SignInSession":
        return cls(
            id=to_global_id("Session", row.id),
            created_at=row.created_at,
            last_seen_at=row.last_seen_at,
            expires_at=row.expires_at,
            ip=row.ip,
            user_agent=row.user_agent,
            current=row.id == current_session_id,
        )


@strawberry.type(description="A user. Others see a public profile; private fields are null unless it is you.")
class User(Node):
    raw_id: strawberry.Private[uuid.UUID]
    profile_visibility: strawberry.Private[ProfileVisibility]
    username: str = strawberry.field(description="The user's unique name (case-insensitive).")
    joined_at: strawberry.Private[dt.datetime]
    email_address: strawberry.Private[str]
    role_name: strawberry.Private[str]
    settings_json: strawberry.Private[dict[str, Any]]

    @classmethod
    def from_row(cls, row: UserRow) -> "User":
        return cls(
            id=to_global_id("User", row.id),
            raw_id=row.id,
            profile_visibility=profile_visibility_of(row.settings),
            username=row.username,
            joined_at=row.created_at,
            email_address=row.email,
            role_name=row.role,
            settings_json=row.settings,
        )

    @property
    def profile_public(self) -> bool:
        return self.profile_visibility is ProfileVisibility.PUBLIC

    @strawberry.field(description="When the user joined; null for others when the profile is PRIVATE.")
    def created_at(self, info: Info) -> dt.datetime | None:
        return (
            self.joined_at
            if profile_visible_to(info.context.viewer, self.raw_id, self.profile_public)
            else None
        )

    @strawberry.field(description="Only for yourself, on a sign-in session (null through an API token).")
    def email(self, info: Info) -> str | None:
        return self.email_address if is_signed_in_owner(info.context.viewer, self.raw_id) else None

    @strawberry.field(description="Only for yourself.")
    def role(self, info: Info) -> UserRole | None:
        return UserRole(self.role_name) if is_owner(info.context.viewer, self.raw_id) else None

    @strawberry.field(description="Only for yourself.")
    def settings(self, info: Info) -> UserSettings | None:
        return (
            UserSettings.from_json(self.settings_json) if is_owner(info.context.viewer, self.raw_id) else None
        )

    @strawberry.field(
        description="Your API tokens that still work, newest first; only for yourself, on a sign-in session "
        "(null through an API token)."
    )
    async def api_tokens(self, info: Info) -> list[ApiToken] | None:
        if not is_signed_in_owner(info.context.viewer, self.raw_id):
            return None
        rows = await info.context.loaders.api_tokens_by_user_id.load(self.raw_id)
        return [ApiToken.from_row(row) for row in rows]

    @strawberry.field(
        description="Your live sign-in sessions, most recently used first; only for yourself, on a sign-in "
        "session (null through an API token)."
    )
    async def sessions(self, info: Info) -> list[SignInSession] | None:
        viewer = info.context.viewer
        if viewer is None or not is_signed_in_owner(viewer, self.raw_id):
            return None
        rows = await info.context.loaders.sessions_by_user_id.load(self.raw_id)
        return [SignInSession.from_row(row, viewer.session_id) for row in rows]

    @strawberry.field(description="Tracking entries; null unless the profile is yours or PUBLIC.")
    async def library(
        self,
        info: Info,
        filter: Annotated[
            LibraryFilter | None, strawberry.argument(description="Which entries; all when omitted.")
        ] = None,
        sort: Annotated[LibrarySort, strawberry.argument(description="The order of the entries.")] = (
            LibrarySort.UPDATED_AT
        ),
        first: First = None,
        after: After = None,
    ) -> TrackingEntryConnection | None:
        return await user_library(info, self.raw_id, self.profile_public, filter, sort, first, after)

    @strawberry.field(
        description="Lists: all of them for their owner; public ones for others when the profile is PUBLIC."
    )
    async def lists(self, info: Info, first: First = None, after: After = None) -> UserListConnection:
        return await user_lists(info, self.raw_id, self.profile_public, first, after)

    @strawberry.field(description="Library statistics; null unless the profile is yours or PUBLIC.")
    async def stats(self, info: Info) -> LibraryStats | None:
        return await user_stats(info, self.raw_id, self.profile_public)

    @strawberry.field(description="Your library imports, newest first; only for yourself.")
    async def library_imports(
        self, info: Info, first: First = None, after: After = None
    ) -> LibraryImportJobConnection | None:
        return await user_library_imports(info, self.raw_id, first, after)


async def user_by_raw_id(info: Info, user_id: uuid.UUID) -> User | None:
    row = await info.context.loaders.user_by_id.load(user_id)
    return None if row is None else User.from_row(row)


async def api_token_by_raw_id(info: Info, token_id: uuid.UUID) -> ApiToken | None:
    """node(id) for a token: only what `viewer.apiTokens` lists, to the same caller."""
    row = await info.context.loaders.api_token_by_id.load(token_id)
    if row is None or not is_signed_in_owner(info.context.viewer, row.user_id):
        return None
    return ApiToken.from_row(row)


async def session_by_raw_id(info: Info, session_id: uuid.UUID) -> SignInSession | None:
    """node(id) for a session: only what `viewer.sessions` lists, to the same caller."""
    viewer = info.context.viewer
    row = await info.context.loaders.session_by_id.load(session_id)
    if row is None or viewer is None or not is_signed_in_owner(viewer, row.user_id):
        return None
    return SignInSession.from_row(row, viewer.session_id)


@strawberry.type
class AccountsQuery:
    @strawberry.field(description="The signed-in user; null when anonymous.")
    async def viewer(self, info: Info) -> User | None:
        viewer = info.context.viewer
        if viewer is None:
            return None
        if viewer.user_row is not None:
            # Read with the credential at the start of this request; a query writes nothing, so the
            # row is current (mutations never reach this field, so they never see it stale).
            info.context.loaders.user_by_id.prime(viewer.user_id, viewer.user_row)
        return await user_by_raw_id(info, viewer.user_id)

    @strawberry.field(description="A public profile by username (case-insensitive); null when there is none.")
    async def user(
        self,
        info: Info,
        username: Annotated[str, strawberry.argument(description="The username, in any letter case.")],
    ) -> User | None:
        if not USERNAME_PATTERN.fullmatch(username):
            return None
        row = await info.context.loaders.user_by_username.load(username.lower())
        return None if row is None else User.from_row(row)
