"""A small GraphQL client over the ASGI app, as an SPA would call it."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from httpx import ASGITransport, AsyncClient, Response
from starlette.types import ASGIApp


@dataclass
class Result:
    response: Response

    @property
    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = self.response.json()
        return body

    @property
    def data(self) -> dict[str, Any]:
        body = self.body
        assert not body.get("errors"), body["errors"]
        data: dict[str, Any] = body["data"]
        return data

    @property
    def errors(self) -> list[dict[str, Any]]:
        errors: list[dict[str, Any]] = self.body.get("errors") or []
        return errors

    @property
    def queries(self) -> int:
        return int(self.body["extensions"]["db"]["queries"])

    @property
    def round_trips(self) -> int:
        return int(self.body["extensions"]["db"]["roundTrips"])

    @property
    def prepares(self) -> int:
        return int(self.body["extensions"]["db"]["prepares"])


@dataclass
class GraphQLClient:
    http: AsyncClient

    async def __call__(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Result:
        all_headers = {"content-type": "application/json"}
        if token:
            all_headers["authorization"] = f"Bearer {token}"
        all_headers.update(headers or {})
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=all_headers
        )
        return Result(response)


@asynccontextmanager
async def asgi_client(app: ASGIApp, client_ip: str = "10.1.0.1") -> AsyncIterator[GraphQLClient]:
    """A client over an app built by the test itself (other settings, another engine)."""
    transport = ASGITransport(app=app, client=(client_ip, 1234))
    async with AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield GraphQLClient(http)


def assert_token_refused(result: Result) -> None:
    """A bearer token that does not work (unknown, expired, revoked, malformed): 401, never anonymity."""
    assert result.response.status_code == 401, result.response.text
    assert result.response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert [error["extensions"]["code"] for error in result.errors] == ["UNAUTHENTICATED"]
    assert "data" not in result.body
