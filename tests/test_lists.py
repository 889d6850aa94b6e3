"""Lists: static lists and their order, smart lists and their definitions, privacy, batching."""

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from db.lists import POSITION_STEP
from db.models import ListItem
from gql.relay import decode_id, to_global_id
from tests.client import GraphQLClient
from tests.factories import make_media, make_user
from tests.test_tracking import make_read_token, track

CREATE = """
mutation($input: CreateListInput!) {
  createList(input: $input) {
    list { id name description isPublic listType definition }
    userErrors { field code message }
  }
}"""
UPDATE = """
mutation($input: UpdateListInput!) {
  updateList(input: $input) { list { name isPublic definition } userErrors { field code } }
}"""
DELETE = "mutation($input: DeleteListInput!) { deleteList(input: $input) { deletedListId userErrors { field code } } }"
ADD = """
mutation($input: AddListItemInput!) { addListItem(input: $input) { position userErrors { field code message } } }
"""
REMOVE = (
    "mutation($input: RemoveListItemInput!) { removeListItem(input: $input) { userErrors { field code } } }"
)
MOVE = "mutation($input: MoveListItemInput!) { moveListItem(input: $input) { position userErrors { field code } } }"
LIST_PAGE = """
query($id: ID!, $first: Int = 100, $after: String) {
  list(id: $id) {
    id name description isPublic listType itemsRestricted owner { username }
    items(first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { position addedAt node { id title mediaType releaseDate viewerEntry { status rating } } }
    }
  }
}"""
MY_LISTS = """
query MyLists {
  viewer {
    lists(first: 20) {
      totalCount
      edges {
        node {
          id name isPublic listType
          items(first: 5) { totalCount edges { position node { id title coverUrl viewerEntry { status } } } }
        }
      }
    }
  }
}"""
NESTED = """
{ viewer { lists(first: 10) { edges { node { items(first: 20) { edges { node { title viewerEntry { status } } } } } } } } }
"""
USER_LISTS = (
    "query($name: String!) { user(username: $name) { lists { totalCount edges { node { name } } } } }"
)
COMPLETED_AND_RATED_8 = {"tracking": {"statuses": ["COMPLETED"], "ratingMin": 8}}


def mid(media_id: uuid.UUID) -> str:
    return to_global_id("Media", media_id)


async def create(client: GraphQLClient, token: str, **fields: object) -> str:
    result = await client(CREATE, {"input": {"name": "My list", **fields}}, token=token)
    assert result.data["createList"]["userErrors"] == [], result.data
    return str(result.data["createList"]["list"]["id"])


async def add(
    client: GraphQLClient, token: str, list_id: str, media_id: uuid.UUID, position: int | None = None
) -> Any:
    variables = {"input": {"listId": list_id, "mediaId": mid(media_id), "position": position}}
    return (await client(ADD, variables, token=token)).data["addListItem"]


async def move(client: GraphQLClient, token: str, list_id: str, media_id: uuid.UUID, position: int) -> Any:
    variables = {"input": {"listId": list_id, "mediaId": mid(media_id), "position": position}}
    return (await client(MOVE, variables, token=token)).data["moveListItem"]


async def page(client: GraphQLClient, list_id: str, token: str | None = None, **variables: object) -> Any:
    return (await client(LIST_PAGE, {"id": list_id, **variables}, token=token)).data["list"]


def item_titles(list_page: Any) -> list[str]:
    return [edge["node"]["title"] for edge in list_page["items"]["edges"]]


async def titled(engine: AsyncEngine, *titles: str) -> dict[str, uuid.UUID]:
    return {title: await make_media(engine, title=title) for title in titles}


# --- static lists --------------------------------------------------------------------------------


async def test_items_are_added_at_the_end_in_order(client: GraphQLClient, engine) -> None:
    _, token = await make_user(engine)
    media = await titled(engine, "C", "A", "B")
    list_id = await create(client, token, description="to read")
    for media_id in media.values():
        assert (await add(client, token, list_id, media_id))["userErrors"] == []
    shown = await page(client, list_id, token)
    assert item_titles(shown) == ["C", "A", "B"]
    assert [edge["position"] for edge in shown["items"]["edges"]] == [0, 1, 2]
    assert shown["items"]["totalCount"] == 3
    assert shown["items"]["edges"][0]["addedAt"] is not None


