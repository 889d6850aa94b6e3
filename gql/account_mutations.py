"""Account mutations: register, login, logout, changePassword, createApiToken, revokeApiToken,
revokeSession, updateSettings; each one command of db/account_commands.py."""

import datetime as dt
from typing import Annotated

import strawberry

from db import account_commands
from db.account_commands import Client, SignInRules
from db.login_throttle import LoginThrottle
from db.refusals import invalid
from gql.accounts import ApiToken, ProfileVisibility, TokenScope, User
from gql.auth import Viewer
from gql.commands import node_id, perform, perform_anonymous
from gql.context import Info
from gql.errors import INPUT, USER_ERRORS, UserError
from gql.permissions import READ, expand_scopes


def client_of(info: Info) -> Client:
    request = info.context.request
    return Client(request.client.host if request.client else None, request.headers.get("user-agent"))


def login_throttle(info: Info) -> LoginThrottle:
    limits = info.context.settings.limits
    return LoginThrottle(
        failures_per_account=limits.login_failures_per_account,
        failures_per_ip=limits.login_failures_per_ip,
        window=dt.timedelta(seconds=limits.login_failure_window_seconds),
        backoff_seconds=limits.login_backoff_seconds,
    )


def sign_in_rules(info: Info) -> SignInRules:
    return SignInRules(login_throttle(info), dt.timedelta(days=info.context.settings.session_absolute_days))


@strawberry.input(description="A new account.")
class RegisterInput:
    email: str = strawberry.field(description="Where the account is reached; unique, case-insensitive.")
    username: str = strawberry.field(
        description="3 to 32 letters, digits, `_` or `-`; unique, case-insensitive."
    )
    password: str = strawberry.field(description="At least 10 characters, not a common password.")


@strawberry.input(description="Credentials to sign in with.")
class LoginInput:
    login: str = strawberry.field(description="Your email or your username.")
    password: str = strawberry.field(description="Your password.")


@strawberry.input(description="A new password, proven by the current one.")
class ChangePasswordInput:
    current_password: str = strawberry.field(description="The password you sign in with now.")
    new_password: str = strawberry.field(description="At least 10 characters, not a common password.")
    keep_api_tokens: bool = strawberry.field(
        default=False,
        description="Keep your API tokens working. By default they are revoked with your other sessions: "
        "whoever took over a session could have created one.",
    )


@strawberry.input(description="A new personal API token.")
class CreateApiTokenInput:
    name: str = strawberry.field(description="What the token is for, to recognise it later.")
    scopes: list[TokenScope] = strawberry.field(description="What it may do (at least one).")
    expires_in_days: int = strawberry.field(default=90, description="1 to 366 days.")


@strawberry.input(description="The API token to revoke.")
class RevokeApiTokenInput:
    id: strawberry.ID = strawberry.field(description="The token's ID.")


@strawberry.input(description="The session to sign out.")
class RevokeSessionInput:
    id: strawberry.ID = strawberry.field(description="The session's ID.")


@strawberry.input(description="The settings to change; omitted ones stay.")
class UpdateSettingsInput:
    profile_visibility: ProfileVisibility | None = strawberry.field(
        default=strawberry.UNSET,
        description="Who sees your join date, lists and library; unchanged if omitted.",
    )


@strawberry.type(description="The new account, signed in.")
class RegisterPayload:
    token: str | None = strawberry.field(default=None, description="A session bearer token.")
    user: User | None = strawberry.field(default=None, description="The new user.")
    user_errors: list[UserError] = strawberry.field(default_factory=list, description=USER_ERRORS)


@strawberry.type(description="A new sign-in session.")
class LoginPayload:
    token: str | None = strawberry.field(default=None, description="A session bearer token.")
    user: User | None = strawberry.field(default=None, description="Who signed in.")
    user_errors: list[UserError] = strawberry.field(default_factory=list, description=USER_ERRORS)


@strawberry.type(description="The end of the current session.")
class LogoutPayload:
    ok: bool = strawberry.field(default=False, description="True when the session was ended.")
    user_errors: list[UserError] = strawberry.field(default_factory=list, description=USER_ERRORS)


@strawberry.type(description="The account after its password changed.")
class ChangePasswordPayload:
    user: User | None = strawberry.field(default=None, description="You.")
    signed_out_sessions: int = strawberry.field(default=0, description="Other sessions signed out.")
    revoked_api_tokens: int = strawberry.field(default=0, description="API tokens revoked.")
    user_errors: list[UserError] = strawberry.field(default_factory=list, description=USER_ERRORS)


@strawberry.type(description="A new API token and its secret.")
class CreateApiTokenPayload:
    token: str | None = strawberry.field(default=None, description="The secret, shown this once only.")
    api_token: ApiToken | None = strawberry.field(default=None, description="The token, without its secret.")
    user_errors: list[UserError] = strawberry.field(default_factory=list, description=USER_ERRORS)


@strawberry.type(description="An API token that no longer works.")
class RevokeApiTokenPayload:
    api_token: ApiToken | None = strawberry.field(default=None, description="The revoked token.")
    user_errors: list[UserError] = strawberry.field(default_factory=list, description=USER_ERRORS)


@strawberry.type(description="A session that is signed out.")
class RevokeSessionPayload:
    revoked_session_id: strawberry.ID | None = strawberry.field(default=None, description="Its ID.")
    user_errors: list[UserError] = strawberry.field(default_factory=list, description=USER_ERRORS)


