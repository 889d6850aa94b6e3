"""Database outages: requests get 503 with Retry-After and a SERVICE_UNAVAILABLE error, and the log
gets one line when the database goes away and one when it is back, not a traceback per request.

While down, a probe checks the database with back-off; the pool itself needs no help, since SQLAlchemy
discards every pooled connection older than the first one found dead (see db/availability.py)."""

import asyncio
import contextlib
import logging
import time

from graphql import GraphQLError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger("omnimediatrak.outage")

RETRY_AFTER_SECONDS = 2
SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
SERVICE_UNAVAILABLE_MESSAGE = f"The database is unavailable; retry in {RETRY_AFTER_SECONDS} s"
PROBE_INTERVALS_SECONDS = (0.25, 0.5, 1.0, 2.0)


def service_unavailable(error: GraphQLError) -> GraphQLError:
    """The error a client gets in place of one the database's absence caused."""
    return GraphQLError(
        SERVICE_UNAVAILABLE_MESSAGE,
        nodes=error.nodes,
        path=error.path,
        extensions={"code": SERVICE_UNAVAILABLE, "retryAfter": RETRY_AFTER_SECONDS},
    )


def service_unavailable_body() -> dict[str, object]:
    return {
        "message": SERVICE_UNAVAILABLE_MESSAGE,
        "extensions": {"code": SERVICE_UNAVAILABLE, "retryAfter": RETRY_AFTER_SECONDS},
    }


class DatabaseAvailability:
    """Whether the database is known to be down, and the task that finds out when it is back."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.down_since: float | None = None
        self._probe: asyncio.Task[None] | None = None

    @property
    def is_down(self) -> bool:
        return self.down_since is not None

    def failed(self, error: BaseException | None) -> None:
        if self.down_since is not None:
            return
        self.down_since = time.monotonic()
        log.warning("database unavailable (%s); answering 503 until it is back", describe(error))
        self._probe = asyncio.create_task(self._probe_until_back())

    async def _probe_until_back(self) -> None:
        attempt = 0
        while True:
            await asyncio.sleep(PROBE_INTERVALS_SECONDS[min(attempt, len(PROBE_INTERVALS_SECONDS) - 1)])
            attempt += 1
            try:
                async with self.engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
            except Exception:  # noqa: S112 (every failure means: still down)
                continue
            self.back()
            return

    def back(self) -> None:
        """The database answered (the probe, or a readiness check)."""
        if self.down_since is None:
            return
        log.warning("database available again after %.1f s", time.monotonic() - self.down_since)
        self.down_since = None
        if self._probe is not None and self._probe is not asyncio.current_task():
            self._probe.cancel()
        self._probe = None

    async def close(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe


def describe(error: BaseException | None) -> str:
    """The first line of the error, without a traceback: the outage is logged, not debugged."""
    if error is None:
        return "unknown cause"
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