async def test_an_item_can_be_added_at_a_position(client: GraphQLClient, engine) -> None:
    _, token = await make_user(engine)
    media = await titled(engine, "A", "B", "C")
    list_id = await create(client, token)
    await add(client, token, list_id, media["A"])
    await add(client, token, list_id, media["C"])
    assert (await add(client, token, list_id, media["B"], position=1))["position"] == 1
    assert item_titles(await page(client, list_id, token)) == ["A", "B", "C"]


async def test_adding_an_item_twice_is_a_conflict(client: GraphQLClient, engine) -> None:
    _, token = await make_user(engine)
    media_id = await make_media(engine)
    list_id = await create(client, token)
    await add(client, token, list_id, media_id)
    errors = (await add(client, token, list_id, media_id))["userErrors"]
    assert errors == [
        {"field": ["mediaId"], "code": "CONFLICT", "message": "This item is already in the list"}
    ]


async def test_adding_unknown_media_is_not_found(client: GraphQLClient, engine) -> None:
    _, token = await make_user(engine)
    list_id = await create(client, token)
    assert (await add(client, token, list_id, uuid.uuid4()))["userErrors"][0]["code"] == "NOT_FOUND"


async def test_a_list_holds_at_most_10000_items(client: GraphQLClient, engine) -> None:
    _, token = await make_user(engine)
    list_id = await create(client, token)
    raw_list_id = decode_id(list_id, "UserList")
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "WITH m AS (INSERT INTO media.media (title, media_type, media_class) "
                "SELECT 'bulk ' || n, 'book', 'written.book' FROM generate_series(1, 10000) n RETURNING id) "
                "INSERT INTO interaction.list_items (list_id, media_id, position) "
                "SELECT :list_id, id, row_number() OVER () * 1024 FROM m"
            ),
            {"list_id": raw_list_id},
        )
    one_more = await make_media(engine)
    assert (await add(client, token, list_id, one_more))["userErrors"][0]["code"] == "LIMIT_EXCEEDED"


async def test_moving_reorders_the_list(client: GraphQLClient, engine) -> None:
    _, token = await make_user(engine)
    media = await titled(engine, "A", "B", "C", "D")
    list_id = await create(client, token)
    for media_id in media.values():
        await add(client, token, list_id, media_id)
    assert (await move(client, token, list_id, media["D"], 0))["position"] == 0
    assert item_titles(await page(client, list_id, token)) == ["D", "A", "B", "C"]
    await move(client, token, list_id, media["D"], 2)
    assert item_titles(await page(client, list_id, token)) == ["A", "B", "D", "C"]
    assert (await move(client, token, list_id, media["A"], 99))["position"] == 3
    assert item_titles(await page(client, list_id, token)) == ["B", "D", "C", "A"]


async def test_order_survives_many_moves_into_one_gap(client: GraphQLClient, engine) -> None:
    _, token = await make_user(engine)
    names = [f"M{n:02d}" for n in range(14)]
    media = await titled(engine, *names)
    list_id = await create(client, token)
    expected: list[str] = []
    for name in names[:2]:
        await add(client, token, list_id, media[name])
        expected.append(name)
    # Always between the first two items: the 1024-wide gap halves until it must be renumbered.
    for name in names[2:]:
        await add(client, token, list_id, media[name], position=1)
        expected.insert(1, name)
    await move(client, token, list_id, media["M00"], 5)
    expected.insert(5, expected.pop(0))
    assert item_titles(await page(client, list_id, token)) == expected
    async with engine.connect() as conn:
        positions = list(
            (await conn.execute(select(ListItem.position).order_by(ListItem.position))).scalars()
        )
    assert len(set(positions)) == len(positions)


async def test_moving_does_not_rewrite_other_rows_while_the_gap_lasts(client: GraphQLClient, engine) -> None:
    _, token = await make_user(engine)
    media = await titled(engine, "A", "B", "C")
    list_id = await create(client, token)
    for media_id in media.values():
        await add(client, token, list_id, media_id)
    async with engine.connect() as conn:
        before = dict((await conn.execute(select(ListItem.media_id, ListItem.position))).all())
    await move(client, token, list_id, media["C"], 1)
    async with engine.connect() as conn:
        after = dict((await conn.execute(select(ListItem.media_id, ListItem.position))).all())
    assert after[media["A"]] == before[media["A"]]
    assert after[media["B"]] == before[media["B"]]
    assert before[media["A"]] < after[media["C"]] < before[media["B"]]
    assert before[media["B"]] - before[media["A"]] == POSITION_STEP


