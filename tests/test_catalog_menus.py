"""Filter menus and counters: genres in one spelling, counts kept by the writes that change them,
bounded totalCount, the ranked window's paging, Media.stats from counters."""

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, event, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

import db.keyset
import db.media
import db.media_search
from db.genres import normalize_genre
from db.media_filters import MediaFilter, filter_conditions
from db.media_search import MediaSort
from db.models import CatalogCount, Media, UserMedia, title_words
from gql.relay import to_global_id
from tests.client import GraphQLClient
from tests.factories import make_media, make_user
from tests.test_admin import CREATE, DUNE_INPUT, UPDATE, admin_token
from tests.test_search_relevance import load_demo_with_trackers

ROOT = Path(__file__).resolve().parent.parent
MENUS = """{ genres { name count } mediaTypes { mediaType count } mediaClasses { mediaClass count } }"""
SEARCH = """query($filter: MediaFilter, $first: Int, $after: String) {
  searchMedia(filter: $filter, first: $first, after: $after) {
    totalCount totalCountIsExact pageInfo { hasNextPage endCursor } edges { node { title } } } }"""


def test_genre_spellings_fold_into_one() -> None:
    spellings = ["Sci-Fi", "sci fi", "SciFi", "science-fiction", "Science  Fiction", "science_fiction", "SF"]
    assert {normalize_genre(spelling) for spelling in spellings} == {"science fiction"}
    assert normalize_genre("  Role-Playing ") == normalize_genre("RPG") == "role playing"
    assert normalize_genre("Dark  Fantasy") == "dark fantasy"


async def menus(client: GraphQLClient) -> dict[str, dict[str, int]]:
    data = (await client(MENUS)).data
    return {
        "genres": {row["name"]: row["count"] for row in data["genres"]},
        "types": {row["mediaType"]: row["count"] for row in data["mediaTypes"] if row["count"]},
        "classes": {row["mediaClass"]: row["count"] for row in data["mediaClasses"]},
    }


