"""Users, sessions and API tokens. Secrets are random and stored only as SHA-256 hashes."""

import datetime as dt
import hashlib
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from db.models import ApiToken, Session, User

SESSION_PREFIX = "omts_"
API_TOKEN_PREFIX = "omtk_"


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


async def create_session(
    conn: AsyncConnection,
    user_id: uuid.UUID,
    lifetime: dt.timedelta,
    ip: str | None = None,
    user_agent: str | None = None,
) -> tuple[str, uuid.UUID]:
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


async def credential_for_secret(
    conn: AsyncConnection, secret: str, session_idle: dt.timedelta
) -> Credential | None:
    """Resolve a bearer secret to a live session or API token, and record its use (one statement each)."""
    digest = hash_secret(secret)
    if secret.startswith(API_TOKEN_PREFIX):
        row = (
            await conn.execute(
                update(ApiToken)
                .where(
                    ApiToken.token_hash == digest,
                    ApiToken.revoked_at.is_(None),
                    or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > func.now()),
                    ApiToken.user_id == User.id,
                )
                .values(last_used_at=func.now())
                .returning(ApiToken.id, ApiToken.user_id, ApiToken.scopes, User.role)
            )
        ).first()
        if row is None:
            return None
        return Credential(row.user_id, row.role, frozenset(row.scopes), None, row.id)
    session_row = (
        await conn.execute(
            update(Session)
            .where(
                Session.token_hash == digest,
                Session.revoked_at.is_(None),
                Session.expires_at > func.now(),
                Session.last_seen_at > func.now() - session_idle,
                Session.user_id == User.id,
            )
            .values(last_seen_at=func.now())
            .returning(Session.id, Session.user_id, User.role)
        )
    ).first()
    if session_row is None:
        return None
    scopes = {"READ", "WRITE"} | ({"ADMIN"} if session_row.role == "admin" else set())
    return Credential(session_row.user_id, session_row.role, frozenset(scopes), session_row.id, None)


async def user_id_by_username(conn: AsyncConnection, username: str) -> uuid.UUID | None:
    return (
        await conn.execute(select(User.id).where(func.lower(User.username) == username.lower()))
    ).scalar_one_or_none()
