"""The tracking and list operations of client-operations.graphql (read from the contract file): they validate, return the
data the screens show, and cost a number of SQL statements that does not grow with the rows."""

import re
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from gql.relay import to_global_id
from tests.client import GraphQLClient
from tests.contract import OPERATIONS
from tests.factories import make_media, make_user

HOME_VIEWER = "query Home { viewer { username stats { byStatus { status count } } } }"
LIBRARY = OPERATIONS["Library"]
MY_LISTS = OPERATIONS["MyLists"]
LIST_PAGE = OPERATIONS["ListPage"]
PROFILE = OPERATIONS["Profile"]
TRACK = OPERATIONS["Track"]
ADD_TO_LIST = OPERATIONS["AddToList"]
CREATE_SMART_LIST = OPERATIONS["CreateSmartList"]
CREATE_STATIC_LIST = CREATE_SMART_LIST


async def build_library(client: GraphQLClient, engine: AsyncEngine, token: str, size: int) -> str:
    """`size` tracked items, a public static list holding them, and a public smart list."""
    created = await client(CREATE_STATIC_LIST, {"input": {"name": "Static", "isPublic": True}}, token=token)
    list_id = created.data["createList"]["list"]["id"]
    for n in range(size):
        media_id = to_global_id("Media", await make_media(engine, title=f"Item {n:02d}"))
        tracked = await client(
            TRACK, {"input": {"mediaId": media_id, "status": "COMPLETED", "rating": 8 + n % 3}}, token=token
        )
        assert tracked.data["trackMedia"]["userErrors"] == []
        added = await client(ADD_TO_LIST, {"input": {"listId": list_id, "mediaId": media_id}}, token=token)
        assert added.data["addListItem"]["userErrors"] == []
    smart = {
        "tracking": {"statuses": ["COMPLETED"], "ratingMin": 8},
        "sort": {"field": "UPDATED_AT", "direction": "DESC"},
    }
    created_smart = await client(
        CREATE_SMART_LIST,
        {"input": {"name": "Best", "listType": "SMART", "isPublic": True, "definition": smart}},
        token=token,
    )
    assert created_smart.data["createList"]["list"]["listType"] == "SMART"
    return str(list_id)


async def run_small_and_large(
    client: GraphQLClient, engine: AsyncEngine, query: str, variables: Any = None, as_owner: bool = True
) -> tuple[Any, Any]:
    results = []
    for size in (2, 9):
        username = f"reader{size}"
        _, token = await make_user(engine, username=username, profile_visibility="public")
        list_id = await build_library(client, engine, token, size)
        filled = {"id": list_id, "username": username, **(variables or {})}
        results.append(await client(query, filled, token=token if as_owner else None))
    return results[0], results[1]


async def test_home_viewer_counts_by_status(client: GraphQLClient, engine) -> None:
    small, large = await run_small_and_large(client, engine, HOME_VIEWER)
    assert large.data["viewer"]["stats"]["byStatus"] == [{"status": "COMPLETED", "count": 9}]
    assert small.queries == large.queries


async def test_library_screen(client: GraphQLClient, engine) -> None:
    small, large = await run_small_and_large(client, engine, LIBRARY, {"statuses": ["COMPLETED"]})
    library = large.data["viewer"]["library"]
    assert library["totalCount"] == 9
    assert library["edges"][0]["node"]["media"]["title"] == "Item 08"
    assert small.queries == large.queries


async def test_my_lists_screen(client: GraphQLClient, engine) -> None:
    small, large = await run_small_and_large(client, engine, MY_LISTS)
    lists = large.data["viewer"]["lists"]
    assert [edge["node"]["items"]["totalCount"] for edge in lists["edges"]] == [9, 9]
    assert len(lists["edges"][0]["node"]["items"]["edges"]) == 5
    assert small.queries == large.queries


async def test_list_page_screen_for_an_anonymous_reader(client: GraphQLClient, engine) -> None:
    small, large = await run_small_and_large(client, engine, LIST_PAGE, as_owner=False)
    shown = large.data["list"]
    assert shown["owner"] == {"username": "reader9"}
    assert [edge["position"] for edge in shown["items"]["edges"]] == list(range(9))
    assert shown["items"]["edges"][0]["node"]["viewerEntry"] is None
    assert small.queries == large.queries


async def test_profile_screen(client: GraphQLClient, engine) -> None:
    small, large = await run_small_and_large(client, engine, PROFILE, as_owner=False)
    profile = large.data["user"]
    assert profile["stats"]["byMediaType"] == [{"mediaType": "BOOK", "count": 9}]
    assert profile["stats"]["meanRating"] == 9.0
    assert [edge["node"]["name"] for edge in profile["lists"]["edges"]] == ["Static", "Best"]
    assert len(profile["library"]["edges"]) == 9
    assert small.queries == large.queries


def readme_tour() -> list[str]:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("## Tour: tracking and lists", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```graphql\n(.*?)```", section, flags=re.DOTALL)


def user_errors_in(data: Any) -> list[Any]:
    if isinstance(data, dict):
        found = list(data.get("userErrors") or [])
        return found + [error for value in data.values() for error in user_errors_in(value)]
    if isinstance(data, list):
        return [error for value in data for error in user_errors_in(value)]
    return []


async def test_the_readme_tour_runs(client: GraphQLClient, engine) -> None:
    _, token = await make_user(engine)
    variables: dict[str, Any] = {
        "dune": to_global_id("Media", await make_media(engine, title="Dune")),
        "akira": to_global_id(
            "Media", await make_media(engine, title="Akira", attributes={"page_count": 2000})
        ),
        "heat": to_global_id(
            "Media", await make_media(engine, title="Heat", media_type="film", media_class="video.film")
        ),
    }
    results = {}
    for document in readme_tour():
        name = re.search(r"(?:query|mutation) (\w+)", document)
        assert name is not None
        result = await client(document, variables, token=token)
        assert user_errors_in(result.data) == []
        results[name.group(1)] = result.data
        if name.group(1) == "MakeList":
            variables["list"] = result.data["createList"]["list"]["id"]
    assert [e["node"]["title"] for e in results["ReadList"]["list"]["items"]["edges"]] == ["Heat", "Dune"]
    smart = results["MakeSmartList"]["createList"]["list"]["items"]
    assert [edge["node"]["title"] for edge in smart["edges"]] == ["Dune"]