async def test_negative_positions_are_refused(client: GraphQLClient, engine) -> None:
    _, token = await make_user(engine)
    media_id = await make_media(engine)
    list_id = await create(client, token)
    assert (await add(client, token, list_id, media_id, position=-1))["userErrors"][0]["field"] == [
        "position"
    ]
    await add(client, token, list_id, media_id)
    assert (await move(client, token, list_id, media_id, -1))["userErrors"] == [
        {"field": ["position"], "code": "INVALID"}
    ]


async def test_moving_an_item_not_in_the_list_is_not_found(client: GraphQLClient, engine) -> None:
    _, token = await make_user(engine)
    list_id = await create(client, token)
    errors = (await move(client, token, list_id, await make_media(engine), 0))["userErrors"]
    assert errors == [{"field": ["mediaId"], "code": "NOT_FOUND"}]


async def test_a_list_cannot_lose_its_name(client: GraphQLClient, engine) -> None:
    _, token = await make_user(engine)
    list_id = await create(client, token)
    result = await client(UPDATE, {"input": {"id": list_id, "name": None}}, token=token)
    assert result.data["updateList"]["userErrors"] == [{"field": ["name"], "code": "INVALID"}]


async def test_concurrent_adds_to_one_list_queue_up(client: GraphQLClient, engine) -> None:
    _, token = await make_user(engine)
    media = await titled(engine, *(f"M{n}" for n in range(8)))
    list_id = await create(client, token)
    results = await asyncio.gather(*(add(client, token, list_id, media_id) for media_id in media.values()))
    assert sorted(result["position"] for result in results) == list(range(8))
    shown = await page(client, list_id, token)
    assert sorted(item_titles(shown)) == sorted(media)
    assert [edge["position"] for edge in shown["items"]["edges"]] == list(range(8))


async def test_removing_an_item(client: GraphQLClient, engine) -> None:
    _, token = await make_user(engine)
    media = await titled(engine, "A", "B")
    list_id = await create(client, token)
    for media_id in media.values():
        await add(client, token, list_id, media_id)
    variables = {"input": {"listId": list_id, "mediaId": mid(media["A"])}}
    assert (await client(REMOVE, variables, token=token)).data["removeListItem"]["userErrors"] == []
    assert item_titles(await page(client, list_id, token)) == ["B"]
    again = await client(REMOVE, variables, token=token)
    assert again.data["removeListItem"]["userErrors"][0]["code"] == "NOT_FOUND"


async def test_items_page_with_cursors_and_ordinal_positions(client: GraphQLClient, engine) -> None:
    _, token = await make_user(engine)
    media = await titled(engine, "A", "B", "C", "D", "E")
    list_id = await create(client, token)
    for media_id in media.values():
        await add(client, token, list_id, media_id)
    first = await page(client, list_id, token, first=2)
    second = await page(client, list_id, token, first=2, after=first["items"]["pageInfo"]["endCursor"])
    assert item_titles(second) == ["C", "D"]
    assert [edge["position"] for edge in second["items"]["edges"]] == [2, 3]
    assert second["items"]["pageInfo"]["hasNextPage"] is True
    assert second["items"]["totalCount"] == 5


async def test_two_pages_of_one_list_in_one_request_stay_apart(client: GraphQLClient, engine) -> None:
    _, token = await make_user(engine)
    media = await titled(engine, "A", "B", "C")
    list_id = await create(client, token)
    for media_id in media.values():
        await add(client, token, list_id, media_id)
    query = """query($id: ID!) { list(id: $id) {
      two: items(first: 2) { edges { node { title } } }
      all: items(first: 10) { edges { node { title } } }
    } }"""
    shown = (await client(query, {"id": list_id}, token=token)).data["list"]
    assert [edge["node"]["title"] for edge in shown["two"]["edges"]] == ["A", "B"]
    assert [edge["node"]["title"] for edge in shown["all"]["edges"]] == ["A", "B", "C"]


