"""A tracking write that changes nothing leaves the entry as it was (updatedAt included), and the
library sorts by the dates an item was started and finished."""

import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from gql.relay import to_global_id
from tests.client import GraphQLClient
from tests.factories import make_media, make_user

TRACK = """
mutation($input: TrackMediaInput!) {
  trackMedia(input: $input) { entry { status rating notes updatedAt } userErrors { field code } }
}"""
BULK = """
mutation($input: UpdateTrackingEntriesInput!) {
  updateTrackingEntries(input: $input) { entries { rating updatedAt } userErrors { field code } }
}"""
LIBRARY = """
query($sort: LibrarySort, $first: Int, $after: String) {
  viewer { library(sort: $sort, first: $first, after: $after) {
    pageInfo { hasNextPage endCursor } edges { node { media { title } } } } }
}"""


def gid(media_id: uuid.UUID) -> str:
    return to_global_id("Media", media_id)


async def test_resending_the_same_track_media_keeps_updated_at(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    _, token = await make_user(engine)
    dune = await make_media(engine, title="Dune")
    given = {"mediaId": gid(dune), "status": "COMPLETED", "rating": 8, "notes": "spice"}
    first = (await client(TRACK, {"input": given}, token=token)).data["trackMedia"]["entry"]
    again = (await client(TRACK, {"input": given}, token=token)).data["trackMedia"]["entry"]
    assert again == first
    changed = await client(TRACK, {"input": {**given, "rating": 9}}, token=token)
    assert changed.data["trackMedia"]["entry"]["updatedAt"] > first["updatedAt"]


async def test_a_bulk_update_moves_only_the_entries_it_changes(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    _, token = await make_user(engine)
    rated, unrated = await make_media(engine), await make_media(engine)
    before_rated = (await client(TRACK, {"input": {"mediaId": gid(rated), "rating": 7}}, token=token)).data
    before_unrated = (await client(TRACK, {"input": {"mediaId": gid(unrated)}}, token=token)).data
    result = await client(BULK, {"input": {"mediaIds": [gid(rated), gid(unrated)], "rating": 7}}, token=token)
    after_rated, after_unrated = result.data["updateTrackingEntries"]["entries"]
    assert after_rated["updatedAt"] == before_rated["trackMedia"]["entry"]["updatedAt"]
    assert after_unrated["updatedAt"] > before_unrated["trackMedia"]["entry"]["updatedAt"]


async def _dated_library(client: GraphQLClient, engine: AsyncEngine) -> str:
    _, token = await make_user(engine)
    dates = {
        "Early": ("2020-01-01T00:00:00Z", "2020-02-01T00:00:00Z"),
        "Late": ("2021-01-01T00:00:00Z", "2023-01-01T00:00:00Z"),
        "Middle": ("2022-01-01T00:00:00Z", "2022-02-01T00:00:00Z"),
    }
    for title, (started, completed) in dates.items():
        media_id = await make_media(engine, title=title)
        fields = {"status": "COMPLETED", "startedAt": started, "completedAt": completed}
        await client(TRACK, {"input": {"mediaId": gid(media_id), **fields}}, token=token)
    undated = await make_media(engine, title="Undated")
    await client(TRACK, {"input": {"mediaId": gid(undated), "status": "PLANNED"}}, token=token)
    return token


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("COMPLETED_AT", ["Late", "Middle", "Early", "Undated"]),
        ("STARTED_AT", ["Middle", "Late", "Early", "Undated"]),
    ],
)
async def test_library_sorts_by_dates_latest_first_undated_last(
    client: GraphQLClient, engine: AsyncEngine, sort: str, expected: list[str]
) -> None:
    token = await _dated_library(client, engine)
    seen: list[str] = []
    after = None
    while True:
        page = (await client(LIBRARY, {"sort": sort, "first": 1, "after": after}, token=token)).data
        library = page["viewer"]["library"]
        seen += [edge["node"]["media"]["title"] for edge in library["edges"]]
        if not library["pageInfo"]["hasNextPage"]:
            break
        after = library["pageInfo"]["endCursor"]
    assert seen == expected


def test_the_library_sort_enum_is_the_db_vocabulary() -> None:
    from db.vocabulary import LIBRARY_SORTS
    from gql.tracking import LibrarySort

    assert [sort.value for sort in LibrarySort] == list(LIBRARY_SORTS)
