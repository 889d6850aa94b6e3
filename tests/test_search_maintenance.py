"""What every new or changed item costs the search columns and the word dictionary: the fast paths
of migration 0021 give exactly what the general definitions give, and the dictionary trigger works
on a whole statement's rows at once."""

import json
from typing import Any

from sqlalchemy import insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from db.counters import REBUILD_TITLE_WORDS
from db.models import Media, title_words

# The definitions of migration 0010, inline, for comparison.
FOLD = "lower(translate(public.unaccent('public.unaccent'::regdictionary, t), '⁰¹²³⁴⁵⁶⁷⁸⁹', '0123456789'))"
ITEM_TITLES = """
    (SELECT array_prepend(title, coalesce(array_agg(name) FILTER (WHERE name <> ''), '{}'))
     FROM (SELECT btrim(CASE jsonb_typeof(entry) WHEN 'string' THEN entry #>> '{}' ELSE entry ->> 'title' END) AS name
           FROM jsonb_array_elements(CASE jsonb_typeof(alternative_titles) WHEN 'array' THEN alternative_titles
                                                                           ELSE '[]'::jsonb END) AS entry
           WHERE jsonb_typeof(entry) IN ('string', 'object')) AS names)
"""
TEXTS = [
    "Dune",
    "",
    "  Spaces  ",
    "Amélie",
    "Sen to Chihiro no kamikakushi",
    "千と千尋の神隠し",
    "Alien³",
    "Æon Flux",
    "Straße",
    "ÉCOLE",
    "x² + y¹⁰",
    "Ça va? ½ œuvre",
]
ALTERNATIVE_TITLES: list[Any] = [
    [],
    ["Le Fabuleux Destin d'Amélie Poulain"],
    [{"title": "Spirited Away", "language": "en"}, "  ", {"title": ""}, 7, None, {"language": "fr"}],
    {"title": "not a list"},
    "a string",
    None,
]


async def test_fold_gives_what_unaccent_gives_for_every_text(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    f"SELECT t, media.fold(t) AS fast, {FOLD} AS general FROM unnest(CAST(:texts AS text[])) AS t"
                ),
                {"texts": [*TEXTS, None]},
            )
        ).all()
    assert [row.fast for row in rows] == [row.general for row in rows]
    assert [row.fast for row in rows][:4] == ["dune", "", "  spaces  ", "amelie"]


async def test_item_titles_and_title_keys_give_what_the_general_definitions_give(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT media.item_titles(title, alternative_titles) AS fast, "
                    f"{ITEM_TITLES} AS general FROM unnest(CAST(:titles AS text[])) AS title, "
                    "unnest(CAST(:alternatives AS jsonb[])) AS alternative_titles"
                ),
                {
                    "titles": [*TEXTS, None],
                    "alternatives": [None if a is None else json.dumps(a) for a in ALTERNATIVE_TITLES],
                },
            )
        ).all()
        assert [row.fast for row in rows] == [row.general for row in rows]
        keys = (
            await conn.execute(
                text(
                    "SELECT media.title_keys(t) AS fast, CASE WHEN t IS NOT NULL THEN (SELECT coalesce("
                    "array_agg(media.title_key(x) ORDER BY n), '{}') FROM unnest(t) WITH ORDINALITY AS u(x, n)) "
                    "END AS general "
                    "FROM (VALUES (ARRAY['Amélie']), (ARRAY[NULL::text]), (ARRAY['Dune', 'Дюна']), "
                    "(CAST(ARRAY[] AS text[])), (NULL)) AS v(t)"
                )
            )
        ).all()
    assert [row.fast for row in keys] == [row.general for row in keys]
    assert keys[0].fast == ["amelie"]


