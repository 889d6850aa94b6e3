"""searchMedia and franchise: every filter, every sort, typo-tolerant search, keyset pagination."""

import json

import pytest
from sqlalchemy import func, select

from db.media_filters import MediaFilter, filter_conditions
from db.models import Media
from tests.client import GraphQLClient
from tests.factories import make_media

SEARCH = """
query($filter: MediaFilter, $sort: [MediaSort!], $first: Int, $after: String) {
  searchMedia(filter: $filter, sort: $sort, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { cursor node { title } }
  }
}
"""
FRANCHISE = """
query($path: String!, $first: Int, $after: String) {
  franchise(path: $path, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { title mediaType } }
  }
}
"""


async def titles(client: GraphQLClient, media_filter=None, sort=None, first=None, after=None) -> list[str]:
    result = await client(SEARCH, {"filter": media_filter, "sort": sort, "first": first, "after": after})
    return [edge["node"]["title"] for edge in result.data["searchMedia"]["edges"]]


@pytest.fixture
async def shelf(engine) -> None:
    await make_media(
        engine,
        title="Dune",
        creators=["Frank Herbert"],
        release_date="1965-08-01",
        country_of_origin="US",
        collection_path="dune.novels",
        attributes={"genres": ["science fiction", "adventure"], "page_count": 412},
        description="A desert planet and the spice that runs an empire.",
    )
    await make_media(
        engine,
        title="Dune Messiah",
        creators=["Frank Herbert"],
        release_date="1969-10-15",
        country_of_origin="US",
        collection_path="dune.novels",
        attributes={"genres": ["science fiction"]},
    )
    await make_media(
        engine,
        title="Dune",
        media_type="film",
        media_class="video.film",
        creators=["Denis Villeneuve"],
        release_date="2021-09-15",
        country_of_origin="CA",
        collection_path="dune.films",
        attributes={"genres": ["science fiction"], "runtime_minutes": 155},
    )
    await make_media(
        engine,
        title="The Witcher",
        media_type="game",
        media_class="interactive.game",
        creators=["CD Projekt Red"],
        release_date="2007-10-26",
        country_of_origin="PL",
        attributes={"genres": ["fantasy", "adventure"], "platforms": ["PC"]},
    )
    await make_media(
        engine,
        title="Akira",
        media_type="manga",
        media_class="written.comic.manga",
        creators=["Katsuhiro Otomo"],
        country_of_origin="JP",
        attributes={"genres": ["science fiction", "cyberpunk"]},
    )


@pytest.mark.usefixtures("shelf")
async def test_full_text_search_ranks_title_matches_first(client: GraphQLClient) -> None:
    assert await titles(client, {"search": "dune messiah"}) == ["Dune Messiah"]


@pytest.mark.usefixtures("shelf")
async def test_full_text_search_reaches_the_stemmed_description(client: GraphQLClient) -> None:
    assert await titles(client, {"search": "planets"}) == ["Dune"]


@pytest.mark.usefixtures("shelf")
async def test_websearch_syntax_excludes_words(client: GraphQLClient) -> None:
    assert sorted(await titles(client, {"search": "dune -messiah"})) == ["Dune", "Dune"]


@pytest.mark.usefixtures("shelf")
async def test_a_missing_letter_still_finds_the_title(client: GraphQLClient) -> None:
    assert await titles(client, {"search": "Witcer"}) == ["The Witcher"]


@pytest.mark.usefixtures("shelf")
async def test_swapped_letters_still_find_the_title(client: GraphQLClient) -> None:
    found = await titles(client, {"search": "Dnue"})
    assert found[:2] == ["Dune", "Dune"]
    assert "Akira" not in found


@pytest.mark.usefixtures("shelf")
async def test_typo_in_a_multi_word_query_finds_the_title(client: GraphQLClient) -> None:
    assert (await titles(client, {"search": "dnue mesiah"}))[0] == "Dune Messiah"


@pytest.mark.usefixtures("shelf")
async def test_exact_matches_keep_typo_neighbours_out(client: GraphQLClient, engine) -> None:
    await make_media(engine, title="June")
    assert "June" not in await titles(client, {"search": "Dune"})


@pytest.mark.usefixtures("shelf")
async def test_nothing_close_finds_nothing(client: GraphQLClient) -> None:
    assert await titles(client, {"search": "zzyzx"}) == []


