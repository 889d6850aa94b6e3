"""The writes on accounts: registration, sign-in and out, password changes, API tokens, sessions and
settings. Each write is one transaction; argon2 runs between the read and the write, never inside a
transaction, so no pooled connection waits on it. Sign-in attempts are recorded (and throttled) by
login key and client address; a refused attempt is recorded before the refusal is raised."""

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from db import accounts, login_events
from db.accounts import PROFILE_VISIBILITY_KEY, AnyRow, UserRow
from db.login_events import RATE_LIMITED_REASON
from db.login_throttle import LoginThrottle, retry_after_seconds
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
from db.refusals import Refusal, RefusalCode, Refused, not_found, refused

API_TOKEN_NAME_MAX = 100
API_TOKEN_MAX_DAYS = 366
ADMIN_SCOPE = "ADMIN"
WRONG_CREDENTIALS = "Wrong login or password"
PROBLEM_CODES = {"invalid": RefusalCode.INVALID, "weak_password": RefusalCode.WEAK_PASSWORD}


@dataclass(frozen=True)
class Client:
    """Where a sign-in attempt comes from, as recorded with it."""

    ip: str | None
    user_agent: str | None


@dataclass(frozen=True)
class SignInRules:
    throttle: LoginThrottle
    session_lifetime: dt.timedelta


@dataclass(frozen=True)
class SignedIn:
    token: str
    user: UserRow


@dataclass(frozen=True)
class PasswordChanged:
    user: UserRow
    signed_out_sessions: int
    revoked_api_tokens: int


def _problems_refused(problems: Sequence[Problem]) -> Refused:
    return Refused(
        *(Refusal(PROBLEM_CODES[problem.code], problem.message, (problem.field,)) for problem in problems)
    )


def _throttled(seconds: int) -> Refused:
    return Refused(
        Refusal(
            RefusalCode.RATE_LIMITED,
            f"Too many failed attempts; retry in {seconds} s",
            retry_after_seconds=seconds,
        )
    )


async def _wait(conn: AsyncConnection, throttle: LoginThrottle, login: str, client: Client) -> int | None:
    failures = await login_events.recent_failures(conn, login, client.ip, throttle.window)
    return retry_after_seconds(failures, throttle)


async def _record_failure(
    engine: AsyncEngine, login: str, user_id: uuid.UUID | None, reason: str, client: Client
) -> None:
    async with engine.begin() as conn:
        await login_events.record_login_event(
            conn, login, user_id, False, reason, client.ip, client.user_agent
        )


def _taken(fields: Sequence[str]) -> Refused:
    return Refused(
        *(Refusal(RefusalCode.TAKEN, f"This {field} is already taken", (field,)) for field in fields)
    )


async def create_admin(engine: AsyncEngine, email: str, username: str, password: str) -> UserRow:
    """An admin account (`omnimediatrak create-admin`), under the rules of registration."""
    email, username = normalize_email(email), username.strip()
    problems = registration_problems(email, username, password)
    if problems:
        raise _problems_refused(problems)
    password_hash = await hash_password(password)
    async with engine.begin() as conn:
        row = await accounts.create_user(conn, email, username, password_hash, role="admin")
        if row is None:
            raise _taken(await accounts.taken_fields(conn, email, username))
    return row


async def register(
    engine: AsyncEngine, rules: SignInRules, client: Client, email: str, username: str, password: str
) -> SignedIn:
    """A new account, signed in."""
    email, username = normalize_email(email), username.strip()
    problems = registration_problems(email, username, password)
    if problems:
        raise _problems_refused(problems)
    async with engine.connect() as conn:
        wait = await _wait(conn, rules.throttle, email, client)
    if wait is not None:
        raise _throttled(wait)
    password_hash = await hash_password(password)
    async with engine.begin() as conn:
        row = await accounts.create_user(conn, email, username, password_hash)
        if row is None:
            taken = await accounts.taken_fields(conn, email, username)
            # A failed registration counts against the address like a failed sign-in, which bounds
            # how fast anyone can probe which emails have accounts.
            await login_events.record_login_event(
                conn, email, None, False, "register_taken", client.ip, client.user_agent
            )
        else:
            token, _ = await accounts.create_session(
                conn, row.id, rules.session_lifetime, client.ip, client.user_agent
            )
            await login_events.record_login_event(
                conn, email, row.id, True, "register", client.ip, client.user_agent
            )
    if row is None:
        raise _taken(taken)
    return SignedIn(token, row)


async def login(
    engine: AsyncEngine, rules: SignInRules, client: Client, login: str, password: str
) -> SignedIn:
    """A new session for the account named by email or username: one read, then one write."""
    key = normalize_login(login)
    async with engine.connect() as conn:
        account = await accounts.user_for_login(conn, key)
        wait = await _wait(conn, rules.throttle, key, client)
    account_id = None if account is None else account.id
    if wait is not None:
        await _record_failure(engine, key, account_id, RATE_LIMITED_REASON, client)
        raise _throttled(wait)
    # No account: verify against a dummy hash so the answer takes the same time either way.
    verified = await verify_password(None if account is None else account.password_hash, password)
    if account is None or not verified:
        reason = "unknown_login" if account is None else "wrong_password"
        await _record_failure(engine, key, account_id, reason, client)
        raise refused(RefusalCode.INVALID_CREDENTIALS, WRONG_CREDENTIALS, "login")
    upgraded_hash = await hash_password(password) if needs_rehash(account.password_hash) else None
    user: UserRow = account
    async with engine.begin() as conn:
        if upgraded_hash is not None:
            user = await accounts.set_password_hash(conn, account.id, upgraded_hash)
        token, _ = await accounts.create_session(
            conn, account.id, rules.session_lifetime, client.ip, client.user_agent
        )
        await login_events.record_login_event(conn, key, account.id, True, None, client.ip, client.user_agent)
    return SignedIn(token, user)