async def test_the_dictionary_gets_the_words_of_every_row_of_one_statement(engine: AsyncEngine) -> None:
    titles = [
        ("Amélie", ["Jean-Pierre Jeunet"], []),
        ("Spirited Away", ["宮崎 駿"], ["Sen to Chihiro no kamikakushi"]),
        ("Alien³", [], [{"title": "Alien 3", "language": "en"}]),
        ("A", ["X"], []),
    ]
    async with engine.begin() as conn:
        await conn.execute(
            insert(Media).values(
                [
                    {
                        "media_type": "film",
                        "media_class": "video.film",
                        "title": title,
                        "creators": creators,
                        "alternative_titles": alternatives,
                    }
                    for title, creators, alternatives in titles
                ]
            )
        )
        collected = sorted((await conn.execute(select(title_words.c.word))).scalars())
        for statement in REBUILD_TITLE_WORDS:
            await conn.execute(text(statement))
        rebuilt = sorted((await conn.execute(select(title_words.c.word))).scalars())
    assert collected == rebuilt
    assert {"amelie", "jeunet", "chihiro", "alien3", "宮崎"} <= set(collected)
    assert not {"a", "x", "駿"} & set(collected)


async def test_a_rename_adds_only_the_changed_rows_words(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            insert(Media).values(
                [
                    {"media_type": "book", "media_class": "written.book.novel", "title": title}
                    for title in ("Neuromancer", "Dune")
                ]
            )
        )
        await conn.execute(text("DELETE FROM media.title_words WHERE word = 'dune'"))
        await conn.execute(update(Media).where(Media.title == "Neuromancer").values(title="Count Zero"))
        words = set((await conn.execute(select(title_words.c.word))).scalars())
    assert {"neuromancer", "count", "zero"} <= words
    assert "dune" not in words


async def test_the_dictionary_folds_a_statements_creators_once_not_row_by_row(engine: AsyncEngine) -> None:
    """Each new row folds its titles and creators for its search columns (4 calls without
    alternative titles); the dictionary trigger adds one call per statement, not one per row."""
    rows = 40
    async with engine.begin() as conn:
        await conn.execute(text("SET LOCAL track_functions = 'all'"))
        await conn.execute(
            insert(Media).values(
                [
                    {
                        "media_type": "book",
                        "media_class": "written.book.novel",
                        "title": f"Book {n}",
                        "creators": ["Ann"],
                    }
                    for n in range(rows)
                ]
            )
        )
        calls = (
            await conn.execute(
                text(
                    "SELECT coalesce(sum(calls), 0) FROM pg_stat_xact_user_functions "
                    "WHERE schemaname = 'media' AND funcname = 'fold'"
                )
            )
        ).scalar_one()
    assert calls <= 4 * rows + 1


async def test_new_words_are_looked_up_by_a_plan_made_for_the_dictionary_as_it_is(
    engine: AsyncEngine, database_url: str
) -> None:
    """A plan made while the dictionary was empty looked each new word up with a scan of the whole
    dictionary, in every later statement of the session: a first bulk load grew quadratic. (A
    connection of its own, whose trigger plan no earlier test made; `engine` cleans up after it.)"""
    fresh = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with fresh.begin() as conn:
            # As a newly migrated database: the dictionary analysed while empty.
            await conn.execute(text("TRUNCATE media.title_words"))
            await conn.execute(text("ANALYZE media.title_words"))
            await conn.execute(
                insert(Media).values(media_type="book", media_class="written.book", title="Ab")
            )
            await conn.execute(
                text(
                    "INSERT INTO media.title_words (word) SELECT 'known' || n FROM generate_series(1, 2000) AS n"
                )
            )
            read_before = await _title_words_rows_scanned(conn)
            await conn.execute(
                insert(Media).values(
                    [
                        {"media_type": "book", "media_class": "written.book", "title": f"Word{n} Other{n}"}
                        for n in range(100)
                    ]
                )
            )
            scanned = await _title_words_rows_scanned(conn) - read_before
            added = (
                await conn.execute(text("SELECT count(*) FROM media.title_words WHERE word LIKE 'word%'"))
            ).scalar_one()
    finally:
        await fresh.dispose()
    assert added == 100
    # At most one pass over the dictionary, not one per new word (200 x 2,000 rows).
    assert scanned <= 2 * 2001


async def _title_words_rows_scanned(conn: AsyncConnection) -> int:
    return int(
        (
            await conn.execute(
                text(
                    "SELECT coalesce(seq_tup_read, 0) FROM pg_stat_xact_all_tables "
                    "WHERE schemaname = 'media' AND relname = 'title_words'"
                )
            )
        ).scalar_one()
    )
