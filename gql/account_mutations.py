"""Account mutations: register, login, logout, changePassword, createApiToken, revokeApiToken,
updateSettings. Each runs in one transaction; expected failures come back as `userErrors`."""

import datetime as dt
from typing import Annotated

import strawberry

from db import accounts as account_queries
from db import login_events
from db.accounts import PROFILE_VISIBILITY_KEY
from db.login_events import RATE_LIMITED_REASON
from db.passwords import (
    Problem,
    hash_password,
    needs_rehash,
    normalize_email,
    normalize_login,
    password_problem,
    registration_problems,
    verify_password,
)
from gql.accounts import ApiToken, ProfileVisibility, TokenScope, User
from gql.context import Info
from gql.errors import INPUT, USER_ERRORS, Forbidden, Unauthenticated, UserError, UserErrorCode, user_error
from gql.login_throttle import retry_after_seconds
from gql.permissions import (
    ADMIN,
    expand_scopes,
    not_found,
    require_session,
    require_viewer,
    require_writer,
    user_error_for,
)
from gql.relay import decode_id

API_TOKEN_NAME_MAX = 100
API_TOKEN_MAX_DAYS = 366
PROBLEM_CODES = {"invalid": UserErrorCode.INVALID, "weak_password": UserErrorCode.WEAK_PASSWORD}
WRONG_CREDENTIALS = "Wrong login or password"


def problem_errors(problems: list[Problem]) -> list[UserError]:
    return [user_error(PROBLEM_CODES[problem.code], problem.message, problem.field) for problem in problems]


def client_of(info: Info) -> tuple[str | None, str | None]:
    request = info.context.request
    ip = request.client.host if request.client else None
    return ip, request.headers.get("user-agent")


def refuse_for(info: Info, seconds: int) -> UserError:
    """Answer a throttled sign-in: HTTP 429 with Retry-After, and a RATE_LIMITED user error."""
    response = info.context.response
    if response is not None:
        response.status_code = 429
        response.headers["Retry-After"] = str(seconds)
    return user_error(UserErrorCode.RATE_LIMITED, f"Too many failed attempts; retry in {seconds} s")


def session_lifetime(info: Info) -> dt.timedelta:
    return dt.timedelta(days=info.context.settings.session_absolute_days)