async def test_admin_writes_store_genres_in_one_spelling_and_keep_the_menus_counted(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    token = await admin_token(engine)
    dune = {**DUNE_INPUT, "attributes": {"genres": ["Sci-Fi", "Space Opera", "science fiction"]}}
    created = (await client(CREATE, {"input": dune}, token=token)).data["createMedia"]["media"]
    assert created["attributes"]["genres"] == ["science fiction", "space opera"]
    await make_media(engine, title="Akira", media_type="manga", media_class="written.comic.manga")
    assert await menus(client) == {
        "genres": {"science fiction": 1, "space opera": 1},
        "types": {"BOOK": 1, "MANGA": 1},
        "classes": {
            "written": 2,
            "written.book": 1,
            "written.book.novel": 1,
            "written.comic": 1,
            "written.comic.manga": 1,
        },
    }
    variables = {"input": {"id": created["id"], "attributes": {"genres": ["SF", "Horror"]}}}
    await client(UPDATE, variables, token=token)
    assert (await menus(client))["genres"] == {"science fiction": 1, "horror": 1}
    async with engine.begin() as conn:
        await conn.execute(delete(Media).where(Media.title == "Akira"))
    counted = await menus(client)
    assert counted["types"] == {"BOOK": 1}
    assert "written.comic" not in counted["classes"]


async def test_counters_agree_with_the_catalog_after_mixed_writes(engine: AsyncEngine) -> None:
    for n in range(6):
        await make_media(engine, title=f"Item {n}", attributes={"genres": ["drama", "comedy"][: 1 + n % 2]})
    async with engine.begin() as conn:
        await conn.execute(
            update(Media).where(Media.title.in_(["Item 0", "Item 1"])).values(media_type="film")
        )
        await conn.execute(delete(Media).where(Media.title == "Item 2"))
    async with engine.connect() as conn:
        counted = dict(
            (
                await conn.execute(
                    select(CatalogCount.value, func.sum(CatalogCount.items))
                    .where(CatalogCount.kind == "type")
                    .group_by(CatalogCount.value)
                )
            ).all()
        )
        actual = dict(
            (await conn.execute(select(Media.media_type, func.count()).group_by(Media.media_type))).all()
        )
        genres = await db.media.genre_counts(conn)
    assert {k: v for k, v in counted.items() if v} == actual == {"film": 2, "book": 3}
    assert genres == [("drama", 5), ("comedy", 3)]


async def test_genre_filters_accept_any_spelling(client: GraphQLClient, engine: AsyncEngine) -> None:
    await make_media(engine, title="Dune", attributes={"genres": ["science fiction"]})
    await make_media(engine, title="Emma", attributes={"genres": ["romance"]})
    for spelling in ("Sci-Fi", "science-fiction", "Science Fiction", "SCIFI"):
        result = await client(SEARCH, {"filter": {"genresAny": [spelling]}})
        assert [e["node"]["title"] for e in result.data["searchMedia"]["edges"]] == ["Dune"], spelling


async def test_readme_and_schema_examples_find_items_in_the_demo_catalog(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    await load_demo_with_trackers(engine)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    browsing = readme[readme.index("## Browsing the catalog") :]
    examples = re.findall(r"```graphql\n(\{\n  searchMedia.*?)```", browsing, re.DOTALL)
    assert len(examples) == 2
    for example in examples:
        result = await client(example)
        assert not result.errors, result.errors
        assert result.data["searchMedia"]["totalCount"] > 0, example
        assert result.data["searchMedia"]["edges"]
    schema = (ROOT / "schema.graphql").read_text(encoding="utf-8")
    containment = re.search(r"JSON containment: `(\{.*?\})`", schema)
    assert containment is not None
    result = await client(SEARCH, {"filter": {"attributes": json.loads(containment.group(1))}})
    assert result.data["searchMedia"]["totalCount"] > 0
    menu = (await menus(client))["genres"]
    assert menu["science fiction"] > 20
    assert "science-fiction" not in menu


async def test_total_count_is_exact_up_to_the_bound(
    client: GraphQLClient, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db.media_search, "COUNT_BOUND", 5)
    monkeypatch.setattr(db.media_search, "SEARCH_COUNT_BOUND", 3)
    for n in range(6):
        await make_media(engine, title=f"Harbor {n}")
    over = (await client(SEARCH, {"filter": {"search": "harbor"}})).data["searchMedia"]
    assert (over["totalCount"], over["totalCountIsExact"], len(over["edges"])) == (3, False, 6)
    exact = (await client(SEARCH, {"filter": {"search": "harbor 1"}})).data["searchMedia"]
    assert (exact["totalCount"], exact["totalCountIsExact"]) == (1, True)
    # Without a text search the bound is COUNT_BOUND.
    books = (await client(SEARCH, {"filter": {"mediaTypes": ["BOOK"]}})).data["searchMedia"]
    assert (books["totalCount"], books["totalCountIsExact"]) == (5, False)


async def test_a_search_by_types_sorted_by_date_is_counted_exactly_up_to_the_search_bound(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    """At the real bound (SEARCH_COUNT_BOUND), for a text search filtered by types and sorted by release
    date (each type's index walked, the walks merged): matches of other types never count."""
    bound = db.media_search.SEARCH_COUNT_BOUND
    classes = {"film": "video.film", "series": "video.series", "book": "written.book.novel"}

    async def add(media_type: str, count: int, start: int) -> None:
        rows = [
            {
                "title": f"Harbor {media_type} {n}",
                "media_type": media_type,
                "media_class": classes[media_type],
                "external_id": f"bound:{media_type}:{n}",
                "release_date": dt.date(1950, 1, 1) + dt.timedelta(days=n),
            }
            for n in range(start, start + count)
        ]
        async with engine.begin() as conn:
            await conn.execute(insert(Media).values(rows))

    await add("book", 3, 0)
    await add("film", bound // 2, 0)
    await add("series", bound - bound // 2, 0)
    search = {
        "filter": {"search": "harbor", "mediaTypes": ["FILM", "SERIES"]},
        "sort": [{"field": "RELEASE_DATE", "direction": "DESC"}],
        "first": 20,
    }
    sorted_search = """query($filter: MediaFilter, $sort: [MediaSort!], $first: Int) {
      searchMedia(filter: $filter, sort: $sort, first: $first) {
        totalCount totalCountIsExact edges { node { title } } } }"""

    async def counted(variables: dict[str, Any]) -> tuple[int, bool, int]:
        found = (await client(sorted_search, variables)).data["searchMedia"]
        return found["totalCount"], found["totalCountIsExact"], len(found["edges"])

    assert await counted(search) == (bound, True, 20)
    await add("series", 1, bound)
    assert await counted(search) == (bound, False, 20)
    films_only = {**search, "filter": {"search": "harbor", "mediaTypes": ["FILM"]}}
    assert await counted(films_only) == (bound // 2, True, 20)


async def test_the_count_is_read_only_when_asked_for(client: GraphQLClient, engine: AsyncEngine) -> None:
    await make_media(engine, title="Harbor")
    counts: list[str] = []

    def note(*args: object) -> None:
        if "count(" in str(args[2]):
            counts.append(str(args[2]))

    event.listen(engine.sync_engine, "before_cursor_execute", note)
    try:
        by_title = {"f": {"search": "harbor"}, "sort": [{"field": "TITLE"}]}
        page = """query($f: MediaFilter, $sort: [MediaSort!]) {
          searchMedia(filter: $f, sort: $sort) { edges { node { title } } } }"""
        await client(page, by_title)
        assert counts == []
        counted = """query($f: MediaFilter, $sort: [MediaSort!]) { searchMedia(filter: $f, sort: $sort) {
          ... on MediaConnection { totalCount } edges { node { title } } } }"""
        result = await client(counted, by_title)
        assert result.data["searchMedia"]["totalCount"] == 1
        assert len(counts) == 1
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", note)


async def test_a_ranked_search_counts_its_matches_while_reading_its_page(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    for n in range(3):
        await make_media(engine, title=f"Harbor {n}")
    statements: list[str] = []

    def note(*args: object) -> None:
        statements.append(str(args[2]))

    page = "query($f: MediaFilter) { searchMedia(filter: $f) { edges { node { title } } } }"
    counted = """query($f: MediaFilter) { searchMedia(filter: $f) {
      totalCount totalCountIsExact edges { node { title } } } }"""
    event.listen(engine.sync_engine, "before_cursor_execute", note)
    try:
        await client(page, {"f": {"search": "harbor"}})
        without_count = len(statements)
        statements.clear()
        result = (await client(counted, {"f": {"search": "harbor"}})).data["searchMedia"]
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", note)
    assert (result["totalCount"], result["totalCountIsExact"], len(result["edges"])) == (3, True, 3)
    assert len(statements) == without_count


async def test_paging_past_the_ranked_window_visits_every_match_once(
    client: GraphQLClient, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db.media_search, "RANK_WINDOW", 3)
    ids = [await make_media(engine, title=f"Storm {n}") for n in range(9)]
    await make_media(engine, title="Storm")
    async with engine.begin() as conn:
        for n, media_id in enumerate(ids):
            await conn.execute(update(Media).where(Media.id == media_id).values(tracker_count=n % 4))
    seen: list[str] = []
    after = None
    while True:
        result = (await client(SEARCH, {"filter": {"search": "storm"}, "first": 2, "after": after})).data
        page = result["searchMedia"]
        seen += [edge["node"]["title"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen[0] == "Storm"
    assert sorted(seen) == sorted(["Storm", *(f"Storm {n}" for n in range(9))])
    # The window holds the exact title and the three most popular; the rest follow by popularity.
    assert set(seen[1:3]) == {"Storm 3", "Storm 7"}
    assert seen[3] in {"Storm 2", "Storm 6"}
    rest = seen[4:]
    popularity = {f"Storm {n}": n % 4 for n in range(9)}
    assert [popularity[title] for title in rest] == sorted((popularity[t] for t in rest), reverse=True)


async def test_new_and_renamed_titles_join_the_typo_dictionary(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    media_id = await make_media(engine, title="Neuromancer", creators=["William Gibson"])
    async with engine.begin() as conn:
        await conn.execute(update(Media).where(Media.id == media_id).values(title="Count Zero"))
    async with engine.connect() as conn:
        words = set((await conn.execute(select(title_words.c.word))).scalars())
    assert {"neuromancer", "count", "zero", "william", "gibson"} <= words
    result = await client(SEARCH, {"filter": {"search": "Cuont Zero"}})
    assert [e["node"]["title"] for e in result.data["searchMedia"]["edges"]] == ["Count Zero"]


STATS = """query($id: ID!) { media(id: $id) { stats { trackers meanRating byStatus { status count } } } }"""


async def test_stats_follow_status_and_rating_changes_and_deletions(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    media_id = await make_media(engine)
    users = [(await make_user(engine, profile_visibility="public"))[0] for _ in range(6)]
    private_user, _ = await make_user(engine)
    async with engine.begin() as conn:
        for n, user_id in enumerate(users):
            await conn.execute(
                insert(UserMedia).values(user_id=user_id, media_id=media_id, status="completed", rating=4 + n)
            )
        await conn.execute(
            insert(UserMedia).values(user_id=private_user, media_id=media_id, status="completed", rating=1)
        )
        await conn.execute(
            update(UserMedia).where(UserMedia.user_id == users[0]).values(status="dropped", rating=None)
        )
        await conn.execute(delete(UserMedia).where(UserMedia.user_id == users[1]))
    stats = (await client(STATS, {"id": to_global_id("Media", media_id)})).data["media"]["stats"]
    by_status = {row["status"]: row["count"] for row in stats["byStatus"]}
    assert stats["trackers"] == 5
    assert stats["meanRating"] == (6 + 7 + 8 + 9) / 4
    assert (by_status["COMPLETED"], by_status["DROPPED"]) == (4, 1)


async def test_concurrent_writers_never_wait_on_each_other_for_words_or_counters(engine: AsyncEngine) -> None:
    async with engine.connect() as first, engine.connect() as second:
        await first.begin()
        await second.begin()
        for conn, title in ((first, "Zorblax Rising"), (second, "Zorblax Falling")):
            await conn.execute(text("SET LOCAL statement_timeout = '3s'"))
            await conn.execute(
                insert(Media).values(media_type="book", media_class="written.book.novel", title=title)
            )
        await first.commit()
        await second.commit()
    async with engine.connect() as conn:
        books = await db.media.media_type_counts(conn)
        words = list(
            (await conn.execute(select(title_words.c.word).where(title_words.c.word == "rising"))).scalars()
        )
    assert dict(books)["book"] == 2
    assert words == ["rising"]


async def test_a_word_already_known_is_not_added_again(engine: AsyncEngine) -> None:
    await make_media(engine, title="Dune")
    await make_media(engine, title="Dune Messiah")
    async with engine.connect() as conn:
        dune = (await conn.execute(select(func.count()).where(title_words.c.word == "dune"))).scalar_one()
    assert dune == 1


async def test_a_deep_catalog_page_starts_inside_the_index(engine: AsyncEngine) -> None:
    """The cursor is a row comparison the (media_type, title, id) index takes as its start, not a
    filter applied after walking every earlier title."""
    ids = {n: await make_media(engine, title=f"Book {n:02d}") for n in range(30)}
    books = MediaFilter(media_types=("book",))
    keys = db.media_search._sort_keys(books, [MediaSort("title")])
    query = (
        select(Media.id)
        .where(filter_conditions(books), db.keyset.keys_after(keys, ["Book 10", ids[10]]))
        .order_by(Media.title, Media.id)
        .limit(5)
    )
    async with engine.begin() as conn:
        await conn.execute(text("SET LOCAL enable_seqscan = off"))
        await conn.execute(text("SET LOCAL enable_bitmapscan = off"))
        compiled = query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
        plan = (await conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}")).scalar_one()
        found = list((await conn.execute(query)).scalars())
    plan = json.loads(plan) if isinstance(plan, str) else plan
    assert "Plans" in plan[0]["Plan"], plan
    scan = plan[0]["Plan"]["Plans"][0]
    assert scan["Index Name"] == "idx_media_type_title"
    assert "ROW(title, id) >" in scan["Index Cond"]
    assert found == [ids[n] for n in range(11, 16)]


async def test_a_typo_prefers_the_word_one_edit_away_over_merely_similar_popular_ones(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    await make_media(engine, title="The Witcher")
    popular = await make_media(engine, title="Final Witch")
    async with engine.begin() as conn:
        await conn.execute(update(Media).where(Media.id == popular).values(tracker_count=100_000))
    result = await client(SEARCH, {"filter": {"search": "Witcer"}})
    assert [e["node"]["title"] for e in result.data["searchMedia"]["edges"]] == ["The Witcher"]
