"""GraphQL over HTTP: content negotiation, status codes, methods, content types (the CSRF guard),
the offline GraphiQL, request ids and masked errors."""

import logging
import re
import tomllib
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from gql.app import create_app
from gql.config import Settings
from gql.relay import to_global_id
from tests.client import GraphQLClient, asgi_client
from tests.factories import make_media

COUNT = "{ searchMedia { totalCount } }"
INVALID = "{ searchMedia { noSuchField } }"
GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


async def post(client: GraphQLClient, query: str, accept: str | None = None):
    headers = {"content-type": "application/json"}
    if accept is not None:
        headers["accept"] = accept
    return await client.http.post("/graphql", json={"query": query}, headers=headers)


async def test_json_is_the_default_response_type(client: GraphQLClient) -> None:
    response = await post(client, COUNT)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["data"]["searchMedia"]["totalCount"] == 0


async def test_graphql_response_json_is_used_when_accepted(client: GraphQLClient) -> None:
    response = await post(client, COUNT, accept=f"{GRAPHQL_RESPONSE_JSON}, application/json;q=0.9")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE_JSON)


async def test_json_wins_when_preferred_over_graphql_response_json(client: GraphQLClient) -> None:
    response = await post(client, COUNT, accept=f"{GRAPHQL_RESPONSE_JSON};q=0.5, application/json")
    assert response.headers["content-type"].startswith("application/json")


async def test_validation_errors_are_400_without_data_with_graphql_response_json(
    client: GraphQLClient,
) -> None:
    response = await post(client, INVALID, accept=GRAPHQL_RESPONSE_JSON)
    assert response.status_code == 400
    body = response.json()
    assert "data" not in body
    assert "noSuchField" in body["errors"][0]["message"]


async def test_parse_errors_are_400_with_graphql_response_json(client: GraphQLClient) -> None:
    response = await post(client, "{ searchMedia {", accept=GRAPHQL_RESPONSE_JSON)
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"].startswith("Syntax Error")


async def test_validation_errors_are_200_without_data_with_json(client: GraphQLClient) -> None:
    response = await post(client, INVALID, accept="application/json")
    assert response.status_code == 200
    assert "data" not in response.json()
    assert response.json()["errors"]


async def test_execution_errors_keep_status_200(client: GraphQLClient) -> None:
    response = await post(client, "{ searchMedia(first: 1000) { totalCount } }", accept=GRAPHQL_RESPONSE_JSON)
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_mutations_over_get_are_refused_with_405(client: GraphQLClient) -> None:
    response = await client.http.get("/graphql", params={"query": "mutation { __typename }"})
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert "POST" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    "content_type",
    ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain", None],
)
async def test_posts_a_browser_form_can_send_are_refused_with_415(
    client: GraphQLClient, content_type: str | None
) -> None:
    headers = {} if content_type is None else {"content-type": content_type}
    response = await client.http.post("/graphql", content=f'{{"query": "{COUNT}"}}', headers=headers)
    assert response.status_code == 415
    assert "application/json" in response.json()["errors"][0]["message"]


