"""Media detail: lookups, external links, relations labelled per side, the franchise graph, stats,
taxonomy counts, and batching that keeps SQL statements independent of the number of rows."""

import uuid

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from db.models import UserMedia
from gql.relay import to_global_id
from tests.client import GraphQLClient
from tests.factories import link_media, make_media, make_user

RELATIONS = """
query($id: ID!, $types: [RelationType!], $direction: RelationDirection) {
  media(id: $id) {
    relations(types: $types, direction: $direction) { relationType direction notes weight node { title } }
  }
}
"""
GRAPH = """
query($id: ID!, $depth: Int, $types: [RelationType!]) {
  media(id: $id) {
    graph(depth: $depth, types: $types) { truncated nodes { id title } edges { from to relationType } }
  }
}
"""
TRAVERSAL = """
query($id: ID!) {
  media(id: $id) {
    title
    relations {
      node {
        title
        externalLinks { sourceName }
        relations { node { title relations { node { title } } } }
      }
    }
  }
}
"""
SEARCH_WITH_RELATIONS = """
query($first: Int) {
  searchMedia(first: $first) {
    totalCount
    edges { node { title relations { relationType node { title externalLinks { sourceName } } } } }
  }
}
"""
STATS = "query($id: ID!) { media(id: $id) { stats { trackers meanRating byStatus { status count } breakdownWithheld } } }"


def gid(media_id: uuid.UUID) -> str:
    return to_global_id("Media", media_id)


async def relations_of(client: GraphQLClient, media_id: uuid.UUID, **variables) -> list[tuple[str, str, str]]:
    result = await client(RELATIONS, {"id": gid(media_id), **variables})
    return [
        (edge["relationType"], edge["direction"], edge["node"]["title"])
        for edge in result.data["media"]["relations"]
    ]


async def test_media_by_external_id_finds_linked_items(client: GraphQLClient, engine) -> None:
    await make_media(engine, title="Dune", external_links=[("tmdb", "438631")])
    query = "query($s: String!, $k: String!) { mediaByExternalId(source: $s, key: $k) { title } }"
    assert (await client(query, {"s": "tmdb", "k": "438631"})).data["mediaByExternalId"]["title"] == "Dune"
    assert (await client(query, {"s": "tmdb", "k": "1"})).data["mediaByExternalId"] is None


async def test_external_links_are_listed(client: GraphQLClient, engine) -> None:
    media_id = await make_media(engine, external_links=[("tmdb", "1"), ("anilist", "2")])
    query = "query($id: ID!) { media(id: $id) { externalLinks { sourceName externalKey } } }"
    links = (await client(query, {"id": gid(media_id)})).data["media"]["externalLinks"]
    assert links == [
        {"sourceName": "anilist", "externalKey": "2"},
        {"sourceName": "tmdb", "externalKey": "1"},
    ]


@pytest.mark.parametrize(
    ("stored", "outgoing", "incoming"),
    [
        ("adaptation", "ADAPTATION", "SOURCE"),
        ("sequel", "SEQUEL", "PREQUEL"),
        ("side-story", "SIDE_STORY", "PARENT_STORY"),
        ("shared-universe", "SHARED_UNIVERSE", "SHARED_UNIVERSE"),
        ("spin-off", "SPIN_OFF", "SPIN_OFF"),
    ],
)
async def test_each_side_sees_its_own_label(
    client: GraphQLClient, engine, stored: str, outgoing: str, incoming: str
) -> None:
    novel = await make_media(engine, title="Novel")
    film = await make_media(engine, title="Film", media_type="film", media_class="video.film")
    await link_media(engine, novel, film, stored)
    assert await relations_of(client, novel) == [(outgoing, "OUTGOING", "Film")]
    assert await relations_of(client, film) == [(incoming, "INCOMING", "Novel")]


