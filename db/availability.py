"""Which failures mean "the database is unavailable" (down, restarting, unreachable, or the pool
exhausted) rather than a defect: the server answers those with 503 and Retry-After; and which mean
"this transaction lost a race and may simply run again"."""

from collections.abc import Iterator

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import exc as sa_exc

_UNAVAILABLE = (
    asyncpg.PostgresConnectionError,  # class 08: connection lost or refused
    asyncpg.AdminShutdownError,  # 57P01
    asyncpg.CrashShutdownError,  # 57P02
    asyncpg.CannotConnectNowError,  # 57P03: starting up, shutting down, in recovery
    asyncpg.TooManyConnectionsError,  # 53300
    ConnectionError,  # refused / reset on TCP
    FileNotFoundError,  # no unix socket: the server is not running
    sa_exc.TimeoutError,  # pool exhausted past its timeout
)


def _causes(error: BaseException | None) -> Iterator[BaseException]:
    """The error and what caused it, outermost first (each once: chains can loop)."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


def is_database_unavailable(error: BaseException | None) -> bool:
    return any(
        isinstance(cause, _UNAVAILABLE)
        or (isinstance(cause, sa_exc.DBAPIError) and cause.connection_invalidated)
        or (isinstance(cause, asyncpg.InterfaceError) and "connection is closed" in str(cause))
        for cause in _causes(error)
    )


# 40P01 and 40001: PostgreSQL rolled the transaction back to break a deadlock or a serialization
# conflict; the same work run again normally succeeds.
_TRANSIENT = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError)


def is_retryable(error: BaseException | None) -> bool:
    return any(isinstance(cause, _TRANSIENT) for cause in _causes(error))
