"""media.tracker_count follows the entries: one per user tracking the item, whichever way entries are
written (one trackMedia, a bulk import, several rows of one item in one statement) or removed."""

import uuid

from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from db.models import Media, User
from gql.relay import to_global_id
from tests.client import GraphQLClient
from tests.factories import make_media, make_user
from tests.library_import_catalog import fixture_bytes, make_import_catalog
from tests.test_library_import_formats import import_file

TRACK = "mutation($input: TrackMediaInput!) { trackMedia(input: $input) { userErrors { code } } }"
UNTRACK = "mutation($input: UntrackMediaInput!) { untrackMedia(input: $input) { userErrors { code } } }"


async def tracker_counts(engine: AsyncEngine) -> dict[uuid.UUID, int]:
    async with engine.connect() as conn:
        return {
            row.id: row.tracker_count for row in await conn.execute(select(Media.id, Media.tracker_count))
        }


async def true_counts(engine: AsyncEngine) -> dict[uuid.UUID, int]:
    query = text(
        "SELECT m.id, count(u.id) AS n FROM media.media m "
        "LEFT JOIN interaction.user_media um ON um.media_id = m.id "
        "LEFT JOIN users.users u ON u.id = um.user_id AND u.settings ->> 'profile_visibility' = 'public' "
        "GROUP BY m.id"
    )
    async with engine.connect() as conn:
        return {row.id: row.n for row in await conn.execute(query)}


async def test_tracker_counts_follow_track_untrack_imports_and_deleted_users(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    catalog = await make_import_catalog(engine)
    first_id, first = await make_user(engine, profile_visibility="public")
    second_id, second = await make_user(engine, profile_visibility="public")
    _, private = await make_user(engine)
    dune = to_global_id("Media", catalog["Dune"])
    for token in (first, second, private):
        await client(TRACK, {"input": {"mediaId": dune, "status": "COMPLETED"}}, token=token)
    await client(TRACK, {"input": {"mediaId": dune, "rating": 3}}, token=first)
    assert (await tracker_counts(engine))[catalog["Dune"]] == 2
    for user_id in (first_id, second_id):
        await import_file(engine, user_id, "mal", fixture_bytes("mal_anime.xml"), "a.xml")
    counts = await tracker_counts(engine)
    assert counts == await true_counts(engine)
    assert counts[catalog["Cowboy Bebop"]] == 2
    await client(UNTRACK, {"input": {"mediaId": dune}}, token=second)
    assert (await tracker_counts(engine))[catalog["Dune"]] == 1
    async with engine.begin() as conn:
        await conn.execute(delete(User).where(User.id == first_id))
    counts = await tracker_counts(engine)
    assert counts == await true_counts(engine)
    assert (counts[catalog["Dune"]], counts[catalog["Cowboy Bebop"]]) == (0, 1)


async def test_a_deleted_item_takes_its_entries_along(engine: AsyncEngine) -> None:
    user_id, _ = await make_user(engine)
    media_id = await make_media(engine)
    async with engine.begin() as conn:
        await conn.execute(
            text("INSERT INTO interaction.user_media (user_id, media_id) VALUES (:u, :m)"),
            {"u": user_id, "m": media_id},
        )
        await conn.execute(delete(Media).where(Media.id == media_id))
    assert await tracker_counts(engine) == {}
