"""Users, sessions and API tokens. Secrets are random and stored only as SHA-256 hashes;
authorization is the caller's job, but every write here is also scoped by user id in SQL."""

import datetime as dt
import hashlib
import secrets
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import (
    ColumnElement,
    Interval,
    LargeBinary,
    Row,
    Uuid,
    and_,
    any_,
    bindparam,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from db.batch import text_keys, uuid_keys
from db.direct import DirectStatement
from db.models import ApiToken, Session, User

SESSION_PREFIX = "omts_"
API_TOKEN_PREFIX = "omtk_"

AnyRow = Row[*tuple[Any, ...]]


class UserRow(Protocol):
    """A user as `user_columns` reads it (the batch functions' rows have these attributes)."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def email(self) -> str: ...
    @property
    def username(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def settings(self) -> dict[str, Any]: ...
    @property
    def created_at(self) -> dt.datetime: ...
    @property
    def updated_at(self) -> dt.datetime: ...


class SessionRow(Protocol):
    """A sign-in session as `session_columns` reads it."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def user_id(self) -> uuid.UUID: ...
    @property
    def created_at(self) -> dt.datetime: ...
    @property
    def last_seen_at(self) -> dt.datetime: ...
    @property
    def expires_at(self) -> dt.datetime: ...
    @property
    def ip(self) -> str | None: ...
    @property
    def user_agent(self) -> str | None: ...


class ApiTokenRow(Protocol):
    """An API token as `api_token_columns` reads it."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def user_id(self) -> uuid.UUID: ...
    @property
    def name(self) -> str: ...
    @property
    def scopes(self) -> list[str]: ...
    @property
    def created_at(self) -> dt.datetime: ...
    @property
    def expires_at(self) -> dt.datetime | None: ...
    @property
    def last_used_at(self) -> dt.datetime | None: ...
    @property
    def revoked_at(self) -> dt.datetime | None: ...


def new_secret(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)  # 256 bits


def hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


@dataclass(frozen=True)
class Credential:
    user_id: uuid.UUID
    role: str
    scopes: frozenset[str]
    session_id: uuid.UUID | None
    token_id: uuid.UUID | None
    # The user's row as `users_by_ids` reads it (and more columns): read with the credential, so a
    # query's `viewer` costs no statement of its own.
    user_row: UserRow | None = field(default=None, compare=False, repr=False)


user_columns = (
    User.id,
    User.email,
    User.username,
    User.role,
    User.settings,
    User.created_at,
    User.updated_at,
)
session_columns = (
    Session.id,
    Session.user_id,
    Session.created_at,
    Session.last_seen_at,
    Session.expires_at,
    Session.ip,
    Session.user_agent,
)
api_token_columns = (
    ApiToken.id,
    ApiToken.user_id,
    ApiToken.name,
    ApiToken.scopes,
    ApiToken.created_at,
    ApiToken.expires_at,
    ApiToken.last_used_at,
    ApiToken.revoked_at,
)


async def create_session(
    conn: AsyncConnection,
    user_id: uuid.UUID,
    lifetime: dt.timedelta,
    ip: str | None = None,
    user_agent: str | None = None,
) -> tuple[str, uuid.UUID]:
    """A new session; `lifetime` is its absolute expiry (idle expiry is checked on use)."""
    secret = new_secret(SESSION_PREFIX)
    session_id = (
        await conn.execute(
            insert(Session)
            .values(
                user_id=user_id,
                token_hash=hash_secret(secret),
                expires_at=func.now() + lifetime,
                ip=ip,
                user_agent=user_agent,
            )
            .returning(Session.id)
        )
    ).scalar_one()
    return secret, session_id


LAST_USE_RESOLUTION = dt.timedelta(hours=1)


def _stale(last_use: Any) -> ColumnElement[bool]:
    return or_(last_use.is_(None), last_use < func.now() - LAST_USE_RESOLUTION)


def _token_by_digest() -> Any:
    return (
        select(
            *user_columns,
            ApiToken.id.label("credential_id"),
            ApiToken.scopes,
            _stale(ApiToken.last_used_at).label("stale"),
        )
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == bindparam("digest", type_=LargeBinary), api_token_is_live())
    )


TOKEN_USED = (
    update(ApiToken).where(ApiToken.id == bindparam("token_id", type_=Uuid)).values(last_used_at=func.now())
)


def _session_by_digest() -> Any:
    idle = bindparam("session_idle", type_=Interval)
    return (
        select(
            *user_columns,
            Session.id.label("credential_id"),
            _stale(Session.last_seen_at).label("stale"),
        )
        .join(User, User.id == Session.user_id)
        .where(Session.token_hash == bindparam("digest", type_=LargeBinary), session_is_live(idle))
    )


SESSION_SEEN = (
    update(Session).where(Session.id == bindparam("session_id", type_=Uuid)).values(last_seen_at=func.now())
)


async def credential_for_secret(
    conn: AsyncConnection, secret: str, session_idle: dt.timedelta
) -> Credential | None:
    """Resolve a bearer secret to a live session or API token. Its last use is written at most once
    per LAST_USE_RESOLUTION, so plain reads do not write (and could go to a replica). Every request
    runs this: its statements are built once, at import."""
    digest = hash_secret(secret)
    if secret.startswith(API_TOKEN_PREFIX):
        row = next(iter(await TOKEN_BY_DIGEST.fetch(conn, {"digest": digest})), None)
        if row is None:
            return None
        if row.stale:
            await conn.execute(TOKEN_USED, {"token_id": row.credential_id})
        return Credential(row.id, row.role, frozenset(row.scopes), None, row.credential_id, row)
    session_row = next(
        iter(await SESSION_BY_DIGEST.fetch(conn, {"digest": digest, "session_idle": session_idle})), None
    )
    if session_row is None:
        return None
    if session_row.stale:
        await conn.execute(SESSION_SEEN, {"session_id": session_row.credential_id})
    scopes = {"READ", "WRITE"} | ({"ADMIN"} if session_row.role == "admin" else set())
    return Credential(
        session_row.id, session_row.role, frozenset(scopes), session_row.credential_id, None, session_row
    )


async def user_id_by_username(conn: AsyncConnection, username: str) -> uuid.UUID | None:
    return (
        await conn.execute(select(User.id).where(func.lower(User.username) == username.lower()))
    ).scalar_one_or_none()


async def find_user_id(engine: AsyncEngine, username: str) -> uuid.UUID | None:
    async with engine.connect() as conn:
        return await user_id_by_username(conn, username)


USERS_BY_IDS = select(*user_columns).where(User.id == any_(uuid_keys()))
USERS_BY_FOLDED_NAMES = select(*user_columns).where(func.lower(User.username) == any_(text_keys()))


async def users_by_ids(conn: AsyncConnection, ids: Sequence[uuid.UUID]) -> list[UserRow | None]:
    rows = (await conn.execute(USERS_BY_IDS, {"keys": list(ids)})).all()
    by_id = {row.id: row for row in rows}
    return [by_id.get(user_id) for user_id in ids]


async def users_by_usernames(conn: AsyncConnection, usernames: Sequence[str]) -> list[UserRow | None]:
    """Users by case-insensitive username, in key order."""
    folded = [username.lower() for username in usernames]
    rows = (await conn.execute(USERS_BY_FOLDED_NAMES, {"keys": folded})).all()
    by_name = {row.username.lower(): row for row in rows}
    return [by_name.get(name) for name in folded]


async def create_user(
    conn: AsyncConnection, email: str, username: str, password_hash: str, role: str = "user"
) -> AnyRow | None:
    """Insert a user; None when the email or the username (case-insensitively) is taken."""
    return (
        await conn.execute(
            pg_insert(User)
            .values(email=email, username=username, password_hash=password_hash, role=role)
            .on_conflict_do_nothing()
            .returning(*user_columns)
        )
    ).first()


async def taken_fields(conn: AsyncConnection, email: str, username: str) -> list[str]:
    row = (
        await conn.execute(
            select(
                func.bool_or(User.email == email).label("email"),
                func.bool_or(func.lower(User.username) == username.lower()).label("username"),
            ).where(or_(User.email == email, func.lower(User.username) == username.lower()))
        )
    ).one()
    return [name for name in ("email", "username") if getattr(row, name)]


async def user_for_login(conn: AsyncConnection, login: str) -> AnyRow | None:
    """The account a sign-in names by email or by username (`login` already normalised), with its
    password hash."""
    return (
        await conn.execute(
            select(*user_columns, User.password_hash)
            .where(or_(User.email == login, func.lower(User.username) == login))
            .limit(1)
        )
    ).first()


async def user_with_password_hash(conn: AsyncConnection, user_id: uuid.UUID) -> AnyRow | None:
    return (await conn.execute(select(*user_columns, User.password_hash).where(User.id == user_id))).first()


async def set_password_hash(conn: AsyncConnection, user_id: uuid.UUID, password_hash: str) -> AnyRow:
    """The user with the new hash."""
    return (
        await conn.execute(
            update(User)
            .where(User.id == user_id)
            .values(password_hash=password_hash, updated_at=func.now())
            .returning(*user_columns)
        )
    ).one()


async def update_settings(conn: AsyncConnection, user_id: uuid.UUID, changes: dict[str, Any]) -> AnyRow:
    return (
        await conn.execute(
            update(User)
            .where(User.id == user_id)
            .values(
                settings=User.settings.op("||")(literal(changes, User.settings.type)), updated_at=func.now()
            )
            .returning(*user_columns)
        )
    ).one()


async def revoke_session(conn: AsyncConnection, user_id: uuid.UUID, session_id: uuid.UUID) -> bool:
    result = await conn.execute(
        update(Session)
        .where(Session.id == session_id, Session.user_id == user_id, Session.revoked_at.is_(None))
        .values(revoked_at=func.now())
        .returning(Session.id)
    )
    return result.first() is not None


async def revoke_other_sessions(
    conn: AsyncConnection, user_id: uuid.UUID, keep: uuid.UUID | None, session_idle: dt.timedelta
) -> int:
    """Sign out the user's sessions that still work, except `keep`; how many."""
    result = await conn.execute(
        update(Session)
        .where(
            Session.user_id == user_id,
            session_is_live(session_idle),
            Session.id != keep if keep is not None else literal(True),
        )
        .values(revoked_at=func.now())
        .returning(Session.id)
    )
    return len(result.all())


def session_is_live(session_idle: dt.timedelta | ColumnElement[dt.timedelta]) -> ColumnElement[bool]:
    """A session that still signs its owner in: not revoked, not past its absolute expiry, not idle
    longer than `session_idle`."""
    return and_(
        Session.revoked_at.is_(None),
        Session.expires_at > func.now(),
        Session.last_seen_at > func.now() - session_idle,
    )


async def sessions_by_user_ids(
    conn: AsyncConnection, user_ids: Sequence[uuid.UUID], session_idle: dt.timedelta
) -> list[list[SessionRow]]:
    """Each user's live sessions, most recent use first."""
    rows = (
        await conn.execute(
            select(*session_columns)
            .where(Session.user_id.in_(user_ids), session_is_live(session_idle))
            .order_by(Session.last_seen_at.desc(), Session.id)
        )
    ).all()
    grouped: dict[uuid.UUID, list[SessionRow]] = defaultdict(list)
    for row in rows:
        grouped[row.user_id].append(row)
    return [grouped[user_id] for user_id in user_ids]


async def sessions_by_ids(
    conn: AsyncConnection, ids: Sequence[uuid.UUID], session_idle: dt.timedelta
) -> list[SessionRow | None]:
    """Live sessions by id, in key order: exactly those `sessions_by_user_ids` lists."""
    rows = (
        await conn.execute(select(*session_columns).where(Session.id.in_(ids), session_is_live(session_idle)))
    ).all()
    by_id = {row.id: row for row in rows}
    return [by_id.get(session_id) for session_id in ids]


async def create_api_token(
    conn: AsyncConnection, user_id: uuid.UUID, name: str, scopes: Sequence[str], lifetime: dt.timedelta
) -> tuple[str, AnyRow]:
    secret = new_secret(API_TOKEN_PREFIX)
    row = (
        await conn.execute(
            insert(ApiToken)
            .values(
                user_id=user_id,
                name=name,
                token_hash=hash_secret(secret),
                scopes=list(scopes),
                expires_at=func.now() + lifetime,
            )
            .returning(*api_token_columns)
        )
    ).one()
    return secret, row


def api_token_is_live() -> ColumnElement[bool]:
    """Not revoked and not expired: a token that authenticates, the only kind its owner sees listed."""
    return and_(
        ApiToken.revoked_at.is_(None), or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > func.now())
    )


