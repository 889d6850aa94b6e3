"""Tracking entries: trackMedia / untrackMedia / updateTrackingEntries, the library, statistics,
Media.viewerEntry, privacy of profiles, and the one-partition property of user-scoped queries."""

import datetime as dt
import json
import uuid
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from db import lists as list_queries
from db import tracking as tracking_queries
from db.accounts import API_TOKEN_PREFIX, hash_secret, new_secret
from db.models import ApiToken, UserMedia
from db.smart_lists import SmartDefinition
from gql.relay import to_global_id
from tests.client import GraphQLClient
from tests.factories import make_media, make_user

TRACK = """
mutation($input: TrackMediaInput!) {
  trackMedia(input: $input) {
    entry { status progress progressPercent rating notes repeatCount startedAt completedAt media { title } }
    userErrors { field code message }
  }
}"""
UNTRACK = """
mutation($input: UntrackMediaInput!) {
  untrackMedia(input: $input) { untrackedMediaId userErrors { field code message } }
}"""
BULK = """
mutation($input: UpdateTrackingEntriesInput!) {
  updateTrackingEntries(input: $input) { entries { status rating media { title } } userErrors { field code } }
}"""
VIEWER_ENTRY = "query($id: ID!) { media(id: $id) { viewerEntry { status progress rating } } }"
LIBRARY = """
query($filter: LibraryFilter, $sort: LibrarySort, $first: Int, $after: String) {
  viewer {
    library(filter: $filter, sort: $sort, first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node { status rating media { title } } }
    }
  }
}"""
STATS = """
{ viewer { username stats { total meanRating byStatus { status count } byMediaType { mediaType count } } } }
"""
PROFILE = """
query($username: String!) {
  user(username: $username) {
    username createdAt
    stats { byStatus { status count } byMediaType { mediaType count } meanRating }
    lists(first: 10) { edges { node { id name listType } } }
    library(first: 10) { edges { node { status rating media { id title } } } }
  }
}"""


def gid(media_id: uuid.UUID) -> str:
    return to_global_id("Media", media_id)


async def make_read_token(engine: AsyncEngine, user_id: uuid.UUID) -> str:
    secret = new_secret(API_TOKEN_PREFIX)
    async with engine.begin() as conn:
        await conn.execute(
            insert(ApiToken).values(
                user_id=user_id, name="reader", token_hash=hash_secret(secret), scopes=["READ"]
            )
        )
    return secret


async def track(client: GraphQLClient, token: str, media_id: uuid.UUID, **fields: object) -> Any:
    result = await client(TRACK, {"input": {"mediaId": gid(media_id), **fields}}, token=token)
    return result.data["trackMedia"]


async def test_tracking_creates_a_planned_entry_the_media_shows(client: GraphQLClient, engine) -> None:
    _, token = await make_user(engine)
    media_id = await make_media(engine, title="Dune")
    payload = await track(client, token, media_id)
    assert payload["userErrors"] == []
    assert payload["entry"]["status"] == "PLANNED"
    assert payload["entry"]["media"]["title"] == "Dune"
    shown = await client(VIEWER_ENTRY, {"id": gid(media_id)}, token=token)
    assert shown.data["media"]["viewerEntry"] == {"status": "PLANNED", "progress": 0, "rating": None}


async def test_updating_an_entry_keeps_the_fields_left_out(client: GraphQLClient, engine) -> None:
    _, token = await make_user(engine)
    media_id = await make_media(engine)
    await track(client, token, media_id, status="IN_PROGRESS", rating=7, notes="slow start")
    payload = await track(client, token, media_id, progress=40)
    assert payload["entry"]["status"] == "IN_PROGRESS"
    assert payload["entry"]["rating"] == 7
    assert payload["entry"]["notes"] == "slow start"
    assert payload["entry"]["progress"] == 40


async def test_null_clears_a_rating(client: GraphQLClient, engine) -> None:
    _, token = await make_user(engine)
    media_id = await make_media(engine)
    await track(client, token, media_id, rating=7)
    assert (await track(client, token, media_id, rating=None))["entry"]["rating"] is None


