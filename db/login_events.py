"""Sign-in attempts (`auth.login_events`): every success and failure with its time, account, address
and user agent, and the counts login throttling decides on."""

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased

from db.models import LoginEvent

RATE_LIMITED_REASON = "rate_limited"


async def record_login_event(
    conn: AsyncConnection,
    login: str,
    user_id: uuid.UUID | None,
    success: bool,
    reason: str | None,
    ip: str | None,
    user_agent: str | None,
) -> None:
    await conn.execute(
        insert(LoginEvent).values(
            login=login, user_id=user_id, success=success, reason=reason, ip=ip, user_agent=user_agent
        )
    )


@dataclass(frozen=True)
class RecentFailures:
    """Failed sign-ins inside the throttling window, for the account named and for the client address."""

    now: dt.datetime
    account_count: int
    account_oldest: dt.datetime | None
    account_latest: dt.datetime | None
    ip_count: int
    ip_oldest: dt.datetime | None


async def recent_failures(
    conn: AsyncConnection,
    login: str,
    ip: str | None,
    window: dt.timedelta,
) -> RecentFailures:
    """One statement. An account's attempts are those naming the same login key (username or email,
    case-folded) from the same client address; they count since its last success there. Counting
    them per (account, address) keeps an attacker's failures from locking the owner out elsewhere;
    the per-address count bounds how many accounts one address can try. The username and the email
    of one account are counted apart on purpose: counting them together would refuse a guessed email
    after failures on a username, telling anyone whose email it is. Refused attempts (rate limited)
    never count, so a refusal always ends `window` after the last real failure."""

    def names_account(events: Any) -> ColumnElement[bool]:
        same_key: ColumnElement[bool] = events.login == login
        return same_key if ip is None else and_(same_key, events.ip == ip)

    successes = aliased(LoginEvent)
    last_success = (
        select(func.max(successes.event_time))
        .where(names_account(successes), successes.success, successes.event_time > func.now() - window)
        .scalar_subquery()
    )
    counted = and_(
        LoginEvent.success.is_(False),
        or_(LoginEvent.reason.is_(None), LoginEvent.reason != RATE_LIMITED_REASON),
    )
    account = and_(
        counted,
        names_account(LoginEvent),
        LoginEvent.event_time > func.coalesce(last_success, func.now() - window),
    )
    by_ip = and_(counted, LoginEvent.ip == ip) if ip is not None else false()
    row = (
        await conn.execute(
            select(
                func.now().label("now"),
                func.count().filter(account).label("account_count"),
                func.min(LoginEvent.event_time).filter(account).label("account_oldest"),
                func.max(LoginEvent.event_time).filter(account).label("account_latest"),
                func.count().filter(by_ip).label("ip_count"),
                func.min(LoginEvent.event_time).filter(by_ip).label("ip_oldest"),
            ).where(
                LoginEvent.event_time > func.now() - window,
                LoginEvent.ip == ip if ip is not None else names_account(LoginEvent),
            )
        )
    ).one()
    return RecentFailures(
        now=row.now,
        account_count=row.account_count,
        account_oldest=row.account_oldest,
        account_latest=row.account_latest,
        ip_count=row.ip_count,
        ip_oldest=row.ip_oldest,
    )