async def test_garbage_item_cursors_are_bad_user_input(client: GraphQLClient, engine) -> None:
    _, token = await make_user(engine)
    list_id = await create(client, token)
    result = await client(LIST_PAGE, {"id": list_id, "after": "garbage"}, token=token)
    assert result.errors[0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_update_and_delete_a_list(client: GraphQLClient, engine) -> None:
    _, token = await make_user(engine)
    list_id = await create(client, token)
    updated = await client(
        UPDATE, {"input": {"id": list_id, "name": "Renamed", "isPublic": True}}, token=token
    )
    assert updated.data["updateList"]["list"] == {"name": "Renamed", "isPublic": True, "definition": None}
    deleted = await client(DELETE, {"input": {"id": list_id}}, token=token)
    assert deleted.data["deleteList"] == {"deletedListId": list_id, "userErrors": []}
    assert await page(client, list_id, token) is None


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": "  "}, ["name"]),
        ({"name": "x" * 201}, ["name"]),
        ({"description": "x" * 2001}, ["description"]),
        ({"definition": {"media": {}}}, ["definition"]),
        ({"listType": "SMART"}, ["definition"]),
    ],
)
async def test_invalid_list_fields_are_refused(
    client: GraphQLClient, engine, fields: dict[str, Any], field: list[str]
) -> None:
    _, token = await make_user(engine)
    result = await client(CREATE, {"input": {"name": "ok", **fields}}, token=token)
    assert result.data["createList"]["list"] is None
    assert result.data["createList"]["userErrors"][0]["field"] == field
    assert result.data["createList"]["userErrors"][0]["code"] == "INVALID"


async def test_items_of_a_smart_list_cannot_be_edited(client: GraphQLClient, engine) -> None:
    _, token = await make_user(engine)
    list_id = await create(client, token, listType="SMART", definition={"media": {}})
    errors = (await add(client, token, list_id, await make_media(engine)))["userErrors"]
    assert errors[0]["code"] == "INVALID"


# --- smart lists ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("definition", "field"),
    [
        ({"colour": "red"}, ["definition", "colour"]),
        ({"media": {"nope": 1}}, ["definition", "media", "nope"]),
        ({"media": {"media_types": ["BOOK"]}}, ["definition", "media", "media_types"]),
        ({"media": {"mediaTypes": ["PAINTING"]}}, ["definition", "media", "mediaTypes"]),
        ({"media": {"mediaClass": "not a path"}}, ["definition", "media", "mediaClass"]),
        ({"media": {"releasedAfter": "yesterday"}}, ["definition", "media", "releasedAfter"]),
        ({"tracking": {"statuses": ["WATCHING"]}}, ["definition", "tracking", "statuses"]),
        ({"tracking": {"ratingMin": 0}}, ["definition", "tracking", "ratingMin"]),
        ({"tracking": {"ratingMin": 9, "ratingMax": 8}}, ["definition", "tracking", "ratingMin"]),
        ({"tracking": {"mood": "happy"}}, ["definition", "tracking", "mood"]),
        ({"sort": {"field": "POPULARITY"}}, ["definition", "sort", "field"]),
        ({"sort": {"direction": "UP"}}, ["definition", "sort", "direction"]),
        ({"sort": {"field": "UPDATED_AT"}}, ["definition", "sort", "field"]),
        ([1, 2], ["definition"]),
    ],
)
async def test_smart_definitions_are_validated(client: GraphQLClient, engine, definition, field) -> None:
    _, token = await make_user(engine)
    result = await client(
        CREATE, {"input": {"name": "s", "listType": "SMART", "definition": definition}}, token=token
    )
    payload = result.data["createList"]
    assert payload["list"] is None
    assert payload["userErrors"][0]["code"] == "INVALID"
    assert payload["userErrors"][0]["field"] == field


async def test_a_smart_definition_is_stored_in_its_canonical_form(client: GraphQLClient, engine) -> None:
    _, token = await make_user(engine)
    definition = {
        "media": {"mediaTypes": ["ANIME"], "mediaClass": "video"},
        "tracking": {"statuses": ["IN_PROGRESS"]},
    }
    result = await client(
        CREATE, {"input": {"name": "s", "listType": "SMART", "definition": definition}}, token=token
    )
    assert result.data["createList"]["list"]["definition"] == {
        "media": {"mediaTypes": ["ANIME"], "mediaClass": "video"},
        "tracking": {"statuses": ["IN_PROGRESS"]},
        "sort": {"field": "TITLE", "direction": "ASC"},
    }


