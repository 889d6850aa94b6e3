"""How long a sign-in must wait after recent failures: exponential back-off per (account, client
address), then a refusal until the oldest failure leaves the window (per (account, address) and per
address). Nobody else's failures lock the owner out, and nothing locks forever: every failure stops
counting `window` after it happened."""

import datetime as dt
import math
from dataclasses import dataclass

from db.login_events import RecentFailures


@dataclass(frozen=True)
class LoginThrottle:
    failures_per_account: int
    failures_per_ip: int
    window: dt.timedelta
    backoff_seconds: float


def retry_after_seconds(failures: RecentFailures, throttle: LoginThrottle) -> int | None:
    """Seconds the caller must wait before trying again, or None when it may try now."""
    waits: list[dt.timedelta] = []
    if failures.account_count >= throttle.failures_per_account and failures.account_oldest:
        waits.append(failures.account_oldest + throttle.window - failures.now)
    elif failures.account_count > 0 and failures.account_latest:
        backoff = dt.timedelta(seconds=throttle.backoff_seconds * 2 ** (failures.account_count - 1))
        waits.append(failures.account_latest + backoff - failures.now)
    if failures.ip_count >= throttle.failures_per_ip and failures.ip_oldest:
        waits.append(failures.ip_oldest + throttle.window - failures.now)
    longest = max(waits, default=dt.timedelta(0))
    return math.ceil(longest.total_seconds()) if longest > dt.timedelta(0) else None