async def count_live_api_tokens(conn: AsyncConnection, user_id: uuid.UUID) -> int:
    return int(
        (
            await conn.execute(
                select(func.count())
                .select_from(ApiToken)
                .where(ApiToken.user_id == user_id, api_token_is_live())
            )
        ).scalar_one()
    )


async def revoke_api_token(conn: AsyncConnection, user_id: uuid.UUID, token_id: uuid.UUID) -> AnyRow | None:
    """Revoke one of this user's live tokens; None when the user has no such token."""
    return (
        await conn.execute(
            update(ApiToken)
            .where(ApiToken.id == token_id, ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=func.now())
            .returning(*api_token_columns)
        )
    ).first()


async def revoke_all_api_tokens(conn: AsyncConnection, user_id: uuid.UUID) -> int:
    """Revoke the user's tokens that still work; how many."""
    result = await conn.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, api_token_is_live())
        .values(revoked_at=func.now())
        .returning(ApiToken.id)
    )
    return len(result.all())


async def api_tokens_by_user_ids(
    conn: AsyncConnection, user_ids: Sequence[uuid.UUID]
) -> list[list[ApiTokenRow]]:
    """Each user's tokens that still work, newest first."""
    rows = (
        await conn.execute(
            select(*api_token_columns)
            .where(ApiToken.user_id.in_(user_ids), api_token_is_live())
            .order_by(ApiToken.created_at.desc(), ApiToken.id)
        )
    ).all()
    grouped: dict[uuid.UUID, list[ApiTokenRow]] = defaultdict(list)
    for row in rows:
        grouped[row.user_id].append(row)
    return [grouped[user_id] for user_id in user_ids]


async def api_tokens_by_ids(conn: AsyncConnection, ids: Sequence[uuid.UUID]) -> list[ApiTokenRow | None]:
    """Working tokens by id, in key order: exactly those `api_tokens_by_user_ids` lists."""
    rows = (
        await conn.execute(select(*api_token_columns).where(ApiToken.id.in_(ids), api_token_is_live()))
    ).all()
    by_id = {row.id: row for row in rows}
    return [by_id.get(token_id) for token_id in ids]


PROFILE_VISIBILITY_KEY = "profile_visibility"
PROFILE_VISIBILITY_PUBLIC = "public"


def profile_is_public() -> ColumnElement[bool]:
    """PRIVATE is the default: only an explicit PUBLIC setting opens a profile."""
    return func.coalesce(User.settings[PROFILE_VISIBILITY_KEY].astext == PROFILE_VISIBILITY_PUBLIC, False)


# Every signed-in request: run by asyncpg directly (db/direct.py).
TOKEN_BY_DIGEST = DirectStatement(_token_by_digest())
SESSION_BY_DIGEST = DirectStatement(_session_by_digest())