async def test_a_smart_list_applies_media_conditions_in_its_sort(client: GraphQLClient, engine) -> None:
    _, token = await make_user(engine)
    await make_media(
        engine, title="Akira", media_type="anime", media_class="video.series.anime", release_date="1988-07-16"
    )
    await make_media(
        engine,
        title="Cowboy Bebop",
        media_type="anime",
        media_class="video.series.anime",
        release_date="1998-04-03",
    )
    await make_media(engine, title="Dune")
    definition = {"media": {"mediaTypes": ["ANIME"]}, "sort": {"field": "RELEASE_DATE", "direction": "DESC"}}
    list_id = await create(client, token, listType="SMART", definition=definition)
    shown = await page(client, list_id, token)
    assert item_titles(shown) == ["Cowboy Bebop", "Akira"]
    assert [edge["position"] for edge in shown["items"]["edges"]] == [0, 1]
    assert shown["items"]["totalCount"] == 2


async def test_a_smart_list_applies_tracking_conditions_to_the_owners_entries(
    client: GraphQLClient, engine
) -> None:
    _, alice = await make_user(engine)
    _, bob = await make_user(engine)
    media = await titled(engine, "Loved", "Liked", "Unfinished", "Bobs")
    await track(client, alice, media["Loved"], status="COMPLETED", rating=9)
    await track(client, alice, media["Liked"], status="COMPLETED", rating=6)
    await track(client, alice, media["Unfinished"], status="IN_PROGRESS", rating=10)
    await track(client, bob, media["Bobs"], status="COMPLETED", rating=10)
    list_id = await create(client, alice, listType="SMART", definition=COMPLETED_AND_RATED_8)
    shown = await page(client, list_id, alice)
    assert item_titles(shown) == ["Loved"]
    assert shown["items"]["totalCount"] == 1
    assert shown["items"]["edges"][0]["node"]["viewerEntry"] == {"status": "COMPLETED", "rating": 9}


async def test_a_smart_list_pages_with_cursors(client: GraphQLClient, engine) -> None:
    _, token = await make_user(engine)
    await titled(engine, "A", "B", "C")
    list_id = await create(client, token, listType="SMART", definition={"media": {}})
    first = await page(client, list_id, token, first=2)
    rest = await page(client, list_id, token, first=2, after=first["items"]["pageInfo"]["endCursor"])
    assert item_titles(first) + item_titles(rest) == ["A", "B", "C"]
    assert [edge["position"] for edge in rest["items"]["edges"]] == [2]


async def test_a_smart_list_sorted_by_entry_update(client: GraphQLClient, engine) -> None:
    _, token = await make_user(engine)
    media = await titled(engine, "A", "B", "C")
    for name in ("B", "C", "A"):
        await track(client, token, media[name])
    definition = {"tracking": {}, "sort": {"field": "UPDATED_AT", "direction": "DESC"}}
    list_id = await create(client, token, listType="SMART", definition=definition)
    assert item_titles(await page(client, list_id, token)) == ["A", "C", "B"]


async def test_a_smart_definition_can_be_replaced(client: GraphQLClient, engine) -> None:
    _, token = await make_user(engine)
    await make_media(engine, title="Akira", media_type="anime", media_class="video.series.anime")
    await make_media(engine, title="Dune")
    list_id = await create(client, token, listType="SMART", definition={"media": {"mediaTypes": ["ANIME"]}})
    variables = {"input": {"id": list_id, "definition": {"media": {"mediaTypes": ["BOOK"]}}}}
    assert (await client(UPDATE, variables, token=token)).data["updateList"]["userErrors"] == []
    assert item_titles(await page(client, list_id, token)) == ["Dune"]


# --- privacy ---------------------------------------------------------------------------------------


