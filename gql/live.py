"""Live connections and the fan-out of changes to their subscriptions, in one server process.

The process has one `ChangeListener` (db/change_feed.py); every change it receives is routed here,
synchronously and in commit order, into the bounded queues of the subscriptions that asked for it.
Routing never waits: a subscription whose queue is full has fallen behind (its client does not read)
and its connection is closed, so one slow client never holds up the others.

Delivery is at most once while a connection is open: when the listener loses its database
connection, every live connection is closed (1012, service restart) so clients reconnect and fetch
again what they show. A credential change (logout, revocation, password change, expiry, a deleted
account) suspends the owner's connections at once, in the same order as the changes, until the
credential has been checked again; a credential that no longer works closes them with 4403.
"""

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from db.change_feed import Change

log = logging.getLogger("omnimediatrak")

K = TypeVar("K")
V = TypeVar("V")

# graphql-transport-ws and RFC 6455 close codes the server uses.
CLOSE_FORBIDDEN = 4403
CLOSE_SERVICE_RESTART = 1012
CLOSE_TRY_AGAIN_LATER = 1013
# Of a pool of OMT_DB_POOL_SIZE (10) connections that requests need too.
CONCURRENT_CREDENTIAL_CHECKS = 2

Topic = tuple[str, uuid.UUID | None]
EVERY_MEDIA: Topic = ("media", None)


def entries_topic(user_id: uuid.UUID) -> Topic:
    return ("entries", user_id)


def list_topic(list_id: uuid.UUID) -> Topic:
    return ("list", list_id)


def media_topic(media_id: uuid.UUID) -> Topic:
    return ("media", media_id)


def library_import_topic(job_id: uuid.UUID) -> Topic:
    return ("library_import", job_id)


def topics_of(change: Change) -> Iterator[Topic]:
    if change.topic == "entries" and change.key is not None:
        yield entries_topic(change.key)
    elif change.topic in ("list", "list_items") and change.key is not None:
        yield list_topic(change.key)
    elif change.topic == "library_import" and change.key is not None:
        yield library_import_topic(change.key)
    elif change.topic in ("media", "media_links"):
        yield EVERY_MEDIA
        for media_id in change.ids:
            yield media_topic(media_id)


@dataclass(eq=False)
class LiveConnection:
    """A graphql-transport-ws connection after `connection_init`: who it is, and how to close it."""

    client_key: str
    user_id: uuid.UUID | None
    secret: str | None
    close: Callable[[int, str], Awaitable[None]]
    authorised: asyncio.Event = field(default_factory=asyncio.Event)
    # Set by a subscription once it receives changes (see LiveTransportHandler.handle_subscribe).
    started: asyncio.Event = field(default_factory=asyncio.Event)
    closing: bool = False

    def __post_init__(self) -> None:
        self.authorised.set()


@dataclass(eq=False)
class Subscriber:
    connection: LiveConnection
    queue: asyncio.Queue[Change]
    # A subscriber told only "something may have changed" loses nothing when a change is dropped.
    coalesce: bool
    topics: list[Topic] = field(default_factory=list)


