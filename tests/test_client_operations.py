"""Every operation of client-operations.graphql (the apps' contract, copied verbatim beside this file)
validates against the schema, runs without errors for a signed-in viewer, and costs the same number
of SQL statements whether the screen shows a few rows or many."""

from typing import Any

import pytest
from graphql import validate
from sqlalchemy.ext.asyncio import AsyncEngine

from gql.relay import to_global_id
from gql.schema import schema
from tests.client import GraphQLClient
from tests.contract import DOCUMENT, OPERATIONS
from tests.factories import link_media, make_media, make_user

QUERIES = ["Home", "Catalog", "MediaDetail", "Franchise", "Library", "MyLists", "ListPage", "Profile"]


def test_every_operation_validates_against_the_schema() -> None:
    assert set(QUERIES) | {"Track", "AddToList", "CreateSmartList"} == set(OPERATIONS)
    errors = validate(schema._schema, DOCUMENT)
    assert errors == []


async def _world(client: GraphQLClient, engine: AsyncEngine, size: int) -> dict[str, Any]:
    """A franchise of `size` items chained by sequels, each adapted into a film, all tracked by a
    PUBLIC viewer, who keeps `size` lists of `size` items each."""
    _, token = await make_user(engine, username=f"viewer{size}", profile_visibility="public")
    books = [
        await make_media(
            engine,
            title=f"Saga {size} book {n}",
            release_date=f"200{n % 10}-01-0{1 + n % 9}",
            collection_path=f"saga{size}.books",
            attributes={"genres": ["fantasy"], "page_count": 300},
            external_links=[("isbn", f"{size}-{n}")],
        )
        for n in range(size)
    ]
    films = [
        await make_media(
            engine,
            title=f"Saga {size} film {n}",
            media_type="film",
            media_class="video.film",
            collection_path=f"saga{size}.films",
        )
        for n in range(size)
    ]
    for n in range(size):
        await link_media(engine, books[n], films[n], "adaptation")
        if n + 1 < size:
            await link_media(engine, books[n], books[n + 1], "sequel")
    for media_id in books + films:
        result = await client(
            OPERATIONS["Track"],
            {"input": {"mediaId": to_global_id("Media", media_id), "status": "COMPLETED", "rating": 8}},
            token=token,
        )
        assert result.data["trackMedia"]["userErrors"] == []
    list_ids = []
    for n in range(size):
        created = await client(
            OPERATIONS["CreateSmartList"]
            if n == 0
            else "mutation($input: CreateListInput!) { createList(input: $input) { list { id } userErrors { code } } }",
            {"input": {"name": f"List {n}", "isPublic": True, "listType": "STATIC"}},
            token=token,
        )
        list_id = created.data["createList"]["list"]["id"]
        list_ids.append(list_id)
        for media_id in books:
            added = await client(
                OPERATIONS["AddToList"],
                {"input": {"listId": list_id, "mediaId": to_global_id("Media", media_id)}},
                token=token,
            )
            assert added.data["addListItem"]["userErrors"] == []
    return {
        "token": token,
        "variables": {
            "Home": {},
            "Catalog": {"filter": {"collectionPath": f"saga{size}"}, "sort": [{"field": "TITLE"}]},
            "MediaDetail": {"id": to_global_id("Media", books[0])},
            "Franchise": {"path": f"saga{size}"},
            "Library": {"statuses": ["COMPLETED"]},
            "MyLists": {},
            "ListPage": {"id": list_ids[0]},
            "Profile": {"username": f"viewer{size}"},
        },
    }


@pytest.mark.parametrize("operation", QUERIES)
async def test_statement_count_does_not_grow_with_rows(client: GraphQLClient, engine, operation: str) -> None:
    counts = []
    for size in (2, 6):
        world = await _world(client, engine, size)
        result = await client(OPERATIONS[operation], world["variables"][operation], token=world["token"])
        assert result.errors == [], result.errors
        assert str(result.data).count(f"Saga {size} ") >= size, result.data
        counts.append(result.queries)
    assert counts[0] == counts[1], f"{operation}: {counts}"


# SQL statements per operation for a signed-in viewer, whatever the number of rows.
STATEMENTS = {
    "Home": 5,
    "Catalog": 6,
    "MediaDetail": 9,
    "Franchise": 4,
    "Library": 4,
    "MyLists": 7,
    "ListPage": 6,
    "Profile": 5,
}


@pytest.mark.parametrize("operation", QUERIES)
async def test_round_trips_stay_bounded(client: GraphQLClient, engine, operation: str) -> None:
    """A read is one round trip per statement: no BEGIN/COMMIT/ROLLBACK around it, and a prepare
    only the first time a pooled connection meets a statement's text (the same text for every
    batch size, so a warm pool prepares almost nothing)."""
    world = await _world(client, engine, 3)
    prepares = []
    for _ in range(5):
        result = await client(OPERATIONS[operation], world["variables"][operation], token=world["token"])
        assert result.errors == [], result.errors
        assert result.queries <= STATEMENTS[operation]
        assert result.prepares <= result.queries
        assert result.round_trips == result.queries + result.prepares, "transaction round trips"
        prepares.append(result.prepares)
    assert min(prepares) <= STATEMENTS[operation] // 2, prepares