async def test_the_snapshot_keeps_title_and_type_as_tracked(client: GraphQLClient, engine) -> None:
    _, token = await make_user(engine)
    media_id = await make_media(engine, title="Dune", media_type="book")
    await track(client, token, media_id)
    async with engine.connect() as conn:
        snapshot = (await conn.execute(select(UserMedia.meta_snapshot))).scalar_one()
    assert snapshot == {"title": "Dune", "mediaType": "book"}


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"rating": 0}, "rating"),
        ({"rating": 11}, "rating"),
        ({"progress": -1}, "progress"),
        ({"progress": 13}, "progress"),
        ({"repeatCount": -1}, "repeatCount"),
        ({"notes": "x" * 10_001}, "notes"),
        ({"status": None}, "status"),
        ({"progress": None}, "progress"),
        ({"startedAt": "2024-02-01T00:00:00Z", "completedAt": "2024-01-01T00:00:00Z"}, "startedAt"),
    ],
)
async def test_invalid_fields_are_refused_and_nothing_is_written(
    client: GraphQLClient, engine, fields: dict[str, Any], field: str
) -> None:
    _, token = await make_user(engine)
    media_id = await make_media(
        engine, media_type="anime", media_class="video.series.anime", attributes={"episodes": 12}
    )
    payload = await track(client, token, media_id, **fields)
    assert payload["entry"] is None
    assert payload["userErrors"][0]["code"] == "INVALID"
    assert payload["userErrors"][0]["field"] == [field]
    shown = await client(VIEWER_ENTRY, {"id": gid(media_id)}, token=token)
    assert shown.data["media"]["viewerEntry"] is None


async def test_tracking_unknown_media_is_not_found(client: GraphQLClient, engine) -> None:
    _, token = await make_user(engine)
    payload = await track(client, token, uuid.uuid4())
    assert payload["userErrors"] == [{"field": ["mediaId"], "code": "NOT_FOUND", "message": "No such media"}]


async def test_completing_sets_completed_at_and_progress_to_the_total(client: GraphQLClient, engine) -> None:
    _, token = await make_user(engine)
    media_id = await make_media(
        engine, media_type="anime", media_class="video.series.anime", attributes={"episodes": 12}
    )
    await track(client, token, media_id, status="IN_PROGRESS", progress=3)
    entry = (await track(client, token, media_id, status="COMPLETED"))["entry"]
    assert entry["progress"] == 12
    assert entry["progressPercent"] == 100.0
    completed = dt.datetime.fromisoformat(entry["completedAt"])
    assert abs((dt.datetime.now(dt.UTC) - completed).total_seconds()) < 60


async def test_completing_keeps_a_given_completion_date(client: GraphQLClient, engine) -> None:
    _, token = await make_user(engine)
    media_id = await make_media(engine)
    entry = (await track(client, token, media_id, status="COMPLETED", completedAt="2020-05-01T12:00:00Z"))[
        "entry"
    ]
    assert dt.datetime.fromisoformat(entry["completedAt"]) == dt.datetime(2020, 5, 1, 12, tzinfo=dt.UTC)


async def test_progress_percent_is_null_without_a_known_total(client: GraphQLClient, engine) -> None:
    _, token = await make_user(engine)
    film = await make_media(engine, media_type="film", media_class="video.film")
    assert (await track(client, token, film, status="IN_PROGRESS", progress=5))["entry"][
        "progressPercent"
    ] is None


async def test_progress_percent_uses_the_page_count(client: GraphQLClient, engine) -> None:
    _, token = await make_user(engine)
    book = await make_media(engine, attributes={"page_count": 400})
    assert (await track(client, token, book, progress=100))["entry"]["progressPercent"] == 25.0


async def test_anonymous_callers_cannot_track(client: GraphQLClient, engine) -> None:
    media_id = await make_media(engine)
    result = await client(TRACK, {"input": {"mediaId": gid(media_id)}})
    assert result.data["trackMedia"]["userErrors"][0]["code"] == "UNAUTHENTICATED"


async def test_a_read_scoped_token_cannot_track(client: GraphQLClient, engine) -> None:
    user_id, _ = await make_user(engine)
    reader = await make_read_token(engine, user_id)
    media_id = await make_media(engine)
    result = await client(TRACK, {"input": {"mediaId": gid(media_id)}}, token=reader)
    assert result.data["trackMedia"]["userErrors"][0]["code"] == "FORBIDDEN"


async def test_untracking_removes_the_entry(client: GraphQLClient, engine) -> None:
    _, token = await make_user(engine)
    media_id = await make_media(engine)
    await track(client, token, media_id)
    result = await client(UNTRACK, {"input": {"mediaId": gid(media_id)}}, token=token)
    assert result.data["untrackMedia"] == {"untrackedMediaId": gid(media_id), "userErrors": []}
    shown = await client(VIEWER_ENTRY, {"id": gid(media_id)}, token=token)
    assert shown.data["media"]["viewerEntry"] is None


