"""Abuse resistance: each limit refuses with a clear error, and the database bounds hold."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import strawberry
from graphql import get_introspection_query, parse
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import Message, Receive, Scope, Send

from db.engine import PoolSettings, make_engine
from gql.app import create_app
from gql.config import Limits, Settings
from gql.limits import RateLimit, RateLimiter, query_cost
from gql.schema import schema
from tests.client import GraphQLClient, asgi_client

SEARCH = "{ searchMedia(first: 10) { edges { node { title } } } }"


@asynccontextmanager
async def limited_client(
    engine: AsyncEngine, database_url: str, **limits: int
) -> AsyncIterator[GraphQLClient]:
    settings = Settings(environment="development", limits=Limits(**limits))
    async with asgi_client(create_app(settings, database_url, engine=engine)) as client:
        yield client


async def test_deep_queries_are_refused(engine: AsyncEngine, database_url: str) -> None:
    async with limited_client(engine, database_url, max_depth=2) as client:
        result = await client(SEARCH)
    assert "exceeds maximum operation depth of 2" in result.errors[0]["message"]


async def test_too_many_aliases_are_refused(engine: AsyncEngine, database_url: str) -> None:
    async with limited_client(engine, database_url, max_aliases=2) as client:
        result = await client("{ a: searchMedia { totalCount } b: searchMedia { totalCount } c: __typename }")
    assert "aliases" in result.errors[0]["message"]
    assert "2" in result.errors[0]["message"]


async def test_too_many_tokens_are_refused(engine: AsyncEngine, database_url: str) -> None:
    async with limited_client(engine, database_url, max_tokens=10) as client:
        result = await client(SEARCH)
    assert "10 tokens" in result.errors[0]["message"]


async def test_default_limits_admit_graphiql_introspection(client: GraphQLClient) -> None:
    query = get_introspection_query(descriptions=True, specified_by_url=True, input_value_deprecation=True)
    result = await client(query)
    assert result.data["__schema"]["queryType"]["name"] == "Query"


async def test_oversized_bodies_are_refused_with_413(engine: AsyncEngine, database_url: str) -> None:
    padding = " " * 500
    async with limited_client(engine, database_url, max_body_bytes=200) as client:
        response = await client.http.post(
            "/graphql",
            json={"query": SEARCH + padding},
            headers={"content-type": "application/json"},
        )
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_oversized_chunked_bodies_are_refused_with_413(engine: AsyncEngine, database_url: str) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"query": "'
        for _ in range(10):
            yield b" " * 100
        yield b'{ __typename }"}'

    async with limited_client(engine, database_url, max_body_bytes=200) as client:
        response = await client.http.post(
            "/graphql", content=chunks(), headers={"content-type": "application/json"}
        )
    assert "content-length" not in response.request.headers
    assert response.status_code == 413


async def test_bodies_within_the_limit_are_served(engine: AsyncEngine, database_url: str) -> None:
    async with limited_client(engine, database_url, max_body_bytes=200) as client:
        result = await client("{ __typename }")
    assert result.data == {"__typename": "Query"}


async def test_costly_queries_are_refused_before_running(engine: AsyncEngine, database_url: str) -> None:
    async with limited_client(engine, database_url, max_cost=100) as client:
        result = await client("{ searchMedia(first: 60) { edges { node { title } } } }")
    error = result.errors[0]
    assert error["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert error["extensions"]["cost"] == 121
    assert "exceeds the maximum of 100" in error["message"]
    assert result.queries == 0


async def test_cost_uses_the_variables_sent(engine: AsyncEngine, database_url: str) -> None:
    query = "query($n: Int) { searchMedia(first: $n) { edges { node { title } } } }"
    async with limited_client(engine, database_url, max_cost=100) as client:
        refused = await client(query, {"n": 60})
        served = await client(query, {"n": 40})
    assert refused.errors[0]["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert served.data == {"searchMedia": {"edges": []}}


async def test_queries_within_the_cost_are_served(engine: AsyncEngine, database_url: str) -> None:
    async with limited_client(engine, database_url, max_cost=100) as client:
        result = await client("{ searchMedia(first: 40) { edges { node { title } } } }")
    assert result.data == {"searchMedia": {"edges": []}}


def test_cost_counts_a_connection_and_its_page() -> None:
    assert query_cost(schema._schema, parse(SEARCH), None, {}) == 1 + 10 + 10


def test_cost_reads_first_from_variables_and_their_defaults() -> None:
    document = parse("query($n: Int = 5) { searchMedia(first: $n) { edges { node { title } } } }")
    assert query_cost(schema._schema, document, None, {}) == 1 + 5 + 5
    assert query_cost(schema._schema, document, None, {"n": 50}) == 1 + 50 + 50


def test_cost_defaults_to_twenty_per_page() -> None:
    document = parse("{ searchMedia { totalCount edges { cursor node { title } } } }")
    assert query_cost(schema._schema, document, None, {}) == 1 + 20 + 20


@strawberry.type
class Item:
    name: str

    @strawberry.field
    def children(self, first: int | None = None) -> list["Item"]:
        return []

    @strawberry.field
    def tags(self) -> list["Item"]:
        return []


@strawberry.type
class ItemQuery:
    @strawberry.field
    def items(self, first: int | None = None) -> list[Item]:
        return []


NESTED_SCHEMA = strawberry.Schema(query=ItemQuery)


def test_cost_multiplies_nested_lists_through_fragments() -> None:
    document = parse(
        """
        query { items(first: 10) { ...Tree } }
        fragment Tree on Item { name children(first: 3) { tags { name } } }
        """
    )
    # items: 1 + 10 children fields + 10*3 tags lists of 20
    assert query_cost(NESTED_SCHEMA._schema, document, None, {}) == 1 + 10 + 10 * 3 * 20


async def test_rate_limit_answers_429_with_retry_after(engine: AsyncEngine, database_url: str) -> None:
    async with limited_client(engine, database_url, rate_limit_per_minute=2) as client:
        statuses = [(await client.http.get("/graphql?query={__typename}")).status_code for _ in range(2)]
        refused = await client.http.get("/graphql?query={__typename}")
    assert statuses == [200, 200]
    assert refused.status_code == 429
    assert 28 <= int(refused.headers["retry-after"]) <= 30
    assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"


async def test_rate_limit_is_per_client_ip(engine: AsyncEngine, database_url: str) -> None:
    app = create_app(Settings(limits=Limits(rate_limit_per_minute=1)), database_url, engine=engine)
    async with (
        asgi_client(app, client_ip="10.9.0.1") as first,
        asgi_client(app, client_ip="10.9.0.2") as second,
    ):
        assert (await first.http.get("/healthz")).status_code == 200
        assert (await first.http.get("/graphql?query={__typename}")).status_code == 200
        assert (await first.http.get("/graphql?query={__typename}")).status_code == 429
        assert (await second.http.get("/graphql?query={__typename}")).status_code == 200


def test_rate_limit_tokens_refill_over_time() -> None:
    limiter = RateLimiter(per_minute=60)
    for _ in range(60):
        assert limiter.acquire("10.0.0.1", now=100.0) == 0
    assert limiter.acquire("10.0.0.1", now=100.0) == pytest.approx(1.0)
    assert limiter.acquire("10.0.0.1", now=101.0) == 0


async def test_slow_statements_are_cancelled_by_the_statement_timeout(database_url: str) -> None:
    engine = make_engine(database_url, PoolSettings(statement_timeout_ms=100))
    try:
        async with engine.connect() as conn:
            # pg_sleep would only return; an error says the server cancelled it.
            with pytest.raises(DBAPIError, match="statement timeout"):
                await conn.execute(text("SELECT pg_sleep(5)"))
    finally:
        await engine.dispose()


async def test_an_exhausted_pool_fails_fast_with_503(database_url: str) -> None:
    engine = make_engine(database_url, PoolSettings(size=1, overflow=0, timeout_seconds=0.2))
    app = create_app(Settings(environment="development"), database_url, engine=engine)
    try:
        async with engine.connect() as held, asgi_client(app) as client:
            await held.execute(text("SELECT 1"))
            # The only connection stays held: the request is answered only by giving up on the pool
            # (the outer bound only keeps a broken pool timeout from hanging the suite).
            result = await asyncio.wait_for(client("{ searchMedia { totalCount } }"), timeout=30)
    finally:
        await app.state.availability.close()
        await engine.dispose()
    assert result.response.status_code == 503
    assert [error["extensions"]["code"] for error in result.errors] == ["SERVICE_UNAVAILABLE"]


def test_a_full_table_takes_over_the_least_recently_used_bucket() -> None:
    class TinyLimiter(RateLimiter):
        SLOTS = 2
        PROBES = 2

    limiter = TinyLimiter(per_minute=1)
    assert limiter.acquire("10.0.0.1", now=100.0) == 0
    assert limiter.acquire("10.0.0.2", now=101.0) == 0
    assert limiter.acquire("10.0.0.2", now=101.0) > 0
    # A third client needs a slot: the bucket of 10.0.0.1 (used least recently) goes, 10.0.0.2 stays.
    assert limiter.acquire("10.0.0.3", now=102.0) == 0
    assert limiter.acquire("10.0.0.2", now=102.0) > 0
    assert limiter.acquire("10.0.0.1", now=103.0) == 0


async def test_the_rate_limit_refuses_websocket_handshakes_too() -> None:
    handshakes: list[Scope] = []
    sent: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        handshakes.append(scope)

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        sent.append(message)

    limited = RateLimit(app, RateLimiter(per_minute=1))
    scope: Scope = {"type": "websocket", "path": "/graphql", "client": ("10.9.0.1", 1234), "headers": []}
    await limited(scope, receive, send)
    await limited(scope, receive, send)
    assert len(handshakes) == 1
    # Closed before it is accepted: the server answers the handshake with 403.
    assert sent == [{"type": "websocket.close", "code": 1013, "reason": "Too many requests"}]