async def test_relations_carry_notes_and_weight(client: GraphQLClient, engine) -> None:
    a, b = await make_media(engine), await make_media(engine)
    await link_media(engine, a, b, "remake", notes="shot for shot", weight=3)
    result = await client(RELATIONS, {"id": gid(b)})
    edge = result.data["media"]["relations"][0]
    assert (edge["notes"], edge["weight"]) == ("shot for shot", 3)


@pytest.fixture
async def trilogy(engine) -> dict[str, uuid.UUID]:
    ids = {title: await make_media(engine, title=title) for title in ("One", "Two", "Three", "Film", "Game")}
    await link_media(engine, ids["One"], ids["Two"], "sequel")
    await link_media(engine, ids["Two"], ids["Three"], "sequel")
    await link_media(engine, ids["Two"], ids["Film"], "adaptation")
    await link_media(engine, ids["Game"], ids["Two"], "spin-off")
    return ids


async def test_relations_filter_by_label(client: GraphQLClient, trilogy) -> None:
    found = await relations_of(client, trilogy["Two"], types=["PREQUEL", "ADAPTATION"])
    assert found == [("PREQUEL", "INCOMING", "One"), ("ADAPTATION", "OUTGOING", "Film")]


async def test_relations_filter_by_direction(client: GraphQLClient, trilogy) -> None:
    incoming = await relations_of(client, trilogy["Two"], direction="INCOMING")
    assert incoming == [("PREQUEL", "INCOMING", "One"), ("SPIN_OFF", "INCOMING", "Game")]
    outgoing = await relations_of(client, trilogy["Two"], direction="OUTGOING")
    assert outgoing == [("SEQUEL", "OUTGOING", "Three"), ("ADAPTATION", "OUTGOING", "Film")]


def graph_titles(result) -> set[str]:
    return {node["title"] for node in result.data["media"]["graph"]["nodes"]}


async def test_graph_walks_both_directions_up_to_depth(client: GraphQLClient, trilogy) -> None:
    one = await client(GRAPH, {"id": gid(trilogy["One"]), "depth": 1})
    assert graph_titles(one) == {"One", "Two"}
    two = await client(GRAPH, {"id": gid(trilogy["One"]), "depth": 2})
    assert graph_titles(two) == {"One", "Two", "Three", "Film", "Game"}
    assert two.data["media"]["graph"]["nodes"][0]["title"] == "One"
    edges = {(e["from"], e["to"], e["relationType"]) for e in two.data["media"]["graph"]["edges"]}
    assert (gid(trilogy["Two"]), gid(trilogy["Film"]), "ADAPTATION") in edges
    assert len(edges) == 4


async def test_graph_follows_only_the_types_asked(client: GraphQLClient, trilogy) -> None:
    result = await client(GRAPH, {"id": gid(trilogy["Three"]), "depth": 5, "types": ["PREQUEL"]})
    assert graph_titles(result) == {"One", "Two", "Three"}
    assert {e["relationType"] for e in result.data["media"]["graph"]["edges"]} == {"SEQUEL"}


async def test_graph_survives_cycles(client: GraphQLClient, engine) -> None:
    ring = [await make_media(engine, title=f"Ring {n}") for n in range(4)]
    for n in range(4):
        await link_media(engine, ring[n], ring[(n + 1) % 4], "crossover")
    await link_media(engine, ring[0], ring[2], "other")
    result = await client(GRAPH, {"id": gid(ring[0]), "depth": 5})
    graph = result.data["media"]["graph"]
    assert sorted(node["title"] for node in graph["nodes"]) == [f"Ring {n}" for n in range(4)]
    assert len(graph["edges"]) == 5
    assert graph["truncated"] is False


async def test_graph_depth_zero_is_the_item_alone(client: GraphQLClient, trilogy) -> None:
    result = await client(GRAPH, {"id": gid(trilogy["Two"]), "depth": 0})
    assert graph_titles(result) == {"Two"}
    assert result.data["media"]["graph"]["edges"] == []