@pytest.mark.usefixtures("shelf")
@pytest.mark.parametrize(
    ("media_filter", "expected"),
    [
        ({"mediaTypes": ["FILM", "GAME"]}, ["Dune", "The Witcher"]),
        ({"mediaClass": "written"}, ["Akira", "Dune", "Dune Messiah"]),
        ({"mediaClass": "written.comic"}, ["Akira"]),
        ({"collectionPath": "dune"}, ["Dune", "Dune", "Dune Messiah"]),
        ({"collectionPath": "dune.films"}, ["Dune"]),
        ({"releasedAfter": "1969-10-15"}, ["Dune", "Dune Messiah", "The Witcher"]),
        ({"releasedBefore": "1969-10-14"}, ["Dune"]),
        ({"countries": ["jp", "PL"]}, ["Akira", "The Witcher"]),
        ({"creator": "herbert"}, ["Dune", "Dune Messiah"]),
        ({"genresAny": ["fantasy", "cyberpunk"]}, ["Akira", "The Witcher"]),
        ({"genresAll": ["science-fiction", "adventure"]}, ["Dune"]),
        ({"attributes": {"platforms": ["PC"]}}, ["The Witcher"]),
        ({"attributes": {"runtime_minutes": 155}}, ["Dune"]),
        ({"mediaClass": "written", "creator": "otomo"}, ["Akira"]),
    ],
)
async def test_filters(client: GraphQLClient, media_filter: dict[str, object], expected: list[str]) -> None:
    assert await titles(client, media_filter) == expected


@pytest.mark.usefixtures("shelf")
async def test_total_count_counts_every_page(client: GraphQLClient) -> None:
    result = await client(SEARCH, {"filter": {"mediaClass": "written"}, "first": 1})
    assert result.data["searchMedia"]["totalCount"] == 3
    assert len(result.data["searchMedia"]["edges"]) == 1


@pytest.mark.usefixtures("shelf")
@pytest.mark.parametrize(
    ("field", "direction", "expected"),
    [
        ("TITLE", "DESC", ["The Witcher", "Dune Messiah", "Dune", "Dune", "Akira"]),
        ("RELEASE_DATE", "ASC", ["Dune", "Dune Messiah", "The Witcher", "Dune", "Akira"]),
        ("RELEASE_DATE", "DESC", ["Dune", "The Witcher", "Dune Messiah", "Dune", "Akira"]),
        ("CREATED_AT", "ASC", ["Dune", "Dune Messiah", "Dune", "The Witcher", "Akira"]),
        ("CREATED_AT", "DESC", ["Akira", "The Witcher", "Dune", "Dune Messiah", "Dune"]),
    ],
)
async def test_sorts(client: GraphQLClient, field: str, direction: str, expected: list[str]) -> None:
    assert await titles(client, sort=[{"field": field, "direction": direction}]) == expected


async def test_popularity_sorts_by_tracker_count(client: GraphQLClient, engine) -> None:
    for title, trackers in (("Quiet", 0), ("Loud", 7), ("Middling", 3)):
        await make_media(engine, title=title, tracker_count=trackers)
    assert await titles(client, sort=[{"field": "POPULARITY", "direction": "DESC"}]) == [
        "Loud",
        "Middling",
        "Quiet",
    ]
    assert await titles(client, sort=[{"field": "POPULARITY"}]) == ["Loud", "Middling", "Quiet"]
    assert await titles(client, sort=[{"field": "POPULARITY", "direction": "ASC"}]) == [
        "Quiet",
        "Middling",
        "Loud",
    ]


@pytest.mark.usefixtures("shelf")
async def test_relevance_puts_the_closest_title_first(client: GraphQLClient) -> None:
    found = await titles(client, {"search": "messiah dune"}, sort=[{"field": "RELEVANCE"}])
    assert found[0] == "Dune Messiah"


async def test_a_later_sort_key_breaks_ties(client: GraphQLClient, engine) -> None:
    for title in ("B", "A", "C"):
        await make_media(engine, title=title, release_date="2000-01-01")
    sort = [{"field": "RELEASE_DATE"}, {"field": "TITLE", "direction": "DESC"}]
    assert await titles(client, sort=sort) == ["C", "B", "A"]


