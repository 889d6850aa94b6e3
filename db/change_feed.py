"""The change feed: what the triggers of migration 0020 publish with pg_notify, and one listening
connection per server process that hands each change to a callback.

A notification is sent at commit, in commit order, and never for a rolled-back transaction. It
carries ids only; readers load the rows again. While the listening connection is down nothing is
received, so the listener reports the gap (`on_gap`) before listening again: subscribers then know
they may have missed changes.
"""

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.engine import make_url

log = logging.getLogger("omnimediatrak")

CHANNEL = "omnimediatrak_changes"
TOPICS = ("entries", "list_items", "list", "media", "media_links", "library_import", "credentials")
RECONNECT_BACKOFF_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0)
HEALTH_CHECK_SECONDS = 30.0


@dataclass(frozen=True)
class Change:
    """`topic` and `key` say whose change it is (a user for entries and credentials, a list for
    list_items and list, a job for library_import, none for media and media_links: relations and
    external links); `ids` are the rows (media ids for entries, list items, media and media_links;
    the owner for list and library_import)."""

    topic: str
    op: str
    key: uuid.UUID | None
    ids: tuple[uuid.UUID, ...]
    # What the readers of this one change share (their loaders: one read for all subscribers).
    shared: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def parse(cls, payload: str) -> "Change":
        data = json.loads(payload)
        if data["topic"] not in TOPICS:
            raise ValueError(f"unknown topic {data['topic']!r}")
        key = data["key"]
        return cls(
            data["topic"],
            data["op"],
            None if key is None else uuid.UUID(key),
            tuple(uuid.UUID(value) for value in data["ids"]),
        )


def listener_dsn(database_url: str) -> str:
    """The engine's URL (postgresql+asyncpg://...) as a DSN for asyncpg.connect."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class ChangeListener:
    """LISTEN on one dedicated connection (outside the pool), reconnecting with back-off when it is
    lost. `on_change` runs in the event loop for every notification, in the order they arrive."""

    def __init__(
        self,
        database_url: str,
        on_change: Callable[[Change], None],
        on_gap: Callable[[], None],
        connect_timeout_seconds: float = 5.0,
    ) -> None:
        self.dsn = listener_dsn(database_url)
        self.on_change = on_change
        self.on_gap = on_gap
        self.connect_timeout_seconds = connect_timeout_seconds
        self.listening = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="change-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _notified(self, connection: Any, pid: int, channel: str, payload: str) -> None:
        try:
            change = Change.parse(payload)
        except (ValueError, KeyError, TypeError):
            log.warning("ignored a malformed change notification")
            return
        self.on_change(change)

    async def _run(self) -> None:
        attempt = 0
        while True:
            try:
                await self._listen(attempt)
            except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                log.warning("change listener: %s", type(error).__name__)
            if self.listening.is_set():
                self.listening.clear()
                attempt = 0
                log.warning("lost the change listener's database connection; changes may have been missed")
                self.on_gap()
            await asyncio.sleep(RECONNECT_BACKOFF_SECONDS[min(attempt, len(RECONNECT_BACKOFF_SECONDS) - 1)])
            attempt += 1

    async def _listen(self, attempt: int) -> None:
        """Listen until the connection is lost."""
        lost = asyncio.Event()
        connection = await asyncpg.connect(
            self.dsn,
            timeout=self.connect_timeout_seconds,
            server_settings={"application_name": "omnimediatrak-listener"},
        )
        try:
            connection.add_termination_listener(lambda _: lost.set())
            await connection.add_listener(CHANNEL, self._notified)
            if attempt:
                log.info("listening for changes again")
            self.listening.set()
            while not lost.is_set():
                # A silent network loss closes nothing: ask now and then whether it still answers.
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(lost.wait(), HEALTH_CHECK_SECONDS)
                if not lost.is_set():
                    await connection.execute("SELECT 1", timeout=self.connect_timeout_seconds)
        finally:
            if not connection.is_closed():
                connection.terminate()