async def test_untracking_an_untracked_item_is_not_found(client: GraphQLClient, engine) -> None:
    _, token = await make_user(engine)
    media_id = await make_media(engine)
    result = await client(UNTRACK, {"input": {"mediaId": gid(media_id)}}, token=token)
    assert result.data["untrackMedia"]["userErrors"][0]["code"] == "NOT_FOUND"


async def test_one_users_entry_is_not_another_users(client: GraphQLClient, engine) -> None:
    _, alice = await make_user(engine)
    _, bob = await make_user(engine)
    media_id = await make_media(engine)
    await track(client, alice, media_id, rating=9)
    shown = await client(VIEWER_ENTRY, {"id": gid(media_id)}, token=bob)
    assert shown.data["media"]["viewerEntry"] is None
    result = await client(UNTRACK, {"input": {"mediaId": gid(media_id)}}, token=bob)
    assert result.data["untrackMedia"]["userErrors"][0]["code"] == "NOT_FOUND"


async def test_bulk_update_changes_every_entry(client: GraphQLClient, engine) -> None:
    _, token = await make_user(engine)
    ids = [await make_media(engine, title=f"T{n}") for n in range(3)]
    for media_id in ids:
        await track(client, token, media_id)
    result = await client(
        BULK, {"input": {"mediaIds": [gid(m) for m in ids], "status": "DROPPED", "rating": 3}}, token=token
    )
    payload = result.data["updateTrackingEntries"]
    assert payload["userErrors"] == []
    assert [(e["status"], e["rating"]) for e in payload["entries"]] == [("DROPPED", 3)] * 3


async def test_bulk_update_is_all_or_nothing(client: GraphQLClient, engine) -> None:
    _, token = await make_user(engine)
    tracked = await make_media(engine)
    untracked = await make_media(engine)
    await track(client, token, tracked)
    result = await client(
        BULK, {"input": {"mediaIds": [gid(tracked), gid(untracked)], "status": "DROPPED"}}, token=token
    )
    assert result.data["updateTrackingEntries"]["userErrors"] == [
        {"field": ["mediaIds", "1"], "code": "NOT_FOUND"}
    ]
    shown = await client(VIEWER_ENTRY, {"id": gid(tracked)}, token=token)
    assert shown.data["media"]["viewerEntry"]["status"] == "PLANNED"


async def test_bulk_update_refuses_more_than_100_items(client: GraphQLClient, engine) -> None:
    _, token = await make_user(engine)
    media_ids = [gid(uuid.uuid4()) for _ in range(101)]
    result = await client(BULK, {"input": {"mediaIds": media_ids, "status": "DROPPED"}}, token=token)
    assert result.data["updateTrackingEntries"]["userErrors"] == [{"field": ["mediaIds"], "code": "INVALID"}]


async def _library_of_three(client: GraphQLClient, engine) -> tuple[uuid.UUID, str]:
    user_id, token = await make_user(engine)
    dune = await make_media(engine, title="Dune", release_date="1965-08-01")
    akira = await make_media(
        engine,
        title="Akira",
        media_type="manga",
        media_class="written.comic.manga",
        release_date="1982-12-20",
    )
    heat = await make_media(engine, title="Heat", media_type="film", media_class="video.film")
    await track(client, token, dune, status="COMPLETED", rating=9)
    await track(client, token, akira, status="IN_PROGRESS", rating=7)
    await track(client, token, heat, status="COMPLETED")
    return user_id, token


def titles(result) -> list[str]:
    return [edge["node"]["media"]["title"] for edge in result.data["viewer"]["library"]["edges"]]


async def test_library_lists_entries_most_recently_updated_first(client: GraphQLClient, engine) -> None:
    _, token = await _library_of_three(client, engine)
    result = await client(LIBRARY, {}, token=token)
    assert titles(result) == ["Heat", "Akira", "Dune"]
    assert result.data["viewer"]["library"]["totalCount"] == 3


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("TITLE", ["Akira", "Dune", "Heat"]),
        ("RATING", ["Dune", "Akira", "Heat"]),
        ("RELEASE_DATE", ["Dune", "Akira", "Heat"]),
        ("STATUS", ["Akira", "Heat", "Dune"]),
    ],
)
async def test_library_sorts(client: GraphQLClient, engine, sort: str, expected: list[str]) -> None:
    _, token = await _library_of_three(client, engine)
    assert titles(await client(LIBRARY, {"sort": sort}, token=token)) == expected