async def logout(engine: AsyncEngine, user_id: uuid.UUID, session_id: uuid.UUID) -> bool:
    """End the session; False when it had already ended."""
    async with engine.begin() as conn:
        return await accounts.revoke_session(conn, user_id, session_id)


async def change_password(
    engine: AsyncEngine,
    throttle: LoginThrottle,
    client: Client,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    session_idle: dt.timedelta,
    current_password: str,
    new_password: str,
    keep_api_tokens: bool,
) -> PasswordChanged:
    """A new password, proven by the current one; every session but `session_id` is signed out, and the
    API tokens are revoked unless kept."""
    async with engine.connect() as conn:
        account = await accounts.user_with_password_hash(conn, user_id)
        if account is None:
            raise refused(RefusalCode.UNAUTHENTICATED, "Sign in first")
        # Guesses of the current password count like failed sign-ins by username, so a stolen session
        # gets no more guesses at the password than the login form gives anyone.
        login_key = normalize_login(account.username)
        wait = await _wait(conn, throttle, login_key, client)
    if wait is not None:
        raise _throttled(wait)
    if not await verify_password(account.password_hash, current_password):
        await _record_failure(engine, login_key, user_id, "wrong_current_password", client)
        raise refused(RefusalCode.INVALID_CREDENTIALS, "Wrong current password", "current_password")
    problem = password_problem(new_password, "new_password", account.username, account.email)
    if problem is None and new_password == current_password:
        problem = Problem("new_password", "invalid", "Choose a password different from the current one")
    if problem is not None:
        raise _problems_refused([problem])
    new_hash = await hash_password(new_password)
    async with engine.begin() as conn:
        user = await accounts.set_password_hash(conn, user_id, new_hash)
        signed_out = await accounts.revoke_other_sessions(conn, user_id, session_id, session_idle)
        revoked_tokens = 0 if keep_api_tokens else await accounts.revoke_all_api_tokens(conn, user_id)
    return PasswordChanged(user, signed_out, revoked_tokens)


async def create_api_token(
    engine: AsyncEngine,
    user_id: uuid.UUID,
    is_admin_account: bool,
    name: str,
    scopes: frozenset[str],
    expires_in_days: int,
    live_tokens_max: int,
) -> tuple[str, AnyRow]:
    """A new token with `scopes` (already expanded to the scopes they imply) and its secret."""
    name = name.strip()
    refusals = []
    if not 1 <= len(name) <= API_TOKEN_NAME_MAX:
        refusals.append(
            Refusal(RefusalCode.INVALID, f"A name is 1 to {API_TOKEN_NAME_MAX} characters", ("name",))
        )
    if not scopes:
        refusals.append(Refusal(RefusalCode.INVALID, "Give the token at least one scope", ("scopes",)))
    if ADMIN_SCOPE in scopes and not is_admin_account:
        refusals.append(Refusal(RefusalCode.FORBIDDEN, "Only admins may create ADMIN tokens", ("scopes",)))
    if not 1 <= expires_in_days <= API_TOKEN_MAX_DAYS:
        refusals.append(
            Refusal(RefusalCode.INVALID, f"Expiry is 1 to {API_TOKEN_MAX_DAYS} days", ("expires_in_days",))
        )
    if refusals:
        raise Refused(*refusals)
    async with engine.begin() as conn:
        if await accounts.count_live_api_tokens(conn, user_id) >= live_tokens_max:
            raise refused(RefusalCode.LIMIT_EXCEEDED, f"At most {live_tokens_max} live tokens")
        return await accounts.create_api_token(
            conn, user_id, name, sorted(scopes), dt.timedelta(days=expires_in_days)
        )


async def revoke_api_token(engine: AsyncEngine, user_id: uuid.UUID, token_id: uuid.UUID) -> AnyRow:
    async with engine.begin() as conn:
        row = await accounts.revoke_api_token(conn, user_id, token_id)
    if row is None:
        raise not_found("API token", "id")
    return row


async def revoke_session(engine: AsyncEngine, user_id: uuid.UUID, session_id: uuid.UUID) -> None:
    async with engine.begin() as conn:
        revoked = await accounts.revoke_session(conn, user_id, session_id)
    if not revoked:
        raise not_found("session", "id")


async def update_settings(engine: AsyncEngine, user_id: uuid.UUID, profile_visibility: str | None) -> AnyRow:
    """The user with the settings given changed; None leaves a setting as it is."""
    changes = {} if profile_visibility is None else {PROFILE_VISIBILITY_KEY: profile_visibility}
    async with engine.begin() as conn:
        return await accounts.update_settings(conn, user_id, changes)
