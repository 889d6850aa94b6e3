"""Entries of PRIVATE profiles never count in anything another user can read: Media.stats and the
popularity sort (media.tracker_count) aggregate the entries of PUBLIC profiles only."""

import uuid
from typing import Any

from sqlalchemy import select

from db.models import Media
from gql.relay import to_global_id
from tests.client import GraphQLClient
from tests.factories import make_media, make_user

TRACK = """
mutation($input: TrackMediaInput!) { trackMedia(input: $input) { entry { rating } userErrors { code } } }"""
UNTRACK = """
mutation($input: UntrackMediaInput!) { untrackMedia(input: $input) { userErrors { code } } }"""
SET_VISIBILITY = """
mutation($input: UpdateSettingsInput!) { updateSettings(input: $input) { userErrors { code } } }"""
STATS = """
query($id: ID!) { media(id: $id) { stats { trackers meanRating byStatus { status count } breakdownWithheld } } }"""
POPULAR = "{ searchMedia(sort: [{field: POPULARITY}]) { edges { node { title } } } }"


async def track(client: GraphQLClient, token: str, media_id: uuid.UUID, rating: int) -> None:
    variables = {
        "input": {"mediaId": to_global_id("Media", media_id), "status": "COMPLETED", "rating": rating}
    }
    assert (await client(TRACK, variables, token=token)).data["trackMedia"]["userErrors"] == []


async def stats_seen_by(client: GraphQLClient, token: str, media_id: uuid.UUID) -> dict[str, Any]:
    result = await client(STATS, {"id": to_global_id("Media", media_id)}, token=token)
    stats: dict[str, Any] = result.data["media"]["stats"]
    return stats


async def test_the_sock_puppet_attack_reads_nothing_of_a_private_rating(
    client: GraphQLClient, engine
) -> None:
    """Four puppets rate 1, the victim (PRIVATE) rates 9: before, 2.6 x 5 - 4 x 1 gave 9 away. Now the
    victim's entry changes nothing the attacker can read, below the threshold or above it."""
    media_id = await make_media(engine, title="Obscure")
    puppets = [(await make_user(engine, profile_visibility="public"))[1] for _ in range(4)]
    _, victim = await make_user(engine, username="victim")
    for puppet in puppets:
        await track(client, puppet, media_id, 1)
    before = await stats_seen_by(client, puppets[0], media_id)
    await track(client, victim, media_id, 9)
    after = await stats_seen_by(client, puppets[0], media_id)
    assert after == before
    assert after["trackers"] == 4

    fifth = (await make_user(engine, profile_visibility="public"))[1]
    await track(client, fifth, media_id, 1)
    above_threshold = await stats_seen_by(client, puppets[0], media_id)
    assert above_threshold["breakdownWithheld"] is False
    assert (above_threshold["trackers"], above_threshold["meanRating"]) == (5, 1.0)
    completed = {row["status"]: row["count"] for row in above_threshold["byStatus"]}["COMPLETED"]
    assert completed == 5
    untracked = {"input": {"mediaId": to_global_id("Media", media_id)}}
    assert (await client(UNTRACK, untracked, token=victim)).data["untrackMedia"]["userErrors"] == []
    assert await stats_seen_by(client, puppets[0], media_id) == above_threshold


async def tracker_count(engine, media_id: uuid.UUID) -> int:
    async with engine.connect() as conn:
        count: int = (
            await conn.execute(select(Media.tracker_count).where(Media.id == media_id))
        ).scalar_one()
    return count


async def test_popularity_counts_public_profiles_only(client: GraphQLClient, engine) -> None:
    watched = await make_media(engine, title="Watched privately")
    await make_media(engine, title="Untracked")
    _, private = await make_user(engine)
    await track(client, private, watched, 8)
    assert await tracker_count(engine, watched) == 0

    visibility = {"input": {"profileVisibility": "PUBLIC"}}
    assert (await client(SET_VISIBILITY, visibility, token=private)).data["updateSettings"][
        "userErrors"
    ] == []
    assert await tracker_count(engine, watched) == 1
    titles = [edge["node"]["title"] for edge in (await client(POPULAR)).data["searchMedia"]["edges"]]
    assert titles == ["Watched privately", "Untracked"]

    visibility = {"input": {"profileVisibility": "PRIVATE"}}
    assert (await client(SET_VISIBILITY, visibility, token=private)).data["updateSettings"][
        "userErrors"
    ] == []
    assert await tracker_count(engine, watched) == 0


async def test_a_public_users_entries_count_until_untracked(client: GraphQLClient, engine) -> None:
    media_id = await make_media(engine)
    _, public = await make_user(engine, profile_visibility="public")
    await track(client, public, media_id, 6)
    assert await tracker_count(engine, media_id) == 1
    untracked = {"input": {"mediaId": to_global_id("Media", media_id)}}
    assert (await client(UNTRACK, untracked, token=public)).data["untrackMedia"]["userErrors"] == []
    assert await tracker_count(engine, media_id) == 0


async def test_stats_follow_a_profile_turning_private_and_public(client: GraphQLClient, engine) -> None:
    media_id = await make_media(engine)
    publics = [(await make_user(engine, profile_visibility="public"))[1] for _ in range(5)]
    for token in publics:
        await track(client, token, media_id, 2)
    _, switching = await make_user(engine, profile_visibility="public")
    await track(client, switching, media_id, 8)
    assert (await stats_seen_by(client, publics[0], media_id))["trackers"] == 6

    for visibility, trackers, mean in (("PRIVATE", 5, 2.0), ("PUBLIC", 6, 3.0)):
        variables = {"input": {"profileVisibility": visibility}}
        assert (await client(SET_VISIBILITY, variables, token=switching)).data["updateSettings"][
            "userErrors"
        ] == []
        stats = await stats_seen_by(client, publics[0], media_id)
        assert (stats["trackers"], stats["meanRating"]) == (trackers, mean)
