"""The ranked window of a search: the most popular matches, found by walking the popularity index
when they are common among popular items and by sorting every match when they are rare there."""

from typing import Any

import pytest
from sqlalchemy import Text, bindparam, event, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncEngine

import db.media_walks
from db.keyset import order_by
from db.media_filters import MediaFilter, filter_conditions
from db.media_search import POPULAR_COLUMNS, POPULAR_KEYS
from db.media_walks import first_matches
from db.models import Media
from tests.client import GraphQLClient
from tests.factories import make_media

# (catalog size the planner believes, WALK_ROWS, MAX_WALK_ROWS) and the statements each way takes
# after the two that ask the planner (its estimate of the matches, the catalog size): 30 popular
# items that do not match come first in the walk, then the matches.
WAYS = {
    "one walk finds them": ((0, 1000, 1000), 1),
    "a longer walk sized from the first": ((0, 32, 1000), 2),
    "every match sorted after a walk": ((0, 32, 33), 2),
    "few matches by the estimate: sorted at once": ((10**9, 1000, 1000), 1),
}


def read_this_way(monkeypatch: pytest.MonkeyPatch, way: str) -> int:
    (catalog, walk_rows, max_walk_rows), statements = WAYS[way]
    monkeypatch.setattr(db.media_walks, "CATALOG_ROWS", text(f"SELECT {catalog}"))
    monkeypatch.setattr(db.media_walks, "WALK_ROWS", walk_rows)
    monkeypatch.setattr(db.media_walks, "MAX_WALK_ROWS", max_walk_rows)
    return 2 + statements


@pytest.mark.parametrize("way", WAYS)
async def test_the_window_is_the_most_popular_matches_whichever_way_it_is_read(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch, way: str
) -> None:
    statements = read_this_way(monkeypatch, way)
    popularity: dict[Any, int] = {}
    for n in range(30):
        popularity[await make_media(engine, title=f"Ember {n}")] = 100 + n
        popularity[await make_media(engine, title=f"Tide {n}")] = (n * 7) % 30
    async with engine.begin() as conn:
        for media_id, trackers in popularity.items():
            await conn.execute(update(Media).where(Media.id == media_id).values(tracker_count=trackers))
    executed: list[str] = []

    def count(*args: Any) -> None:
        executed.append(args[2])

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        async with engine.connect() as conn:
            match = filter_conditions(MediaFilter(search="tide"))
            window = await first_matches(conn, match, POPULAR_COLUMNS, [], POPULAR_KEYS, 5)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    assert [row.sort_popularity for row in window] == [29, 28, 27, 26, 25]
    assert len(executed) == statements