@strawberry.type(description="Your account with its new settings.")
class UpdateSettingsPayload:
    user: User | None = strawberry.field(default=None, description="You.")
    user_errors: list[UserError] = strawberry.field(default_factory=list, description=USER_ERRORS)


@strawberry.type
class AccountMutation:
    @strawberry.mutation(description="Create an account and sign in.")
    async def register(self, info: Info, input: Annotated[RegisterInput, INPUT]) -> RegisterPayload:
        async def run(_: Viewer | None) -> RegisterPayload:
            signed_in = await account_commands.register(
                info.context.engine,
                sign_in_rules(info),
                client_of(info),
                input.email,
                input.username,
                input.password,
            )
            return RegisterPayload(token=signed_in.token, user=User.from_row(signed_in.user))

        return await perform_anonymous(info, RegisterPayload, run)

    @strawberry.mutation(description="Sign in with email or username; returns a bearer token.")
    async def login(self, info: Info, input: Annotated[LoginInput, INPUT]) -> LoginPayload:
        async def run(_: Viewer | None) -> LoginPayload:
            signed_in = await account_commands.login(
                info.context.engine, sign_in_rules(info), client_of(info), input.login, input.password
            )
            return LoginPayload(token=signed_in.token, user=User.from_row(signed_in.user))

        return await perform_anonymous(info, LoginPayload, run)

    @strawberry.mutation(description="Sign out: revoke the session this request uses.")
    async def logout(self, info: Info) -> LogoutPayload:
        async def run(viewer: Viewer) -> LogoutPayload:
            if viewer.session_id is None:
                raise invalid("API tokens are revoked with revokeApiToken")
            return LogoutPayload(
                ok=await account_commands.logout(info.context.engine, viewer.user_id, viewer.session_id)
            )

        # Signing out needs no WRITE scope: any sign-in session may end itself.
        return await perform(info, LogoutPayload, run, scope=READ)

    @strawberry.mutation(description="Change your password; every other session is signed out.")
    async def change_password(
        self, info: Info, input: Annotated[ChangePasswordInput, INPUT]
    ) -> ChangePasswordPayload:
        async def run(viewer: Viewer) -> ChangePasswordPayload:
            assert viewer.session_id is not None
            changed = await account_commands.change_password(
                info.context.engine,
                login_throttle(info),
                client_of(info),
                viewer.user_id,
                viewer.session_id,
                dt.timedelta(days=info.context.settings.session_idle_days),
                input.current_password,
                input.new_password,
                input.keep_api_tokens,
            )
            return ChangePasswordPayload(
                user=User.from_row(changed.user),
                signed_out_sessions=changed.signed_out_sessions,
                revoked_api_tokens=changed.revoked_api_tokens,
            )

        return await perform(info, ChangePasswordPayload, run, sign_in_session=True)

    @strawberry.mutation(description="Create a personal API token; its secret is returned this once only.")
    async def create_api_token(
        self, info: Info, input: Annotated[CreateApiTokenInput, INPUT]
    ) -> CreateApiTokenPayload:
        async def run(viewer: Viewer) -> CreateApiTokenPayload:
            secret, row = await account_commands.create_api_token(
                info.context.engine,
                viewer.user_id,
                viewer.role == "admin",
                input.name,
                expand_scopes([scope.value for scope in input.scopes]),
                input.expires_in_days,
                info.context.settings.limits.api_tokens_per_user,
            )
            return CreateApiTokenPayload(token=secret, api_token=ApiToken.from_row(row))

        return await perform(info, CreateApiTokenPayload, run, sign_in_session=True)

    @strawberry.mutation(description="Revoke one of your API tokens.")
    async def revoke_api_token(
        self, info: Info, input: Annotated[RevokeApiTokenInput, INPUT]
    ) -> RevokeApiTokenPayload:
        async def run(viewer: Viewer) -> RevokeApiTokenPayload:
            token_id = node_id(input.id, "ApiToken", "API token", "id")
            row = await account_commands.revoke_api_token(info.context.engine, viewer.user_id, token_id)
            return RevokeApiTokenPayload(api_token=ApiToken.from_row(row))

        return await perform(info, RevokeApiTokenPayload, run)

    @strawberry.mutation(description="Sign out one of your sessions (another device), by its ID.")
    async def revoke_session(
        self, info: Info, input: Annotated[RevokeSessionInput, INPUT]
    ) -> RevokeSessionPayload:
        async def run(viewer: Viewer) -> RevokeSessionPayload:
            session_id = node_id(input.id, "Session", "session", "id")
            await account_commands.revoke_session(info.context.engine, viewer.user_id, session_id)
            return RevokeSessionPayload(revoked_session_id=input.id)

        return await perform(info, RevokeSessionPayload, run, sign_in_session=True)

    @strawberry.mutation(description="Change your settings; fields left out keep their value.")
    async def update_settings(
        self, info: Info, input: Annotated[UpdateSettingsInput, INPUT]
    ) -> UpdateSettingsPayload:
        async def run(viewer: Viewer) -> UpdateSettingsPayload:
            visibility = input.profile_visibility
            if visibility is None:
                raise invalid("Choose PUBLIC or PRIVATE", "profile_visibility")
            row = await account_commands.update_settings(
                info.context.engine,
                viewer.user_id,
                None if visibility is strawberry.UNSET else visibility.value,
            )
            return UpdateSettingsPayload(user=User.from_row(row))

        return await perform(info, UpdateSettingsPayload, run)