async def test_a_private_list_is_invisible_to_others(client: GraphQLClient, engine) -> None:
    _, alice = await make_user(engine)
    _, bob = await make_user(engine)
    list_id = await create(client, alice)
    assert (await page(client, list_id, alice))["name"] == "My list"
    assert await page(client, list_id, bob) is None
    assert await page(client, list_id) is None
    node = await client("query($id: ID!) { node(id: $id) { id } }", {"id": list_id}, token=bob)
    assert node.data == {"node": None}


async def test_a_public_list_is_visible_to_everyone(client: GraphQLClient, engine) -> None:
    _, alice = await make_user(engine, username="alice", profile_visibility="public")
    list_id = await create(client, alice, isPublic=True)
    await add(client, alice, list_id, await make_media(engine, title="Dune"))
    shown = await page(client, list_id)
    assert item_titles(shown) == ["Dune"]
    assert shown["owner"] == {"username": "alice"}


async def test_the_owner_of_a_public_list_with_a_private_profile_stays_hidden(
    client: GraphQLClient, engine
) -> None:
    _, alice = await make_user(engine, username="alice")
    list_id = await create(client, alice, isPublic=True)
    assert (await page(client, list_id))["owner"] is None
    assert (await page(client, list_id, alice))["owner"] == {"username": "alice"}


@pytest.mark.parametrize(("public", "code"), [(False, "NOT_FOUND"), (True, "FORBIDDEN")])
async def test_nobody_but_the_owner_changes_a_list(
    client: GraphQLClient, engine, public: bool, code: str
) -> None:
    _, alice = await make_user(engine)
    _, bob = await make_user(engine)
    list_id = await create(client, alice, isPublic=public)
    media_id = await make_media(engine)
    assert (await add(client, bob, list_id, media_id))["userErrors"][0]["code"] == code
    renamed = await client(UPDATE, {"input": {"id": list_id, "name": "mine"}}, token=bob)
    assert renamed.data["updateList"]["userErrors"][0]["code"] == code
    deleted = await client(DELETE, {"input": {"id": list_id}}, token=bob)
    assert deleted.data["deleteList"]["userErrors"][0]["code"] == code
    assert (await page(client, list_id, alice))["name"] == "My list"


async def test_anonymous_callers_and_read_tokens_cannot_create_lists(client: GraphQLClient, engine) -> None:
    user_id, _ = await make_user(engine)
    reader = await make_read_token(engine, user_id)
    anonymous = await client(CREATE, {"input": {"name": "x"}})
    assert anonymous.data["createList"]["userErrors"][0]["code"] == "UNAUTHENTICATED"
    read_only = await client(CREATE, {"input": {"name": "x"}}, token=reader)
    assert read_only.data["createList"]["userErrors"][0]["code"] == "FORBIDDEN"


async def test_others_see_only_public_lists_of_a_public_profile(client: GraphQLClient, engine) -> None:
    _, alice = await make_user(engine, username="alice", profile_visibility="public")
    _, bob = await make_user(engine)
    await create(client, alice, name="Secret")
    await create(client, alice, name="Shared", isPublic=True)
    for token in (bob, None):
        lists = (await client(USER_LISTS, {"name": "alice"}, token=token)).data["user"]["lists"]
        assert lists == {"totalCount": 1, "edges": [{"node": {"name": "Shared"}}]}
    own = (await client(USER_LISTS, {"name": "alice"}, token=alice)).data["user"]["lists"]
    assert own["totalCount"] == 2


async def test_a_public_smart_list_of_a_private_library_shows_others_nothing(
    client: GraphQLClient, engine
) -> None:
    _, alice = await make_user(engine)
    _, bob = await make_user(engine)
    loved = await make_media(engine, title="Loved")
    await track(client, alice, loved, status="COMPLETED", rating=9)
    list_id = await create(client, alice, listType="SMART", isPublic=True, definition=COMPLETED_AND_RATED_8)
    for token in (bob, None):
        shown = await page(client, list_id, token)
        assert shown["itemsRestricted"] is True
        assert shown["items"] == {
            "totalCount": 0,
            "pageInfo": {"hasNextPage": False, "endCursor": None},
            "edges": [],
        }
    owner_view = await page(client, list_id, alice)
    assert owner_view["itemsRestricted"] is False
    assert item_titles(owner_view) == ["Loved"]


