"""A cursor from any source decodes to a valid position or is BAD_USER_INPUT: real cursors of every
paginated field, with each sort value replaced by something our encoder never writes."""

import base64
import json
import logging
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from gql.relay import to_global_id
from tests.client import GraphQLClient, Result
from tests.factories import make_media, make_user

PAGE = "pageInfo { endCursor } edges { cursor }"
FIELDS = {
    "searchMedia by title": (
        "query($after: String) { searchMedia(first: 1, after: $after) { %s } }",
        ["searchMedia"],
    ),
    "searchMedia by release date": (
        "query($after: String) { searchMedia(first: 1, after: $after, sort: [{field: RELEASE_DATE}]) { %s } }",
        ["searchMedia"],
    ),
    "searchMedia by creation": (
        "query($after: String) { searchMedia(first: 1, after: $after, sort: [{field: CREATED_AT, direction: DESC}]) { %s } }",
        ["searchMedia"],
    ),
    "searchMedia by popularity": (
        "query($after: String) { searchMedia(first: 1, after: $after, sort: [{field: POPULARITY}]) { %s } }",
        ["searchMedia"],
    ),
    "searchMedia by relevance": (
        'query($after: String) { searchMedia(first: 1, after: $after, filter: {search: "dune"}) { %s } }',
        ["searchMedia"],
    ),
    "franchise": (
        'query($after: String) { franchise(path: "dune", first: 1, after: $after) { %s } }',
        ["franchise"],
    ),
    "library by update": (
        "query($after: String) { viewer { library(first: 1, after: $after) { %s } } }",
        ["viewer", "library"],
    ),
    "library by rating": (
        "query($after: String) { viewer { library(first: 1, after: $after, sort: RATING) { %s } } }",
        ["viewer", "library"],
    ),
    "library by title": (
        "query($after: String) { viewer { library(first: 1, after: $after, sort: TITLE) { %s } } }",
        ["viewer", "library"],
    ),
    "library by status": (
        "query($after: String) { viewer { library(first: 1, after: $after, sort: STATUS) { %s } } }",
        ["viewer", "library"],
    ),
    "lists": (
        "query($after: String) { viewer { lists(first: 1, after: $after) { %s } } }",
        ["viewer", "lists"],
    ),
    "list items": (
        "query($after: String, $list: ID!) { list(id: $list) { items(first: 1, after: $after) { %s } } }",
        ["list", "items"],
    ),
    "smart list items": (
        "query($after: String, $smart: ID!) { list(id: $smart) { items(first: 1, after: $after) { %s } } }",
        ["list", "items"],
    ),
}
FORGED_VALUES: list[Any] = [
    123,
    2**64,
    True,
    None,
    1e308,
    "a\u0000b",
    "\ud800",
    "9999-12-31T23:59:59-14:00",
    "2024-01-01T00:00:00",
    [[[[[[]]]]]],
    {"a": 1},
]


def decode(cursor: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))


def encode(payload: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


async def setup_pages(client: GraphQLClient, engine: AsyncEngine) -> tuple[str, dict[str, str]]:
    _, token = await make_user(engine)
    ids = [
        await make_media(engine, title=f"Dune {n}", collection_path="dune", release_date=f"196{n}-01-01")
        for n in range(3)
    ]
    for n, media_id in enumerate(ids):
        result = await client(
            "mutation($input: TrackMediaInput!) { trackMedia(input: $input) { userErrors { code } } }",
            {"input": {"mediaId": to_global_id("Media", media_id), "rating": n + 1}},
            token=token,
        )
        assert result.data["trackMedia"]["userErrors"] == []
    lists = {}
    for name, extra in (
        ("list", {}),
        ("smart", {"listType": "SMART", "definition": {"media": {"search": "dune"}}}),
    ):
        for _ in range(2):
            result = await client(
                "mutation($input: CreateListInput!) { createList(input: $input) { list { id } } }",
                {"input": {"name": name, "isPublic": True, **extra}},
                token=token,
            )
            lists[name] = result.data["createList"]["list"]["id"]
    for media_id in ids:
        await client(
            "mutation($input: AddListItemInput!) { addListItem(input: $input) { position } }",
            {"input": {"listId": lists["list"], "mediaId": to_global_id("Media", media_id)}},
            token=token,
        )
    return token, lists


def connection(result: Result, path: list[str]) -> Any:
    data: Any = result.data
    for key in path:
        data = data[key]
    return data


async def test_forged_cursors_are_bad_user_input(
    client: GraphQLClient, engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    token, lists = await setup_pages(client, engine)
    forged_requests = 0
    for name, (template, path) in FIELDS.items():
        query = template % PAGE
        result = await client(query, {"list": lists["list"], "smart": lists["smart"]}, token=token)
        cursor = connection(result, path)["pageInfo"]["endCursor"]
        assert cursor, name
        kind, values = decode(cursor)
        following = await client(
            query, {"after": cursor, "list": lists["list"], "smart": lists["smart"]}, token=token
        )
        assert connection(following, path)["edges"], f"{name}: a real cursor must work"
        for index in range(len(values)):
            for forged in FORGED_VALUES:
                tampered = [*values[:index], forged, *values[index + 1 :]]
                if tampered == values:
                    continue
                variables = {
                    "after": encode([kind, tampered]),
                    "list": lists["list"],
                    "smart": lists["smart"],
                }
                with caplog.at_level(logging.INFO):
                    result = await client(query, variables, token=token)
                forged_requests += 1
                assert result.response.status_code == 200
                codes = {error["extensions"]["code"] for error in result.errors}
                # A forged value may also decode to a valid (if odd) position: then no error at all.
                assert codes <= {"BAD_USER_INPUT"}, (name, index, forged, result.errors)
        for payload in ([kind], [kind, values, 1], [kind, {}], "x", [[kind], values], [kind, [values]]):
            result = await client(
                query,
                {"after": encode(payload), "list": lists["list"], "smart": lists["smart"]},
                token=token,
            )
            assert {error["extensions"]["code"] for error in result.errors} == {"BAD_USER_INPUT"}, (
                name,
                payload,
            )
    assert forged_requests > 150
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
