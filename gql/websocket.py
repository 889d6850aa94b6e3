"""graphql-transport-ws at /graphql: strawberry's protocol handler, with our sign-in, limits and the
registration of each connection in the process's ChangeHub (gql/live.py).

- `connection_init` carries `{"Authorization": "Bearer <token>"}` (sessions and API tokens, as over
  HTTP); none means anonymous. A credential that does not work closes the connection with 4403.
- Each user (anonymous clients: each IP) holds at most `max_connections_per_client` connections
  per process; the next one is closed with 4403 "Too many connections".
- Only subscriptions run over the WebSocket (queries and mutations go over HTTP, where the rate
  limit, sign-in throttling and response codes apply), and only subscriptions over it.
- A subscribe message is answered (its events start) before the next message is read, so a client's
  `ping` answered by `pong` means its earlier subscriptions receive changes.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    SubscribeMessage,
)
from strawberry.types.graphql import OperationType

from db.availability import is_database_unavailable
from gql.auth import Viewer, bearer_secret
from gql.context import Context
from gql.live import CLOSE_FORBIDDEN, CLOSE_TRY_AGAIN_LATER, LiveConnection

log = logging.getLogger("omnimediatrak")

# How long a subscribe message may take to start receiving changes before the next message is read.
SUBSCRIPTION_START_SECONDS = 10.0
# How long connection_init waits for the process to listen for changes (at start, after an outage).
LISTENER_WAIT_SECONDS = 5.0

Authenticate = Callable[[str], Awaitable[Viewer | None]]


class LiveTransportHandler(BaseGraphQLTransportWSHandler[Context, None]):
    authenticate: Authenticate

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        if self.connection_timed_out:
            return
        if self.connection_init_timeout_task:
            self.connection_init_timeout_task.cancel()
        payload = message.get("payload") or {}
        if not isinstance(payload, dict):
            await self.websocket.close(code=4400, reason="Invalid connection init payload")
            return
        if self.connection_init_received:
            await self.websocket.close(code=4429, reason="Too many initialisation requests")
            return
        self.connection_init_received = True
        context = self.context
        hub = context.hub
        assert hub is not None
        try:
            await asyncio.wait_for(hub.listening.wait(), LISTENER_WAIT_SECONDS)
        except TimeoutError:
            await self.websocket.close(code=CLOSE_TRY_AGAIN_LATER, reason="Not listening for changes yet")
            return
        authorization = next(
            (value for name, value in payload.items() if name.lower() == "authorization"), None
        )
        secret = None
        viewer = None
        if authorization is not None:
            secret = bearer_secret(authorization) if isinstance(authorization, str) else None
            try:
                viewer = None if secret is None else await self.authenticate(secret)
            except Exception as error:
                if not is_database_unavailable(error):
                    raise
                await self.websocket.close(code=CLOSE_TRY_AGAIN_LATER, reason="Database unavailable")
                return
            if viewer is None:
                log.info("client error: WebSocket connection_init with an invalid credential")
                await self.websocket.close(
                    code=CLOSE_FORBIDDEN, reason="Forbidden: invalid, expired or revoked token"
                )
                return
        client = context.request.client
        live = LiveConnection(
            client_key=str(viewer.user_id) if viewer else f"ip:{client.host if client else 'unknown'}",
            user_id=viewer.user_id if viewer else None,
            secret=secret,
            close=self.websocket.close,
        )
        if not hub.connect(live):
            log.info("client error: too many WebSocket connections")
            await self.websocket.close(code=CLOSE_FORBIDDEN, reason="Too many connections")
            return
        context.viewer = viewer
        context.live = live
        await self.send_message({"type": "connection_ack"})
        self.connection_acknowledged = True

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        live = self.context.live
        if live is not None:
            live.started.clear()
        await super().handle_subscribe(message)
        operation = self.operations.get(message.get("id", ""))
        if live is None or operation is None or operation.task is None:
            return
        started = asyncio.ensure_future(live.started.wait())
        with contextlib.suppress(Exception):
            await asyncio.wait(
                [started, operation.task],
                timeout=SUBSCRIPTION_START_SECONDS,
                return_when=asyncio.FIRST_COMPLETED,
            )
        started.cancel()

    async def shutdown(self) -> None:
        try:
            await super().shutdown()
        finally:
            hub, live = self.context.hub, self.context.live
            if hub is not None and live is not None:
                hub.disconnect(live)


class OperationsByTransport(SchemaExtension):
    """Subscriptions over the WebSocket only; queries and mutations over HTTP only."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if not context.pre_execution_errors:
            self._check(context)
        yield

    def _check(self, context: Any) -> None:
        over_websocket = getattr(context.context, "hub", None) is not None
        try:
            is_subscription = context.operation_type is OperationType.SUBSCRIPTION
        except Exception:  # no such operation: validation says so
            return
        if over_websocket and not is_subscription:
            context.pre_execution_errors = [
                GraphQLError(
                    "Only subscriptions run over the WebSocket; send queries and mutations over HTTP",
                    extensions={"code": "BAD_REQUEST"},
                )
            ]
        elif is_subscription and not over_websocket:
            context.pre_execution_errors = [
                GraphQLError(
                    "Subscriptions run over a WebSocket at /graphql (graphql-transport-ws)",
                    extensions={"code": "BAD_REQUEST"},
                )
            ]