@pytest.mark.parametrize("depth", [-1, 6])
async def test_graph_depth_outside_0_to_5_is_refused(client: GraphQLClient, trilogy, depth: int) -> None:
    result = await client(GRAPH, {"id": gid(trilogy["Two"]), "depth": depth})
    assert result.errors[0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_graph_is_cut_at_the_node_cap(client: GraphQLClient, engine, monkeypatch) -> None:
    from db import relations

    monkeypatch.setattr(relations, "GRAPH_NODE_CAP", 3)
    hub = await make_media(engine, title="Hub")
    for n in range(5):
        await link_media(engine, hub, await make_media(engine, title=f"Spoke {n}"), "character")
    result = await client(GRAPH, {"id": gid(hub), "depth": 2})
    graph = result.data["media"]["graph"]
    assert graph["truncated"] is True
    assert len(graph["nodes"]) == 3
    assert graph["nodes"][0]["title"] == "Hub"


async def test_graphs_of_several_items_share_one_statement(client: GraphQLClient, trilogy) -> None:
    query = """query($a: ID!, $b: ID!) {
      a: media(id: $a) { graph(depth: 1) { nodes { title } } }
      b: media(id: $b) { graph(depth: 3) { nodes { title } } }
    }"""
    result = await client(query, {"a": gid(trilogy["One"]), "b": gid(trilogy["Film"])})
    assert {n["title"] for n in result.data["a"]["graph"]["nodes"]} == {"One", "Two"}
    assert len(result.data["b"]["graph"]["nodes"]) == 5
    assert result.queries <= 2


async def track(engine: AsyncEngine, media_id: uuid.UUID, status: str, rating: int | None) -> None:
    user_id, _ = await make_user(engine, profile_visibility="public")
    async with engine.begin() as conn:
        await conn.execute(
            insert(UserMedia).values(user_id=user_id, media_id=media_id, status=status, rating=rating)
        )


async def test_stats_aggregate_every_entry(client: GraphQLClient, engine) -> None:
    media_id = await make_media(engine)
    await track(engine, media_id, "completed", 8)
    await track(engine, media_id, "completed", 9)
    await track(engine, media_id, "in-progress", None)
    await track(engine, media_id, "planned", None)
    await track(engine, media_id, "dropped", 4)
    stats = (await client(STATS, {"id": gid(media_id)})).data["media"]["stats"]
    assert stats["trackers"] == 5
    assert stats["meanRating"] == 7.0
    assert stats["breakdownWithheld"] is False
    by_status = {entry["status"]: entry["count"] for entry in stats["byStatus"]}
    assert by_status == {"PLANNED": 1, "IN_PROGRESS": 1, "COMPLETED": 2, "DROPPED": 1, "PAUSED": 0}


async def test_stats_of_few_trackers_withhold_the_mean_and_the_breakdown(
    client: GraphQLClient, engine
) -> None:
    # With one tracker the mean would be that user's own rating.
    media_id = await make_media(engine)
    for rating in (3, 10, 7, 9):
        await track(engine, media_id, "completed", rating)
    stats = (await client(STATS, {"id": gid(media_id)})).data["media"]["stats"]
    assert stats == {"trackers": 4, "meanRating": None, "byStatus": [], "breakdownWithheld": True}


async def test_stats_of_an_untracked_item_are_empty(client: GraphQLClient, engine) -> None:
    stats = (await client(STATS, {"id": gid(await make_media(engine))})).data["media"]["stats"]
    assert (stats["trackers"], stats["meanRating"]) == (0, None)


async def test_media_types_count_items_per_type(client: GraphQLClient, engine) -> None:
    await make_media(engine, media_type="film", media_class="video.film")
    await make_media(engine, media_type="film", media_class="video.film")
    await make_media(engine, media_type="game", media_class="interactive.game")
    counts = {
        row["mediaType"]: row["count"]
        for row in (await client("{ mediaTypes { mediaType count } }")).data["mediaTypes"]
    }
    assert (counts["FILM"], counts["GAME"], counts["BOOK"]) == (2, 1, 0)
    assert len(counts) == 11


async def test_media_classes_count_each_subtree(client: GraphQLClient, engine) -> None:
    await make_media(engine, media_class="written.book.novel")
    await make_media(engine, media_class="written.comic.manga")
    await make_media(engine, media_class="video.film")
    result = await client("{ mediaClasses { mediaClass count } }")
    counts = {row["mediaClass"]: row["count"] for row in result.data["mediaClasses"]}
    assert counts == {
        "video": 1,
        "video.film": 1,
        "written": 2,
        "written.book": 1,
        "written.book.novel": 1,
        "written.comic": 1,
        "written.comic.manga": 1,
    }


async def make_tree(engine: AsyncEngine, fan_out: int, depth: int = 3) -> uuid.UUID:
    """A root with `fan_out` related items per item for `depth` levels, each with an external link."""
    root = await make_media(engine, title="Root", external_links=[("test", uuid.uuid4().hex)])
    level = [root]
    for _ in range(depth):
        next_level = []
        for parent in level:
            for _ in range(fan_out):
                child = await make_media(engine, external_links=[("test", uuid.uuid4().hex)])
                await link_media(engine, parent, child, "sequel")
                next_level.append(child)
        level = next_level
    return root


async def test_traversal_statements_do_not_grow_with_fan_out(client: GraphQLClient, engine) -> None:
    narrow = await client(TRAVERSAL, {"id": gid(await make_tree(engine, fan_out=1))})
    wide = await client(TRAVERSAL, {"id": gid(await make_tree(engine, fan_out=5))})
    level_one = wide.data["media"]["relations"]
    assert len(level_one) == 5
    assert all(len(edge["node"]["relations"]) == 6 for edge in level_one)  # its prequel and 5 sequels
    assert wide.queries == narrow.queries
    assert wide.queries <= 3 + 3


async def test_search_page_statements_do_not_grow_with_page_size(client: GraphQLClient, engine) -> None:
    for n in range(60):
        media_id = await make_media(engine, title=f"Item {n:02d}", external_links=[("test", f"{n}")])
        await link_media(engine, media_id, await make_media(engine, title=f"Zequel {n:02d}"), "sequel")
    small = await client(SEARCH_WITH_RELATIONS, {"first": 5})
    large = await client(SEARCH_WITH_RELATIONS, {"first": 60})
    assert len(large.data["searchMedia"]["edges"]) == 60
    assert large.data["searchMedia"]["edges"][59]["node"]["relations"][0]["node"]["title"] == "Zequel 59"
    assert small.queries == large.queries
    assert large.queries <= 1 + 3 + 1


async def test_catalog_screen_statements_do_not_grow_with_rows(client: GraphQLClient, engine) -> None:
    query = """query($first: Int) {
      searchMedia(first: $first, sort: [{field: POPULARITY, direction: DESC}]) {
        totalCount edges { cursor node { id title mediaClass attributes stats { trackers meanRating } } }
      }
      mediaTypes { mediaType count }
    }"""
    for _ in range(12):
        await track(engine, await make_media(engine), "planned", 5)
    small = await client(query, {"first": 2})
    large = await client(query, {"first": 12})
    assert len(large.data["searchMedia"]["edges"]) == 12
    assert small.queries == large.queries
    assert large.queries <= 4


async def test_nodes_load_several_media_in_one_statement(client: GraphQLClient, engine) -> None:
    ids = [gid(await make_media(engine, title=title)) for title in ("A", "B", "C")]
    query = "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Media { title } } }"
    result = await client(query, {"ids": [*ids, "garbage"]})
    assert result.data["nodes"] == [{"title": "A"}, {"title": "B"}, {"title": "C"}, None]
    assert result.queries <= 1