class ChangeHub:
    def __init__(
        self,
        max_connections_per_client: int,
        queue_size: int,
        check_credential: Callable[[str], Awaitable[bool]],
        recheck_seconds: float,
    ) -> None:
        self.max_connections_per_client = max_connections_per_client
        self.queue_size = queue_size
        self.check_credential = check_credential
        self.recheck_seconds = recheck_seconds
        self.subscribers: dict[Topic, set[Subscriber]] = {}
        self.connections: dict[str, set[LiveConnection]] = {}
        self.by_user: dict[uuid.UUID, set[LiveConnection]] = {}
        # Set while the process's ChangeListener listens: connections wait for it (none miss changes).
        self.listening = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._checks = asyncio.Semaphore(CONCURRENT_CREDENTIAL_CHECKS)
        self._recheck_task: asyncio.Task[None] | None = None

    # --- connections ----------------------------------------------------------------------------

    def connect(self, connection: LiveConnection) -> bool:
        """Register a connection; False when its user (or anonymous IP) has too many already."""
        same_client = self.connections.setdefault(connection.client_key, set())
        if len(same_client) >= self.max_connections_per_client:
            return False
        same_client.add(connection)
        if connection.user_id is not None:
            self.by_user.setdefault(connection.user_id, set()).add(connection)
        return True

    def disconnect(self, connection: LiveConnection) -> None:
        connection.closing = True
        _discard(self.connections, connection.client_key, connection)
        if connection.user_id is not None:
            _discard(self.by_user, connection.user_id, connection)

    def close(self, connection: LiveConnection, code: int, reason: str) -> None:
        """Close from outside the connection's own task (never waits for a stuck client)."""
        if connection.closing:
            return
        connection.closing = True
        self._spawn(self._close(connection, code, reason))

    async def _close(self, connection: LiveConnection, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            await connection.close(code, reason)

    def close_all(self, code: int, reason: str) -> None:
        for same_client in list(self.connections.values()):
            for connection in list(same_client):
                self.close(connection, code, reason)

    # --- subscriptions --------------------------------------------------------------------------

    @contextlib.contextmanager
    def subscribe(
        self, connection: LiveConnection, topics: Iterable[Topic], coalesce: bool = False
    ) -> Iterator[Subscriber]:
        subscriber = Subscriber(connection, asyncio.Queue(self.queue_size), coalesce)
        for topic in topics:
            self.watch(subscriber, topic)
        connection.started.set()
        try:
            yield subscriber
        finally:
            for topic in subscriber.topics:
                _discard(self.subscribers, topic, subscriber)

    def watch(self, subscriber: Subscriber, topic: Topic) -> None:
        if topic not in subscriber.topics:
            subscriber.topics.append(topic)
            self.subscribers.setdefault(topic, set()).add(subscriber)

    def publish(self, change: Change) -> None:
        """Route one change (called by the listener, in commit order)."""
        if change.topic == "credentials":
            if change.key is not None:
                for connection in list(self.by_user.get(change.key, ())):
                    self._recheck(connection)
            return
        delivered: set[int] = set()
        for topic in topics_of(change):
            for subscriber in list(self.subscribers.get(topic, ())):
                if id(subscriber) in delivered:
                    continue
                delivered.add(id(subscriber))
                try:
                    subscriber.queue.put_nowait(change)
                except asyncio.QueueFull:
                    if not subscriber.coalesce:
                        log.info("closed a WebSocket connection that fell behind its subscriptions")
                        self.close(
                            subscriber.connection, CLOSE_TRY_AGAIN_LATER, "Too slow: changes were dropped"
                        )

    def gap(self) -> None:
        """Changes may have been missed: clients reconnect and fetch again."""
        self.close_all(CLOSE_SERVICE_RESTART, "Changes may have been missed; reconnect and refetch")

    # --- credentials ----------------------------------------------------------------------------

    def _recheck(self, connection: LiveConnection) -> None:
        """After a credential change of the user: hold the connection's events until checked."""
        if connection.secret is None or connection.closing:
            return
        connection.authorised.clear()
        self._spawn(self._check(connection.secret, [connection]))

    async def _check(self, secret: str, connections: list[LiveConnection]) -> None:
        """One check for the connections sharing one credential, a few checks at a time, so a sweep
        over thousands of connections never drains the pool."""
        try:
            async with self._checks:
                still_valid = await self.check_credential(secret)
        except Exception as error:
            log.warning(
                "could not check a WebSocket connection's credential again (%s)", type(error).__name__
            )
            for connection in connections:
                self.close(connection, CLOSE_TRY_AGAIN_LATER, "Could not check the credential; reconnect")
            return
        for connection in connections:
            if still_valid:
                connection.authorised.set()
            else:
                self.close(connection, CLOSE_FORBIDDEN, "The credential was revoked or expired")

    async def _recheck_periodically(self) -> None:
        """Credentials also end without a write (expiry, idle timeout). Events keep flowing meanwhile:
        an expiry has no place in the order of changes."""
        while True:
            await asyncio.sleep(self.recheck_seconds)
            by_secret: dict[str, list[LiveConnection]] = {}
            for same_user in list(self.by_user.values()):
                for connection in same_user:
                    if connection.secret is not None and not connection.closing:
                        by_secret.setdefault(connection.secret, []).append(connection)
            for secret, sharing in by_secret.items():
                await self._check(secret, sharing)

    def start(self) -> None:
        self._recheck_task = asyncio.create_task(self._recheck_periodically(), name="credential-recheck")

    async def stop(self) -> None:
        if self._recheck_task is not None:
            self._recheck_task.cancel()
        for task in [*self._tasks, *([self._recheck_task] if self._recheck_task else [])]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def _spawn(self, coroutine: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _discard(index: dict[K, set[V]], key: K, value: V) -> None:
    members = index.get(key)
    if members is not None:
        members.discard(value)
        if not members:
            del index[key]