PAGE = """query($filter: MediaFilter, $sort: [MediaSort!], $first: Int, $after: String) {
  searchMedia(filter: $filter, sort: $sort, first: $first, after: $after) {
    pageInfo { hasNextPage endCursor } edges { node { title releaseDate } } } }"""


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("direction", ["DESC", "ASC"])
async def test_pages_by_release_date_are_exact_whichever_way_they_are_read(
    client: GraphQLClient, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch, way: str, direction: str
) -> None:
    read_this_way(monkeypatch, way)
    for n in range(40):
        # Items that do not match come first in either direction; a few matches are undated.
        await make_media(
            engine, title=f"Ember {n}", release_date=f"{1900 if n % 2 else 2100}-01-0{1 + n % 9}"
        )
    expected = []
    for n in range(13):
        release = None if n % 5 == 0 else f"20{n % 7:02d}-03-01"
        await make_media(engine, title=f"Tide {n}", release_date=release)
        expected.append((release, f"Tide {n}"))
    sort = [{"field": "RELEASE_DATE", "direction": direction}]
    seen: list[tuple[str | None, str]] = []
    after = None
    while True:
        variables = {"filter": {"search": "tide"}, "sort": sort, "first": 4, "after": after}
        page = (await client(PAGE, variables)).data["searchMedia"]
        seen += [(edge["node"]["releaseDate"], edge["node"]["title"]) for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    dated = sorted(
        (item for item in expected if item[0]), key=lambda item: item[0] or "", reverse=direction == "DESC"
    )
    assert [release for release, _ in seen] == [release for release, _ in dated] + [None] * 3
    assert sorted(title for _, title in seen) == sorted(title for _, title in expected)


def walk_types_in_small_steps(monkeypatch: pytest.MonkeyPatch, walk_rows: int) -> None:
    """Walks of `walk_rows` rows, split 2:1 between films and series (as if the catalog had twice
    as many films), and the statistics' many matches: every page is read by walking each type."""
    sizes = text(
        "SELECT t, CASE t WHEN 'film' THEN 0.02 ELSE 0.01 END FROM unnest(CAST(:types AS text[])) AS t"
    ).bindparams(bindparam("types", type_=ARRAY(Text)))
    monkeypatch.setattr(db.media_walks, "TYPE_SIZES", sizes)
    monkeypatch.setattr(db.media_walks, "WALK_ROWS", walk_rows)
    monkeypatch.setattr(db.media_walks, "MAX_WALK_ROWS", 2 * walk_rows)


TYPED_PAGE = """query($sort: [MediaSort!], $after: String) {
  searchMedia(filter: {search: "tide", mediaTypes: [FILM, SERIES]}, sort: $sort, first: 4, after: $after) {
    pageInfo { hasNextPage endCursor } edges { node { title releaseDate } } } }"""


@pytest.mark.parametrize("walk_rows", [3, 12, 1000])
@pytest.mark.parametrize(
    ("field", "direction"), [("RELEASE_DATE", "DESC"), ("RELEASE_DATE", "ASC"), ("POPULARITY", "DESC")]
)
async def test_a_search_filtered_by_types_merges_each_types_walk_exactly(
    client: GraphQLClient,
    engine: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
    walk_rows: int,
    field: str,
    direction: str,
) -> None:
    walk_types_in_small_steps(monkeypatch, walk_rows)
    rows: list[tuple[str, str, str | None, int]] = []
    for n in range(16):
        # Films that do not match come first in either direction and by popularity.
        rows.append((f"Ember {n}", "film", f"{1900 if n % 2 else 2100}-01-{1 + n:02d}", 1000 + n))
    for n in range(12):
        rows.append((f"Tide film {n}", "film", None if n % 6 == 0 else f"20{n:02d}-05-01", 3 * n))
    for n in range(7):
        rows.append((f"Tide series {n}", "series", f"20{2 * n + 1:02d}-07-01", 3 * n + 1))
    for n in range(4):
        rows.append((f"Tide book {n}", "book", f"20{n:02d}-09-01", 500 + n))
    ids = {}
    for title, media_type, release, trackers in rows:
        ids[title] = await make_media(
            engine,
            title=title,
            media_type=media_type,
            media_class="x",
            release_date=release,
            tracker_count=trackers,
        )
    executed: list[str] = []

    def record(*args: Any) -> None:
        executed.append(args[2])

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    seen: list[str] = []
    after = None
    try:
        while True:
            variables = {"sort": [{"field": field, "direction": direction}], "after": after}
            page = (await client(TYPED_PAGE, variables)).data["searchMedia"]
            seen += [edge["node"]["title"] for edge in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    matches = [row for row in rows if row[0].startswith("Tide") and row[1] != "book"]
    if field == "POPULARITY":
        expected = [row[0] for row in sorted(matches, key=lambda row: -row[3])]
    else:
        dated = sorted(
            (row for row in matches if row[2]), key=lambda row: row[2] or "", reverse=direction == "DESC"
        )
        undated = sorted(
            (row[0] for row in matches if not row[2]), key=ids.__getitem__, reverse=direction == "DESC"
        )
        expected = [row[0] for row in dated] + undated
    assert seen == expected
    assert any("row_number() OVER" in statement and "media_type = " in statement for statement in executed)


@pytest.mark.parametrize(("popular_matches", "statements"), [(4, 2), (5, 1), (6, 1)])
async def test_the_window_read_from_the_popular_items_is_the_window_of_every_match(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch, popular_matches: int, statements: int
) -> None:
    """Popular items (tracked by POPULAR_TIER people or more) have their own full-text index: when they
    hold the window's matches, those are read there; with one too few, every match is sorted."""
    read_this_way(monkeypatch, "few matches by the estimate: sorted at once")
    tier = db.media_walks.POPULAR_TIER
    popularity: dict[Any, int] = {}
    for n in range(popular_matches):
        # Ties at the tier's boundary, which the id orders.
        popularity[await make_media(engine, title=f"Tide {n}")] = tier + n // 2
    for n in range(8):
        popularity[await make_media(engine, title=f"Tide outside {n}")] = tier - 1 - n // 3
        popularity[await make_media(engine, title=f"Ember {n}")] = tier + 50
    async with engine.begin() as conn:
        for media_id, trackers in popularity.items():
            await conn.execute(update(Media).where(Media.id == media_id).values(tracker_count=trackers))
    executed: list[tuple[str, Any]] = []

    def record(*args: Any) -> None:
        executed.append((args[2], args[3]))

    match = filter_conditions(MediaFilter(search="tide"))
    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        async with engine.connect() as conn:
            window = await first_matches(conn, match, POPULAR_COLUMNS, [], POPULAR_KEYS, 5)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    async with engine.connect() as conn:
        every_match = select(*POPULAR_COLUMNS).where(match).order_by(*order_by(POPULAR_KEYS)).limit(5)
        expected = list((await conn.execute(every_match)).all())
        assert [tuple(row) for row in window] == [tuple(row) for row in expected]
        assert len(executed) == 2 + statements
        # The popular items' statement can use their index: it states the index's predicate as a
        # literal (a parameter would not imply it). Which index a plan picks on a table this small
        # is the planner's choice, so the implication is checked, not a plan.
        popular, _ = executed[2]
        predicate = (
            await conn.execute(
                text(
                    "SELECT pg_get_expr(indpred, indrelid) FROM pg_index "
                    "WHERE indexrelid = 'media.idx_media_search_popular'::regclass"
                )
            )
        ).scalar_one()
        assert predicate == f"(tracker_count >= {tier})"
        assert f"media.tracker_count >= {tier}" in popular
