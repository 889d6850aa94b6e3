"""Abuse resistance around /graphql: request body size, per-client rate limit, query cost.

Tokens (graphql-core's parser), depth and aliases (strawberry's rules) and the cost estimate are
checked once per query text (gql/documents.py). Statement timeouts and the bounded pool live in db/engine.py.
"""

import ctypes
import hashlib
import json
import math
import multiprocessing
import secrets
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLList,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_composite_type,
    value_from_ast_untyped,
)
from graphql.type import GraphQLInterfaceType
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULT_LIST_SIZE = 20


def error_body(message: str, code: str) -> bytes:
    return json.dumps({"errors": [{"message": message, "extensions": {"code": code}}]}).encode()


async def send_error(
    send: Send, status: int, message: str, code: str, headers: Mapping[str, str] | None = None
) -> None:
    body = error_body(message, code)
    raw_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *((name.lower().encode(), value.encode()) for name, value in (headers or {}).items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


class BodySizeLimit:
    """Refuses bodies above `max_bytes` with 413 before anything parses them.

    The body is read (at most max_bytes + 1) and replayed to the app, so a chunked upload without
    Content-Length is bounded too.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, max_upload_bytes: int | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_upload_bytes = max_upload_bytes

    def limit_for(self, scope: Scope) -> int:
        """multipart/form-data (a file upload) may be larger when max_upload_bytes is set."""
        content_type = dict(scope["headers"]).get(b"content-type", b"").split(b";")[0].strip().lower()
        if self.max_upload_bytes is not None and content_type == b"multipart/form-data":
            return self.max_upload_bytes
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.limit_for(scope)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            await self._refuse(send, max_bytes)
            return
        chunks: list[bytes] = []
        size = 0
        more_body = True
        while more_body:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > max_bytes:
                await self._refuse(send, max_bytes)
                return
            chunks.append(chunk)
            more_body = message.get("more_body", False)
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send, max_bytes: int) -> None:
        await send_error(
            send,
            413,
            f"Request body larger than {max_bytes} bytes",
            "PAYLOAD_TOO_LARGE",
        )


class RateLimiter:
    """A token bucket per client key, shared by every worker process of one server.

    The buckets live in shared memory made before the workers are spawned (they inherit it with the
    lock), so `per_minute` holds across workers. A fixed table: a client hashes (keyed, so nobody can
    aim at another client's slot) to a window of `PROBES` slots; when that window is full, the bucket
    used least recently in it is taken over, and that client starts with a full bucket again.
    """

    SLOTS = 1 << 17
    PROBES = 16

    def __init__(self, per_minute: int) -> None:
        spawn = multiprocessing.get_context("spawn")
        self.capacity = float(per_minute)
        self.refill_per_second = per_minute / 60.0
        self._hash_key = secrets.token_bytes(16)
        self._lock = spawn.Lock()
        self._clients = spawn.RawArray(ctypes.c_uint64, self.SLOTS)
        self._tokens = spawn.RawArray(ctypes.c_double, self.SLOTS)
        self._updated = spawn.RawArray(ctypes.c_double, self.SLOTS)

    def acquire(self, client: str, now: float | None = None) -> float:
        """Take one token; return 0 when allowed, else the seconds until a token is available."""
        # CLOCK_MONOTONIC is one clock for every process of the machine.
        now = time.monotonic() if now is None else now
        key = int.from_bytes(hashlib.blake2b(client.encode(), digest_size=8, key=self._hash_key).digest()) | 1
        with self._lock:
            slot = self._slot(key, now)
            tokens = min(
                self.capacity, self._tokens[slot] + (now - self._updated[slot]) * self.refill_per_second
            )
            self._updated[slot] = now
            if tokens >= 1:
                self._tokens[slot] = tokens - 1
                return 0.0
            self._tokens[slot] = tokens
            return (1 - tokens) / self.refill_per_second

    def _slot(self, key: int, now: float) -> int:
        least_recent = first = key % self.SLOTS
        for probe in range(self.PROBES):
            slot = (first + probe) % self.SLOTS
            if self._clients[slot] == key:
                return slot
            if self._clients[slot] == 0:
                least_recent = slot
                break
            if self._updated[slot] < self._updated[least_recent]:
                least_recent = slot
        self._clients[least_recent] = key
        self._tokens[least_recent] = self.capacity
        self._updated[least_recent] = now
        return least_recent


def rate_limiter(per_minute: int) -> RateLimiter | None:
    """The limiter for OMT_RATE_LIMIT_PER_MINUTE; None when it is 0 (off)."""
    return RateLimiter(per_minute) if per_minute > 0 else None


class RateLimit:
    """429 with Retry-After once a client IP has spent its bucket (a WebSocket handshake: 403). Behind a proxy, the client IP is
    the one uvicorn takes from X-Forwarded-For of a trusted proxy (OMT_TRUSTED_PROXIES)."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter | None) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.limiter is not None and scope["type"] in ("http", "websocket"):
            client = scope.get("client")
            wait = self.limiter.acquire(client[0] if client else "unknown")
            if wait > 0 and scope["type"] == "websocket":
                # Closed before the handshake is accepted: the client gets HTTP 403.
                await send({"type": "websocket.close", "code": 1013, "reason": "Too many requests"})
                return
            if wait > 0:
                retry_after = max(1, math.ceil(wait))
                await send_error(
                    send,
                    429,
                    f"Too many requests; retry in {retry_after} s",
                    "RATE_LIMITED",
                    {"Retry-After": str(retry_after)},
                )
                return
        await self.app(scope, receive, send)


class QueryCostExceeded(GraphQLError):
    def __init__(self, cost: int, max_cost: int) -> None:
        super().__init__(
            f"Query cost {cost} exceeds the maximum of {max_cost} (estimated objects: a list field"
            f" multiplies its subtree by `first`, default {DEFAULT_LIST_SIZE}); ask for smaller pages",
            extensions={"code": "QUERY_TOO_COSTLY", "cost": cost, "maxCost": max_cost},
        )


@dataclass
class CostEstimator:
    """Estimated objects a query returns.

    A field with a `first` argument (a connection) counts as one object and multiplies everything
    below it by `first` (its default when omitted, else DEFAULT_LIST_SIZE); the `edges` / `nodes`
    lists of a connection are already counted by that. Any other list of objects multiplies by
    DEFAULT_LIST_SIZE. Scalars and introspection are free.
    """

    schema: GraphQLSchema
    fragments: dict[str, FragmentDefinitionNode]
    variables: Mapping[str, Any]

    def selection_cost(
        self, selection_set: SelectionSetNode | None, parent: GraphQLNamedType | None, multiplier: int
    ) -> int:
        if selection_set is None:
            return 0
        return sum(
            self.field_cost(field, field_parent, multiplier)
            for field, field_parent in self._fields(selection_set, parent, frozenset())
        )

    def field_cost(self, node: FieldNode, parent: GraphQLNamedType | None, multiplier: int) -> int:
        name = node.name.value
        if name.startswith("__"):
            return 0
        definition = self._definition(parent, name)
        if definition is None:
            return multiplier if node.selection_set else 0
        named = get_named_type(definition.type)
        if not is_composite_type(named):
            return 0
        if "first" in definition.args:
            return multiplier + self.selection_cost(
                node.selection_set, named, multiplier * self._first(node, definition)
            )
        if isinstance(get_nullable_type(definition.type), GraphQLList) and not _is_connection(parent):
            multiplier *= DEFAULT_LIST_SIZE
        return multiplier + self.selection_cost(node.selection_set, named, multiplier)

    def _first(self, node: FieldNode, definition: GraphQLField) -> int:
        argument = next((arg for arg in node.arguments or () if arg.name.value == "first"), None)
        value: Any = None
        if argument is not None:
            if isinstance(argument.value, VariableNode):
                value = self.variables.get(argument.value.name.value)
            elif isinstance(argument.value, IntValueNode):
                value = int(argument.value.value)
        if value is None:
            value = definition.args["first"].default_value
        return value if isinstance(value, int) and value > 0 else DEFAULT_LIST_SIZE

    def _definition(self, parent: GraphQLNamedType | None, name: str) -> GraphQLField | None:
        if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            field: GraphQLField | None = parent.fields.get(name)
            return field
        return None

    def _fields(
        self,
        selection_set: SelectionSetNode,
        parent: GraphQLNamedType | None,
        visited: frozenset[str],
    ) -> Iterator[tuple[FieldNode, GraphQLNamedType | None]]:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                yield selection, parent
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                yield from self._fields(
                    selection.selection_set,
                    self.schema.get_type(condition.name.value) if condition else parent,
                    visited,
                )
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in visited:
                    continue
                yield from self._fields(
                    fragment.selection_set,
                    self.schema.get_type(fragment.type_condition.name.value),
                    visited | {name},
                )


def _is_connection(parent: GraphQLNamedType | None) -> bool:
    return parent is not None and parent.name.endswith("Connection")


def query_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
) -> int:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    operation = next(
        (op for op in operations if operation_name is None or (op.name and op.name.value == operation_name)),
        None,
    )
    if operation is None:
        return 0
    given = dict(variables or {})
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        if given.get(name) is None and definition.default_value is not None:
            given[name] = value_from_ast_untyped(definition.default_value)
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    root = schema.get_root_type(operation.operation)
    return CostEstimator(schema, fragments, given).selection_cost(operation.selection_set, root, 1)
