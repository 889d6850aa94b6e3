"""The HTTP surface: health, readiness, the first queries, the exported schema and the dev extensions."""

from pathlib import Path

from strawberry.printer import print_schema

from gql.schema import schema
from tests.client import GraphQLClient
from tests.factories import make_media

SEARCH = "{ searchMedia(first: 5) { totalCount edges { node { title mediaType } } } }"


async def test_healthz_answers(client: GraphQLClient) -> None:
    response = await client.http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_reports_a_migrated_database(client: GraphQLClient) -> None:
    response = await client.http.get("/readyz")
    assert response.status_code == 200
    assert response.json()["status"] == "ready"


async def test_search_media_returns_the_catalog_with_total_count(client: GraphQLClient, engine) -> None:
    for title in ("Dune", "Akira", "Hamlet"):
        await make_media(engine, title=title)
    result = await client(SEARCH)
    assert result.data["searchMedia"]["totalCount"] == 3
    assert [edge["node"]["title"] for edge in result.data["searchMedia"]["edges"]] == [
        "Akira",
        "Dune",
        "Hamlet",
    ]
    assert result.data["searchMedia"]["edges"][0]["node"]["mediaType"] == "BOOK"


async def test_media_and_node_resolve_the_same_item(client: GraphQLClient, engine) -> None:
    await make_media(engine, title="Dune")
    media_id = (await client("{ searchMedia { edges { node { id } } } }")).data["searchMedia"]["edges"][0][
        "node"
    ]["id"]
    by_media = await client("query($id: ID!) { media(id: $id) { title } }", {"id": media_id})
    by_node = await client("query($id: ID!) { node(id: $id) { ... on Media { title } } }", {"id": media_id})
    assert by_media.data["media"]["title"] == "Dune"
    assert by_node.data["node"]["title"] == "Dune"


async def test_unknown_or_garbage_ids_resolve_to_null(client: GraphQLClient) -> None:
    result = await client('{ media(id: "garbage") { title } node(id: "TWVkaWE6eA") { id } }')
    assert result.data == {"media": None, "node": None}


async def test_development_responses_carry_sql_statement_counts(client: GraphQLClient, engine) -> None:
    await make_media(engine, title="Dune")
    result = await client(SEARCH)
    stats = result.body["extensions"]["db"]
    assert stats["queries"] == 2
    assert stats["timeMs"] > 0


async def test_get_requests_run_queries(client: GraphQLClient) -> None:
    response = await client.http.get("/graphql", params={"query": "{ searchMedia { totalCount } }"})
    assert response.status_code == 200
    assert response.json()["data"]["searchMedia"]["totalCount"] == 0


async def test_exported_schema_matches_the_code() -> None:
    exported = (Path(__file__).resolve().parent.parent / "schema.graphql").read_text()
    assert exported.strip() == print_schema(schema).strip(), "run: omnimediatrak export-schema"