@pytest.mark.parametrize(
    "sort",
    [
        [{"field": "TITLE"}],
        [{"field": "RELEASE_DATE", "direction": "DESC"}],
        [{"field": "RELEASE_DATE", "direction": "ASC"}],
        [{"field": "POPULARITY", "direction": "DESC"}],
        [{"field": "RELEVANCE"}],
    ],
)
@pytest.mark.parametrize("media_filter", [{"search": "same"}, {}], ids=["search", "catalog"])
async def test_paging_visits_every_item_once_in_order(
    client: GraphQLClient, engine, sort, media_filter
) -> None:
    """Also without a search text, where a filter's statement is built once and each page's cursor
    (NULL dates included) travels as its parameters."""
    for n in range(11):
        release = None if n % 3 == 0 else f"20{n % 4:02d}-01-01"
        await make_media(engine, title=f"Same {n % 2}", release_date=release, tracker_count=n % 3)
    expected = await titles(client, media_filter, sort=sort, first=100)
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        result = await client(SEARCH, {"filter": media_filter, "sort": sort, "first": 4, "after": after})
        connection = result.data["searchMedia"]
        seen += [edge["node"]["title"] for edge in connection["edges"]]
        pages += 1
        assert connection["pageInfo"]["hasPreviousPage"] is (after is not None)
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert pages == 3
    assert seen == expected
    assert len(seen) == 11


async def test_the_last_page_ends_exactly(client: GraphQLClient, engine) -> None:
    for title in ("A", "B", "C", "D"):
        await make_media(engine, title=title)
    first = (await client(SEARCH, {"first": 2})).data["searchMedia"]
    last = (await client(SEARCH, {"first": 2, "after": first["pageInfo"]["endCursor"]})).data["searchMedia"]
    assert [edge["node"]["title"] for edge in last["edges"]] == ["C", "D"]
    assert last["pageInfo"]["hasNextPage"] is False
    past = (await client(SEARCH, {"first": 2, "after": last["pageInfo"]["endCursor"]})).data["searchMedia"]
    assert past["edges"] == []
    assert past["pageInfo"]["endCursor"] is None


async def test_a_cursor_from_another_sort_is_refused(client: GraphQLClient, engine) -> None:
    await make_media(engine, title="A")
    cursor = (await client(SEARCH, {"first": 1})).data["searchMedia"]["edges"][0]["cursor"]
    result = await client(SEARCH, {"first": 1, "after": cursor, "sort": [{"field": "POPULARITY"}]})
    assert result.errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "another query" in result.errors[0]["message"]


async def test_a_cursor_from_another_query_is_refused(client: GraphQLClient, engine) -> None:
    await make_media(engine, title="A", collection_path="saga")
    cursor = (await client(SEARCH, {"first": 1})).data["searchMedia"]["edges"][0]["cursor"]
    result = await client(FRANCHISE, {"path": "saga", "after": cursor})
    assert result.errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "another query" in result.errors[0]["message"]