async def test_a_public_smart_list_of_a_public_library_shows_items_not_ratings(
    client: GraphQLClient, engine
) -> None:
    _, alice = await make_user(engine, profile_visibility="public")
    _, bob = await make_user(engine)
    loved = await make_media(engine, title="Loved")
    await track(client, alice, loved, status="COMPLETED", rating=9)
    list_id = await create(client, alice, listType="SMART", isPublic=True, definition=COMPLETED_AND_RATED_8)
    shown = await page(client, list_id, bob)
    assert shown["itemsRestricted"] is False
    assert item_titles(shown) == ["Loved"]
    assert shown["items"]["edges"][0]["node"]["viewerEntry"] is None


async def test_a_public_smart_list_without_tracking_conditions_shows_everyone_its_items(
    client: GraphQLClient, engine
) -> None:
    _, alice = await make_user(engine)
    await make_media(engine, title="Akira", media_type="anime", media_class="video.series.anime")
    definition = {"media": {"mediaTypes": ["ANIME"]}}
    list_id = await create(client, alice, listType="SMART", isPublic=True, definition=definition)
    assert item_titles(await page(client, list_id)) == ["Akira"]


# --- batching --------------------------------------------------------------------------------------


async def _lists_with_items(client: GraphQLClient, engine, token: str, lists: int, items: int) -> None:
    for n in range(lists):
        list_id = await create(client, token, name=f"L{n}")
        for _ in range(items):
            media_id = await make_media(engine)
            await add(client, token, list_id, media_id)
            await track(client, token, media_id, status="IN_PROGRESS")


async def test_nested_lists_and_items_cost_the_same_statements_for_more_rows(
    client: GraphQLClient, engine
) -> None:
    _, small = await make_user(engine)
    _, large = await make_user(engine)
    await _lists_with_items(client, engine, small, lists=1, items=2)
    await _lists_with_items(client, engine, large, lists=4, items=8)
    few = await client(NESTED, token=small)
    many = await client(NESTED, token=large)
    assert few.queries == many.queries
    edges = many.data["viewer"]["lists"]["edges"]
    assert [len(edge["node"]["items"]["edges"]) for edge in edges] == [8] * 4
    assert edges[0]["node"]["items"]["edges"][0]["node"]["viewerEntry"] == {"status": "IN_PROGRESS"}


async def test_my_lists_with_static_and_smart_lists_costs_constant_statements(
    client: GraphQLClient, engine
) -> None:
    _, small = await make_user(engine)
    _, large = await make_user(engine)
    await _lists_with_items(client, engine, small, lists=1, items=1)
    await create(client, small, name="smart", listType="SMART", definition=COMPLETED_AND_RATED_8)
    await _lists_with_items(client, engine, large, lists=3, items=4)
    for n in range(3):
        await create(client, large, name=f"smart {n}", listType="SMART", definition={"tracking": {}})
    few = await client(MY_LISTS, token=small)
    many = await client(MY_LISTS, token=large)
    assert few.queries == many.queries
    lists = many.data["viewer"]["lists"]
    assert lists["totalCount"] == 6
    assert [edge["node"]["items"]["totalCount"] for edge in lists["edges"]] == [4, 4, 4, 12, 12, 12]


async def test_adding_an_item_is_one_command_of_few_statements(client: GraphQLClient, engine) -> None:
    _, token = await make_user(engine)
    list_id = await create(client, token)
    first, second = await make_media(engine), await make_media(engine)
    await add(client, token, list_id, first)
    result = await client(ADD, {"input": {"listId": list_id, "mediaId": mid(second)}}, token=token)
    assert result.data["addListItem"] == {"position": 1, "userErrors": []}
    # The viewer, the lock, the facts, a free position, the insert and the touch (9 before the command).
    assert result.queries <= 6, result.queries


async def test_a_null_visibility_is_refused_in_the_api_names(client: GraphQLClient, engine) -> None:
    _, token = await make_user(engine)
    list_id = await create(client, token)
    result = await client(
        "mutation($input: UpdateListInput!) { updateList(input: $input) { list { id } userErrors { field code message } } }",
        {"input": {"id": list_id, "isPublic": None}},
        token=token,
    )
    assert result.data["updateList"] == {
        "list": None,
        "userErrors": [{"field": ["isPublic"], "code": "INVALID", "message": "isPublic cannot be null"}],
    }