async def test_malformed_json_is_a_400_with_a_json_error(client: GraphQLClient) -> None:
    response = await client.http.post(
        "/graphql", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == "Unable to parse request body as JSON"


async def test_get_without_query_is_a_400_for_api_clients(client: GraphQLClient) -> None:
    response = await client.http.get("/graphql", headers={"accept": "application/json"})
    assert response.status_code == 400


async def test_graphiql_page_references_only_local_assets(client: GraphQLClient) -> None:
    response = await client.http.get("/graphql", headers={"accept": BROWSER_ACCEPT})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    references = re.findall(r'(?:src|href)="([^"]+)"', response.text)
    assert references
    assert all(ref.startswith(("/graphiql-assets/", "data:")) for ref in references)
    assert "<script>" not in response.text  # the CSP forbids inline scripts


async def test_graphiql_assets_are_served(client: GraphQLClient) -> None:
    page = (await client.http.get("/graphql", headers={"accept": BROWSER_ACCEPT})).text
    assets = re.findall(r'(?:src|href)="(/graphiql-assets/[^"]+)"', page)
    assert len(assets) == 5
    for asset in assets:
        response = await client.http.get(asset)
        assert response.status_code == 200, asset
        assert response.headers["content-type"].split(";")[0] in ("text/javascript", "text/css"), asset
        assert len(response.content) > 200, asset
    startup = (await client.http.get("/graphiql-assets/omnimediatrak-graphiql.js")).text
    assert "Authorization" in startup  # the headers editor hint
    assert "://" not in startup  # it talks only to the page's own origin
    assert "subscriptionUrl" in startup  # subscriptions over the same path's WebSocket


async def test_production_serves_neither_graphiql_nor_its_assets(
    engine: AsyncEngine, database_url: str
) -> None:
    app = create_app(Settings(environment="production"), database_url, engine=engine)
    async with asgi_client(app) as client:
        page = await client.http.get("/graphql", headers={"accept": BROWSER_ACCEPT})
        asset = await client.http.get("/graphiql-assets/graphiql.min.js")
    assert not page.headers["content-type"].startswith("text/html")
    assert asset.status_code == 404


async def test_every_response_carries_a_request_id(client: GraphQLClient) -> None:
    responses = [
        await post(client, COUNT),
        await client.http.get("/healthz"),
        await client.http.post("/graphql", content=b"x", headers={"content-type": "text/plain"}),
    ]
    ids = [response.headers["x-request-id"] for response in responses]
    assert all(re.fullmatch(r"[0-9a-f]{16}", request_id) for request_id in ids)
    assert len(set(ids)) == 3


class Defect(RuntimeError):
    """A bug, provoked on purpose (an unreachable database is an outage, not a defect)."""


async def test_unexpected_errors_are_masked_with_the_request_id_and_logged(
    caplog: pytest.LogCaptureFixture, engine: AsyncEngine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: object, **kwargs: object) -> int:
        raise Defect("secret detail at /nonexistent-socket-dir")

    monkeypatch.setattr("db.media_search.count_media", broken)
    app = create_app(Settings(environment="development"), database_url, engine=engine)
    with caplog.at_level(logging.ERROR, logger="omnimediatrak.errors"):
        async with asgi_client(app) as client:
            result = await client(COUNT)
    request_id = result.response.headers["x-request-id"]
    error = result.errors[0]
    assert error["message"] == f"Internal server error (request id {request_id})"
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id}
    assert "nonexistent-socket-dir" not in result.response.text
    logged = [record for record in caplog.records if request_id in record.getMessage()]
    assert logged
    assert logged[0].exc_info is not None


def test_every_static_file_is_package_data() -> None:
    root = Path(__file__).resolve().parent.parent
    globs = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["gql"]
    static = {path for path in (root / "gql" / "static").rglob("*") if path.is_file()}
    packaged = {path for glob in globs for path in (root / "gql").glob(glob)}
    assert static
    assert static - packaged == set(), "add them to [tool.setuptools.package-data] for the Docker image"


async def test_failures_before_execution_are_masked_too(
    caplog: pytest.LogCaptureFixture, engine: AsyncEngine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: object, **kwargs: object) -> None:
        raise Defect("secret detail at /nonexistent-socket-dir")

    monkeypatch.setattr("gql.app.credential_for_secret", broken)
    app = create_app(Settings(environment="development"), database_url, engine=engine)
    with caplog.at_level(logging.ERROR, logger="omnimediatrak"):
        async with asgi_client(app) as client:
            result = await client(COUNT, token="omts_credential-lookup-needs-the-database")
    request_id = result.response.headers["x-request-id"]
    assert result.response.status_code == 500
    assert result.errors[0]["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id}
    assert "nonexistent-socket-dir" not in result.response.text
    assert any(request_id in record.getMessage() and record.exc_info for record in caplog.records)


async def test_cors_lets_browsers_read_the_request_id_and_retry_after(
    engine: AsyncEngine, database_url: str
) -> None:
    settings = Settings(environment="development", cors_origins=("https://app.example",))
    async with asgi_client(create_app(settings, database_url, engine=engine)) as client:
        response = await client.http.post(
            "/graphql", json={"query": COUNT}, headers={"origin": "https://app.example"}
        )
    assert response.headers["access-control-allow-origin"] == "https://app.example"
    exposed = response.headers["access-control-expose-headers"].lower()
    assert "x-request-id" in exposed
    assert "retry-after" in exposed


async def test_responses_carry_text_as_utf8_and_json_values_beyond_64_bit_integers(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    media_id = await make_media(engine, title="千と千尋の神隠し", attributes={"big": 2**70, "small": 1})
    query = f'{{ media(id: "{to_global_id("Media", media_id)}") {{ title attributes }} }}'
    response = await post(client, query)
    assert response.status_code == 200
    assert response.json()["data"]["media"] == {
        "title": "千と千尋の神隠し",
        "attributes": {"big": 2**70, "small": 1},
    }
    title_only = await post(client, f'{{ media(id: "{to_global_id("Media", media_id)}") {{ title }} }}')
    assert "千と千尋の神隠し".encode() in title_only.content