async def test_library_filters_by_status_media_type_and_class(client: GraphQLClient, engine) -> None:
    _, token = await _library_of_three(client, engine)
    by_status = await client(LIBRARY, {"filter": {"statuses": ["COMPLETED"]}, "sort": "TITLE"}, token=token)
    assert titles(by_status) == ["Dune", "Heat"]
    assert by_status.data["viewer"]["library"]["totalCount"] == 2
    by_type = await client(LIBRARY, {"filter": {"mediaTypes": ["FILM"]}}, token=token)
    assert titles(by_type) == ["Heat"]
    by_class = await client(LIBRARY, {"filter": {"mediaClass": "written"}, "sort": "TITLE"}, token=token)
    assert titles(by_class) == ["Akira", "Dune"]


async def test_library_pages_with_cursors(client: GraphQLClient, engine) -> None:
    _, token = await _library_of_three(client, engine)
    seen: list[str] = []
    after = None
    for _ in range(3):
        result = await client(LIBRARY, {"sort": "TITLE", "first": 1, "after": after}, token=token)
        seen += titles(result)
        after = result.data["viewer"]["library"]["pageInfo"]["endCursor"]
    assert seen == ["Akira", "Dune", "Heat"]
    assert result.data["viewer"]["library"]["pageInfo"]["hasNextPage"] is False


@pytest.mark.parametrize(
    "sort", ["UPDATED_AT", "RATING", "TITLE", "RELEASE_DATE", "STATUS", "COMPLETED_AT", "STARTED_AT"]
)
async def test_library_pages_one_by_one_in_the_order_of_one_page(
    client: GraphQLClient, engine, sort: str
) -> None:
    """Every sort's cursor (its values travel as parameters of a statement built once per sort), also
    past an entry without the date a sort uses."""
    _, token = await _library_of_three(client, engine)
    whole = titles(await client(LIBRARY, {"sort": sort}, token=token))
    seen: list[str] = []
    after = None
    for _ in range(3):
        result = await client(LIBRARY, {"sort": sort, "first": 1, "after": after}, token=token)
        seen += titles(result)
        after = result.data["viewer"]["library"]["pageInfo"]["endCursor"]
    assert seen == whole
    assert len(whole) == 3


