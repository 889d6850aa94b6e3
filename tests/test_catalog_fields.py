"""Alternative titles and partial release dates: stored, ingested, set by admins and returned."""

import asyncio
import os
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from db.ingest import ingest_file
from db.migrate import upgrade
from gql.relay import to_global_id
from tests.client import GraphQLClient
from tests.conftest import _admin_execute
from tests.factories import make_media, make_user
from tests.test_admin import admin_token
from tests.test_ingest import rows, write_jsonl

SPIRITED_AWAY = {
    "external_id": "wikidata:Q155653",
    "media_type": "anime",
    "media_class": "video.film.anime",
    "title": "Spirited Away",
    "release_date": "2001",
    "alternative_titles": [
        "Sen to Chihiro no kamikakushi",
        {"title": "千と千尋の神隠し", "language": "ja"},
        {"title": "Chihiros Reise ins Zauberland", "language": "de"},
        "Sen to Chihiro no kamikakushi",
    ],
}
MEDIA = """query($id: ID!) {
  media(id: $id) {
    title releaseDate releaseDatePrecision alternativeTitles { title language } fieldSources { field source }
  }
}"""
ERRORS = "userErrors { field code message }"
CREATE = f"""mutation($input: CreateMediaInput!) {{
  createMedia(input: $input) {{
    media {{ id releaseDate releaseDatePrecision alternativeTitles {{ title language }} }} {ERRORS}
  }}
}}"""
UPDATE = f"""mutation($input: UpdateMediaInput!) {{
  updateMedia(input: $input) {{
    media {{ releaseDate releaseDatePrecision alternativeTitles {{ title language }} }} {ERRORS}
  }}
}}"""
FRANCHISE = (
    """query { franchise(path: "saga") { edges { node { title releaseDate releaseDatePrecision } } } }"""
)


async def only_media_id(engine: AsyncEngine) -> Any:
    return (await rows(engine, "SELECT id FROM media.media"))[0][0]


async def test_alternative_titles_of_a_feed_are_stored_as_objects_and_returned(
    client: GraphQLClient, engine: AsyncEngine, tmp_path: Path
) -> None:
    await ingest_file(engine, write_jsonl(tmp_path / "films.jsonl", SPIRITED_AWAY))
    stored = await rows(engine, "SELECT alternative_titles, attributes FROM media.media")
    expected = [
        {"title": "Sen to Chihiro no kamikakushi", "language": None},
        {"title": "千と千尋の神隠し", "language": "ja"},
        {"title": "Chihiros Reise ins Zauberland", "language": "de"},
    ]
    assert stored == [(expected, {})]
    result = await client(MEDIA, {"id": to_global_id("Media", await only_media_id(engine))})
    assert result.data["media"]["alternativeTitles"] == expected


async def test_field_sources_are_shown_to_admins_only(
    client: GraphQLClient, engine: AsyncEngine, tmp_path: Path
) -> None:
    """Provenance names the internal feeds: anonymous callers and users get null."""
    await ingest_file(engine, write_jsonl(tmp_path / "films.jsonl", SPIRITED_AWAY))
    variables = {"id": to_global_id("Media", await only_media_id(engine))}
    _, user = await make_user(engine)
    for token in (None, user):
        assert (await client(MEDIA, variables, token=token)).data["media"]["fieldSources"] is None
    shown = await client(MEDIA, variables, token=await admin_token(engine))
    assert shown.data["media"]["fieldSources"] == [{"field": "*", "source": "feed:films"}]


async def test_a_year_only_release_date_round_trips_as_a_year(
    client: GraphQLClient, engine: AsyncEngine, tmp_path: Path
) -> None:
    await ingest_file(engine, write_jsonl(tmp_path / "films.jsonl", SPIRITED_AWAY))
    assert await rows(engine, "SELECT release_date::text, release_date_precision FROM media.media") == [
        ("2001-01-01", "year")
    ]
    media = (await client(MEDIA, {"id": to_global_id("Media", await only_media_id(engine))})).data["media"]
    assert (media["releaseDate"], media["releaseDatePrecision"]) == ("2001-01-01", "YEAR")