def failure_window(info: Info) -> dt.timedelta:
    return dt.timedelta(seconds=info.context.settings.limits.login_failure_window_seconds)


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
        email, username = normalize_email(input.email), input.username.strip()
        problems = registration_problems(email, username, input.password)
        if problems:
            return RegisterPayload(user_errors=problem_errors(problems))
        ip, user_agent = client_of(info)
        engine = info.context.engine
        async with engine.connect() as conn:
            failures = await login_events.recent_failures(conn, email, ip, failure_window(info))
        wait = retry_after_seconds(failures, info.context.settings.limits)
        if wait is not None:
            return RegisterPayload(user_errors=[refuse_for(info, wait)])
        # Hash before the transaction: no pooled connection waits on argon2.
        password_hash = await hash_password(input.password)
        async with engine.begin() as conn:
            row = await account_queries.create_user(conn, email, username, password_hash)
            if row is None:
                taken = await account_queries.taken_fields(conn, email, username)
                # A failed registration counts against the address like a failed sign-in, which
                # bounds how fast anyone can probe which emails have accounts.
                await login_events.record_login_event(
                    conn, email, None, False, "register_taken", ip, user_agent
                )
                return RegisterPayload(
                    user_errors=[
                        user_error(UserErrorCode.TAKEN, f"This {field} is already taken", field)
                        for field in taken
                    ]
                )
            token, _ = await account_queries.create_session(
                conn, row.id, session_lifetime(info), ip, user_agent
            )
            await login_events.record_login_event(conn, email, row.id, True, "register", ip, user_agent)
        return RegisterPayload(token=token, user=User.from_row(row))

    @strawberry.mutation(description="Sign in with email or username; returns a bearer token.")
    async def login(self, info: Info, input: Annotated[LoginInput, INPUT]) -> LoginPayload:
        login = normalize_login(input.login)
        ip, user_agent = client_of(info)
        engine = info.context.engine
        async with engine.connect() as conn:
            account = await account_queries.user_for_login(conn, login)
            failures = await login_events.recent_failures(conn, login, ip, failure_window(info))
        wait = retry_after_seconds(failures, info.context.settings.limits)
        if wait is not None:
            async with engine.begin() as conn:
                await login_events.record_login_event(
                    conn,
                    login,
                    None if account is None else account.id,
                    False,
                    RATE_LIMITED_REASON,
                    ip,
                    user_agent,
                )
            return LoginPayload(user_errors=[refuse_for(info, wait)])
        # No account: verify against a dummy hash so the answer takes the same time either way.
        verified = await verify_password(None if account is None else account.password_hash, input.password)
        if account is None or not verified:
            async with engine.begin() as conn:
                await login_events.record_login_event(
                    conn,
                    login,
                    None if account is None else account.id,
                    False,
                    "unknown_login" if account is None else "wrong_password",
                    ip,
                    user_agent,
                )
            return LoginPayload(
                user_errors=[user_error(UserErrorCode.INVALID_CREDENTIALS, WRONG_CREDENTIALS, "login")]
            )
        upgraded_hash = await hash_password(input.password) if needs_rehash(account.password_hash) else None
        async with engine.begin() as conn:
            if upgraded_hash is not None:
                await account_queries.set_password_hash(conn, account.id, upgraded_hash)
            token, _ = await account_queries.create_session(
                conn, account.id, session_lifetime(info), ip, user_agent
            )
            await login_events.record_login_event(conn, login, account.id, True, None, ip, user_agent)
            (row,) = await account_queries.users_by_ids(conn, [account.id])
        assert row is not None
        return LoginPayload(token=token, user=User.from_row(row))

    @strawberry.mutation(description="Sign out: revoke the session this request uses.")
    async def logout(self, info: Info) -> LogoutPayload:
        try:
            viewer = require_viewer(info)
        except Unauthenticated as denied:
            return LogoutPayload(user_errors=[user_error_for(denied)])
        if viewer.session_id is None:
            return LogoutPayload(
                user_errors=[user_error(UserErrorCode.INVALID, "API tokens are revoked with revokeApiToken")]
            )
        async with info.context.engine.begin() as conn:
            revoked = await account_queries.revoke_session(conn, viewer.user_id, viewer.session_id)
        return LogoutPayload(ok=revoked)

    @strawberry.mutation(description="Change your password; every other session is signed out.")
    async def change_password(
        self, info: Info, input: Annotated[ChangePasswordInput, INPUT]
    ) -> ChangePasswordPayload:
        try:
            viewer = require_session(require_writer(info))
        except (Unauthenticated, Forbidden) as denied:
            return ChangePasswordPayload(user_errors=[user_error_for(denied)])
        engine = info.context.engine
        ip, user_agent = client_of(info)
        async with engine.connect() as conn:
            current_hash = await account_queries.password_hash_of(conn, viewer.user_id)
            (row,) = await account_queries.users_by_ids(conn, [viewer.user_id])
            assert row is not None
            # Guesses of the current password count like failed sign-ins by username, so a stolen
            # session gets no more guesses at the password than the login form gives anyone.
            login_key = normalize_login(row.username)
            failures = await login_events.recent_failures(conn, login_key, ip, failure_window(info))
        wait = retry_after_seconds(failures, info.context.settings.limits)
        if wait is not None:
            return ChangePasswordPayload(user_errors=[refuse_for(info, wait)])
        if not await verify_password(current_hash, input.current_password):
            async with engine.begin() as conn:
                await login_events.record_login_event(
                    conn, login_key, viewer.user_id, False, "wrong_current_password", ip, user_agent
                )
            return ChangePasswordPayload(
                user_errors=[
                    user_error(UserErrorCode.INVALID_CREDENTIALS, "Wrong current password", "currentPassword")
                ]
            )
        problem = password_problem(input.new_password, "newPassword", row.username, row.email)
        if problem is None and input.new_password == input.current_password:
            problem = Problem("newPassword", "invalid", "Choose a password different from the current one")
        if problem is not None:
            return ChangePasswordPayload(user_errors=problem_errors([problem]))
        new_hash = await hash_password(input.new_password)
        async with engine.begin() as conn:
            await account_queries.set_password_hash(conn, viewer.user_id, new_hash)
            signed_out = await account_queries.revoke_other_sessions(
                conn,
                viewer.user_id,
                keep=viewer.session_id,
                session_idle=dt.timedelta(days=info.context.settings.session_idle_days),
            )
            revoked_tokens = (
                0
                if input.keep_api_tokens
                else await account_queries.revoke_all_api_tokens(conn, viewer.user_id)
            )
        return ChangePasswordPayload(
            user=User.from_row(row), signed_out_sessions=signed_out, revoked_api_tokens=revoked_tokens
        )

    @strawberry.mutation(description="Create a personal API token; its secret is returned this once only.")
    async def create_api_token(
        self, info: Info, input: Annotated[CreateApiTokenInput, INPUT]
    ) -> CreateApiTokenPayload:
        try:
            viewer = require_session(require_writer(info))
        except (Unauthenticated, Forbidden) as denied:
            return CreateApiTokenPayload(user_errors=[user_error_for(denied)])
        name = input.name.strip()
        scopes = {scope.value for scope in input.scopes}
        errors = []
        if not 1 <= len(name) <= API_TOKEN_NAME_MAX:
            errors.append(
                user_error(UserErrorCode.INVALID, f"A name is 1 to {API_TOKEN_NAME_MAX} characters", "name")
            )
        if not scopes:
            errors.append(user_error(UserErrorCode.INVALID, "Give the token at least one scope", "scopes"))
        if ADMIN in scopes and viewer.role != "admin":
            errors.append(
                user_error(UserErrorCode.FORBIDDEN, "Only admins may create ADMIN tokens", "scopes")
            )
        if not 1 <= input.expires_in_days <= API_TOKEN_MAX_DAYS:
            errors.append(
                user_error(
                    UserErrorCode.INVALID, f"Expiry is 1 to {API_TOKEN_MAX_DAYS} days", "expiresInDays"
                )
            )
        if errors:
            return CreateApiTokenPayload(user_errors=errors)
        limit = info.context.settings.limits.api_tokens_per_user
        async with info.context.engine.begin() as conn:
            if await account_queries.count_live_api_tokens(conn, viewer.user_id) >= limit:
                return CreateApiTokenPayload(
                    user_errors=[user_error(UserErrorCode.LIMIT_EXCEEDED, f"At most {limit} live tokens")]
                )
            secret, row = await account_queries.create_api_token(
                conn,
                viewer.user_id,
                name,
                sorted(expand_scopes(scopes)),
                dt.timedelta(days=input.expires_in_days),
            )
        return CreateApiTokenPayload(token=secret, api_token=ApiToken.from_row(row))

    @strawberry.mutation(description="Revoke one of your API tokens.")
    async def revoke_api_token(
        self, info: Info, input: Annotated[RevokeApiTokenInput, INPUT]
    ) -> RevokeApiTokenPayload:
        try:
            viewer = require_writer(info)
        except (Unauthenticated, Forbidden) as denied:
            return RevokeApiTokenPayload(user_errors=[user_error_for(denied)])
        token_id = decode_id(input.id, "ApiToken")
        if token_id is None:
            return RevokeApiTokenPayload(user_errors=[not_found("API token", "id")])
        async with info.context.engine.begin() as conn:
            row = await account_queries.revoke_api_token(conn, viewer.user_id, token_id)
        if row is None:
            return RevokeApiTokenPayload(user_errors=[not_found("API token", "id")])
        return RevokeApiTokenPayload(api_token=ApiToken.from_row(row))

    @strawberry.mutation(description="Sign out one of your sessions (another device), by its ID.")
    async def revoke_session(
        self, info: Info, input: Annotated[RevokeSessionInput, INPUT]
    ) -> RevokeSessionPayload:
        try:
            viewer = require_session(require_writer(info))
        except (Unauthenticated, Forbidden) as denied:
            return RevokeSessionPayload(user_errors=[user_error_for(denied)])
        session_id = decode_id(input.id, "Session")
        if session_id is None:
            return RevokeSessionPayload(user_errors=[not_found("session", "id")])
        async with info.context.engine.begin() as conn:
            revoked = await account_queries.revoke_session(conn, viewer.user_id, session_id)
        if not revoked:
            return RevokeSessionPayload(user_errors=[not_found("session", "id")])
        return RevokeSessionPayload(revoked_session_id=input.id)

    @strawberry.mutation(description="Change your settings; fields left out keep their value.")
    async def update_settings(
        self, info: Info, input: Annotated[UpdateSettingsInput, INPUT]
    ) -> UpdateSettingsPayload:
        try:
            viewer = require_writer(info)
        except (Unauthenticated, Forbidden) as denied:
            return UpdateSettingsPayload(user_errors=[user_error_for(denied)])
        changes = {}
        if input.profile_visibility is not strawberry.UNSET:
            if input.profile_visibility is None:
                return UpdateSettingsPayload(
                    user_errors=[
                        user_error(UserErrorCode.INVALID, "Choose PUBLIC or PRIVATE", "profileVisibility")
                    ]
                )
            changes[PROFILE_VISIBILITY_KEY] = input.profile_visibility.value
        async with info.context.engine.begin() as conn:
            row = await account_queries.update_settings(conn, viewer.user_id, changes)
        return UpdateSettingsPayload(user=User.from_row(row))