async def test_a_cursor_of_another_sort_is_bad_user_input(client: GraphQLClient, engine) -> None:
    _, token = await _library_of_three(client, engine)
    first = await client(LIBRARY, {"sort": "TITLE", "first": 1}, token=token)
    cursor = first.data["viewer"]["library"]["pageInfo"]["endCursor"]
    result = await client(LIBRARY, {"sort": "RATING", "after": cursor}, token=token)
    assert result.errors[0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_stats_count_by_status_and_type_with_the_mean_rating(client: GraphQLClient, engine) -> None:
    _, token = await _library_of_three(client, engine)
    stats = (await client(STATS, token=token)).data["viewer"]["stats"]
    assert stats["total"] == 3
    assert stats["meanRating"] == 8.0
    assert stats["byStatus"] == [{"status": "COMPLETED", "count": 2}, {"status": "IN_PROGRESS", "count": 1}]
    assert stats["byMediaType"] == [
        {"mediaType": "BOOK", "count": 1},
        {"mediaType": "FILM", "count": 1},
        {"mediaType": "MANGA", "count": 1},
    ]


async def test_viewer_is_null_when_anonymous(client: GraphQLClient) -> None:
    assert (await client("{ viewer { username } }")).data == {"viewer": None}


async def test_a_private_profile_shows_others_only_the_username(client: GraphQLClient, engine) -> None:
    _, alice = await make_user(engine, username="alice")
    created = await client(
        "mutation($input: CreateListInput!) { createList(input: $input) { userErrors { code } } }",
        {"input": {"name": "Public picks", "isPublic": True, "listType": "STATIC"}},
        token=alice,
    )
    assert created.data["createList"]["userErrors"] == []
    _, bob = await make_user(engine)
    only_username: dict[str, object] = {
        "username": "alice",
        "createdAt": None,
        "stats": None,
        "lists": {"edges": []},
        "library": None,
    }
    assert (await client(PROFILE, {"username": "alice"}, token=bob)).data == {"user": only_username}
    assert (await client(PROFILE, {"username": "alice"})).data == {"user": only_username}


async def test_a_private_profile_node_shows_others_only_the_username(client: GraphQLClient, engine) -> None:
    alice_id, alice = await make_user(engine, username="alice")
    _, bob = await make_user(engine)
    query = "query($id: ID!) { node(id: $id) { ... on User { username createdAt } } }"
    variables = {"id": to_global_id("User", alice_id)}
    assert (await client(query, variables, token=bob)).data == {
        "node": {"username": "alice", "createdAt": None}
    }
    assert (await client(query, variables, token=alice)).data["node"]["createdAt"] is not None


async def test_a_public_profile_shows_library_and_stats(client: GraphQLClient, engine) -> None:
    _, alice = await make_user(engine, username="alice", profile_visibility="public")
    media_id = await make_media(engine, title="Dune")
    await track(client, alice, media_id, status="COMPLETED", rating=9)
    profile = (await client(PROFILE, {"username": "ALICE"})).data["user"]
    assert profile["username"] == "alice"
    assert profile["stats"]["meanRating"] == 9.0
    assert profile["library"]["edges"][0]["node"]["media"]["title"] == "Dune"
    assert profile["library"]["edges"][0]["node"]["rating"] == 9


async def test_the_owner_sees_their_own_private_profile(client: GraphQLClient, engine) -> None:
    _, alice = await make_user(engine, username="alice")
    profile = (await client(PROFILE, {"username": "alice"}, token=alice)).data["user"]
    assert profile["username"] == "alice"
    assert profile["library"]["edges"] == []


async def test_viewer_entries_of_a_page_cost_one_statement(client: GraphQLClient, engine) -> None:
    _, token = await make_user(engine)
    query = "{ searchMedia(first: 50) { edges { node { title viewerEntry { status } } } } }"
    ids = [await make_media(engine) for _ in range(2)]
    await track(client, token, ids[0])
    few = (await client(query, token=token)).queries
    for _ in range(10):
        await track(client, token, await make_media(engine))
    many = await client(query, token=token)
    assert many.queries == few
    assert sum(edge["node"]["viewerEntry"] is not None for edge in many.data["searchMedia"]["edges"]) == 11


# --- scale property: one partition per user-scoped statement ---------------------------------------


async def partitions_scanned(
    engine: AsyncEngine, statement, executed: bool = False, parameters: dict[str, object] | None = None
) -> set[str]:
    """The partitions of user_media in the plan; with `executed`, those the statement did read (a
    partition chosen per row of a batch is pruned at run time, every other one never executed)."""
    async with engine.connect() as conn:
        compiled = statement.compile(dialect=conn.dialect)
        expanded = compiled.construct_expanded_state(parameters)
        params = tuple(expanded.parameters[name] for name in expanded.positiontup or ())
        explain = "EXPLAIN (ANALYZE, FORMAT JSON) " if executed else "EXPLAIN (FORMAT JSON) "
        plan = (await conn.exec_driver_sql(explain + expanded.statement, params)).scalar_one()
    found: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            name = node.get("Relation Name", "")
            if name.startswith("user_media") and (not executed or node.get("Actual Loops", 0) > 0):
                found.add(name)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(plan if not isinstance(plan, str) else json.loads(plan))
    return found


async def test_user_scoped_statements_scan_one_partition(engine) -> None:
    user_id, _ = await make_user(engine)
    media_id = await make_media(engine)
    library = tracking_queries.LibraryFilter(
        statuses=("completed",), media_types=("book",), media_class="written"
    )
    smart = SmartDefinition.from_stored(
        {
            "version": 2,
            "media": {"media_types": ["book"]},
            "tracking": {"statuses": ["completed"], "rating_min": 8},
            "sort": {"field": "updated_at"},
        }
    )
    smart_request = list_queries.ItemsRequest(
        list_id=uuid.uuid4(),
        smart=True,
        owner_id=user_id,
        definition=json.dumps(smart.to_stored()),
        evaluate=True,
    )
    library_request = tracking_queries.LibraryRequest(user_id, library, "updated_at", 20, None)
    query, parameters, _ = tracking_queries.library_pages_query([library_request])
    assert len(await partitions_scanned(engine, query, executed=True, parameters=parameters)) == 1
    query, parameters, _ = tracking_queries.library_counts_query([library_request])
    assert len(await partitions_scanned(engine, query, parameters=parameters)) == 1
    statements = {
        "entries": tracking_queries.entries_query([(user_id, media_id)]),
        "stats": tracking_queries.stats_query([user_id]),
        "smart list items": list_queries.items_query([smart_request])[0],
        "smart list count": list_queries.counts_query([smart_request])[0],
    }
    for name, statement in statements.items():
        scanned = await partitions_scanned(engine, statement)
        assert len(scanned) == 1, (name, scanned)


async def test_the_plan_reader_sees_every_partition_of_an_unscoped_statement(engine) -> None:
    assert len(await partitions_scanned(engine, select(UserMedia.media_id))) == 16