async def test_a_cursor_from_another_filter_is_refused(client: GraphQLClient, engine) -> None:
    await make_media(engine, title="A")
    cursor = (await client(SEARCH, {"first": 1})).data["searchMedia"]["edges"][0]["cursor"]
    result = await client(SEARCH, {"first": 1, "after": cursor, "filter": {"mediaTypes": ["BOOK"]}})
    assert result.errors[0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize("cursor", ["garbage", "W10", "WyJzZWFyY2giLFsxXV0"])
async def test_a_garbage_cursor_is_a_clear_error(client: GraphQLClient, cursor: str) -> None:
    result = await client(SEARCH, {"after": cursor})
    assert result.errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert result.errors[0]["message"].startswith("The cursor")


async def test_first_above_100_is_a_clear_error(client: GraphQLClient) -> None:
    result = await client(SEARCH, {"first": 101})
    assert result.errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "between 0 and 100" in result.errors[0]["message"]


@pytest.mark.parametrize(
    ("media_filter", "message"),
    [
        ({"mediaClass": "written/book"}, "filter.mediaClass"),
        ({"collectionPath": "a..b"}, "filter.collectionPath"),
        ({"releasedAfter": "2001-01-01", "releasedBefore": "2000-01-01"}, "filter.releasedAfter"),
        ({"attributes": [1, 2]}, "filter.attributes"),
        ({"search": "x" * 201}, "filter.search"),
    ],
)
async def test_bad_filters_are_clear_errors(
    client: GraphQLClient, media_filter: dict[str, object], message: str
) -> None:
    result = await client(SEARCH, {"filter": media_filter})
    assert result.errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert result.errors[0]["message"].startswith(message)


async def test_franchise_lists_the_universe_in_release_order(client: GraphQLClient, engine) -> None:
    await make_media(engine, title="Undated", collection_path="dune.games", media_type="game")
    await make_media(engine, title="Film", collection_path="dune.films", release_date="2021-09-15")
    await make_media(engine, title="Novel", collection_path="dune.novels", release_date="1965-08-01")
    await make_media(engine, title="Other", collection_path="foundation", release_date="1951-01-01")
    result = await client(FRANCHISE, {"path": "dune"})
    connection = result.data["franchise"]
    assert [edge["node"]["title"] for edge in connection["edges"]] == ["Novel", "Film", "Undated"]
    assert connection["totalCount"] == 3


async def test_franchise_pages(client: GraphQLClient, engine) -> None:
    for year in (2001, 2002, 2003):
        await make_media(engine, title=f"Part {year}", collection_path="saga", release_date=f"{year}-01-01")
    first = (await client(FRANCHISE, {"path": "saga", "first": 2})).data["franchise"]
    rest = (
        await client(FRANCHISE, {"path": "saga", "first": 2, "after": first["pageInfo"]["endCursor"]})
    ).data["franchise"]
    assert [edge["node"]["title"] for edge in rest["edges"]] == ["Part 2003"]


async def test_franchise_refuses_a_malformed_path(client: GraphQLClient) -> None:
    result = await client(FRANCHISE, {"path": "dune novels"})
    assert result.errors[0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.usefixtures("shelf")
async def test_a_search_of_only_punctuation_finds_nothing(client: GraphQLClient) -> None:
    assert await titles(client, {"search": "!!! ?"}) == []


@pytest.mark.usefixtures("shelf")
async def test_a_typo_combines_with_other_filters(client: GraphQLClient) -> None:
    assert await titles(client, {"search": "Dnue", "mediaTypes": ["FILM"]}) == ["Dune"]


async def test_the_exact_title_outranks_items_that_only_mention_it(client: GraphQLClient, engine) -> None:
    await make_media(
        engine,
        title="Frank Herbert's Children of Dune",
        media_type="series",
        media_class="video.series.miniseries",
        creators=["Frank Herbert"],
        description="Dune's sequel saga: the children of Dune rule Dune after Dune Messiah.",
    )
    await make_media(engine, title="Dune", creators=["Frank Herbert"], description="A desert planet.")
    assert (await titles(client, {"search": "Dune"}))[0] == "Dune"


def _executed_scans_matching(plan: object, needle: str) -> int:
    """Plan nodes that ran (loops > 0) with `needle` in a scan or filter condition. A bitmap heap
    scan's recheck is part of its bitmap index scan's read (which of the two plans the planner
    takes depends on the table's statistics, left by the tests before)."""
    if isinstance(plan, list):
        return sum(_executed_scans_matching(node, needle) for node in plan)
    if not isinstance(plan, dict):
        return 0
    conditions = " ".join(str(plan.get(key, "")) for key in ("Filter", "Index Cond"))
    here = int(needle in conditions and plan.get("Actual Loops", 0) > 0)
    return here + sum(_executed_scans_matching(value, needle) for value in plan.values())


async def test_a_search_reads_the_search_vector_once_and_never_scans_titles(engine) -> None:
    for title in ("Dune", "Dune Messiah", "Neuromancer"):
        await make_media(engine, title=title)
    for search, expected in (("dune", 2), ("dnue mesiah", 1)):
        statement = (
            select(func.count()).select_from(Media).where(filter_conditions(MediaFilter(search=search)))
        )
        async with engine.connect() as conn:
            compiled = statement.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
            params = tuple(compiled.params[name] for name in compiled.positiontup or ())
            explain = "EXPLAIN (ANALYZE, FORMAT JSON) " + compiled.string
            plan = (await conn.exec_driver_sql(explain, params)).scalar_one()
            count = (await conn.exec_driver_sql(compiled.string, params)).scalar_one()
        plan = json.loads(plan) if isinstance(plan, str) else plan
        assert count == expected
        assert _executed_scans_matching(plan, "search_vector @@") == 1, json.dumps(plan)
        # The typo tier looks words up in the dictionary; titles are never compared with the query.
        assert _executed_scans_matching(plan, "title %") == 0
        assert _executed_scans_matching(plan, "title ~*") == 0