async def test_a_month_is_stored_as_its_first_day_with_month_precision(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await ingest_file(
        engine, write_jsonl(tmp_path / "films.jsonl", {**SPIRITED_AWAY, "release_date": "2001-07"})
    )
    assert await rows(engine, "SELECT release_date::text, release_date_precision FROM media.media") == [
        ("2001-07-01", "month")
    ]


async def test_a_year_only_item_sorts_with_its_year(
    client: GraphQLClient, engine: AsyncEngine, tmp_path: Path
) -> None:
    records = [
        {
            "external_id": f"saga:{n}",
            "media_type": "book",
            "media_class": "written.book",
            "title": title,
            "release_date": date,
            "collection_path": "saga",
        }
        for n, (title, date) in enumerate(
            [
                ("Later", "1978-02-01"),
                ("Year only", "1977"),
                ("Earlier", "1976-12-31"),
                ("Same year", "1977-05-25"),
            ]
        )
    ]
    await ingest_file(engine, write_jsonl(tmp_path / "saga.jsonl", *records))
    edges = (await client(FRANCHISE)).data["franchise"]["edges"]
    assert [(edge["node"]["title"], edge["node"]["releaseDatePrecision"]) for edge in edges] == [
        ("Earlier", "DAY"),
        ("Year only", "YEAR"),
        ("Same year", "DAY"),
        ("Later", "DAY"),
    ]


async def test_an_admin_sets_alternative_titles_and_a_partial_date(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    _, token = await make_user(engine, role="admin")
    created = await client(
        CREATE,
        {
            "input": {
                "title": "Spirited Away",
                "mediaType": "ANIME",
                "mediaClass": "video.film.anime",
                "releaseDate": "2001-07-20",
                "releaseDatePrecision": "MONTH",
                "alternativeTitles": [
                    {"title": "千と千尋の神隠し", "language": "ja"},
                    {"title": "Sen to Chihiro"},
                ],
            }
        },
        token=token,
    )
    media = created.data["createMedia"]["media"]
    assert created.data["createMedia"]["userErrors"] == []
    assert (media["releaseDate"], media["releaseDatePrecision"]) == ("2001-07-01", "MONTH")
    assert media["alternativeTitles"] == [
        {"title": "千と千尋の神隠し", "language": "ja"},
        {"title": "Sen to Chihiro", "language": None},
    ]
    updated = await client(
        UPDATE,
        {"input": {"id": media["id"], "releaseDate": "2001-07-20", "alternativeTitles": []}},
        token=token,
    )
    assert updated.data["updateMedia"]["media"] == {
        "releaseDate": "2001-07-20",
        "releaseDatePrecision": "DAY",
        "alternativeTitles": [],
    }


async def test_bad_alternative_titles_or_a_precision_without_a_date_change_nothing(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    _, token = await make_user(engine, role="admin")
    media_id = await make_media(engine, title="Dune", release_date="1965-08-01")
    global_id = to_global_id("Media", media_id)
    bad_language = await client(
        UPDATE,
        {"input": {"id": global_id, "alternativeTitles": [{"title": "Duna", "language": "Spanish!"}]}},
        token=token,
    )
    assert bad_language.data["updateMedia"]["userErrors"] == [
        {
            "field": ["alternativeTitles", "0", "language"],
            "code": "INVALID",
            "message": "alternativeTitles.0.language must be a language tag such as ja, en or pt-BR",
        }
    ]
    lone_precision = await client(
        UPDATE, {"input": {"id": global_id, "releaseDatePrecision": "YEAR"}}, token=token
    )
    assert [error["field"] for error in lone_precision.data["updateMedia"]["userErrors"]] == [
        ["releaseDatePrecision"]
    ]
    assert await rows(
        engine, "SELECT release_date::text, release_date_precision, alternative_titles FROM media.media"
    ) == [("1965-08-01", "day", [])]


async def test_the_migration_moves_alternative_titles_out_of_attributes_and_keeps_admin_edits(
    server_url: str,
) -> None:
    name = f"omt_provenance_{os.getpid()}"
    await _admin_execute(server_url, f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"')
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    try:
        await asyncio.to_thread(upgrade, url, "0002")
        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.execute(
                    text(
                        "INSERT INTO media.media (id, media_type, media_class, title, attributes) VALUES "
                        "('00000000-0000-7000-8000-000000000001', 'anime', 'video', 'Spirited Away', "
                        """'{"studio": "Ghibli", "alternative_titles": ["Sen to Chihiro", """
                        """{"title": "千と千尋の神隠し", "language": "ja"}, {"title": " "}, 7]}'), """
                        "('00000000-0000-7000-8000-000000000002', 'film', 'video', 'Heat', '{}')"
                    )
                )
                await conn.execute(
                    text(
                        "INSERT INTO media.revisions (media_id, action, changes) VALUES "
                        "('00000000-0000-7000-8000-000000000002', 'update', "
                        """'{"before": {"title": "Heat (1995)", "attributes": {"a": 1, "b": 2}}, """
                        """"after": {"title": "Heat", "attributes": {"a": 1, "c": 3}}}')"""
                    )
                )
            await asyncio.to_thread(upgrade, url, "0011")
            async with engine.connect() as conn:
                migrated = [
                    tuple(row)
                    for row in await conn.execute(
                        text(
                            "SELECT title, alternative_titles, attributes, field_sources FROM media.media ORDER BY id"
                        )
                    )
                ]
        finally:
            await engine.dispose()
    finally:
        await _admin_execute(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    assert migrated == [
        (
            "Spirited Away",
            [{"title": "Sen to Chihiro", "language": None}, {"title": "千と千尋の神隠し", "language": "ja"}],
            {"studio": "Ghibli"},
            {},
        ),
        ("Heat", [], {}, {"title": "admin", "attributes.b": "admin", "attributes.c": "admin"}),
    ]
