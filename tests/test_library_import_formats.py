"""Each import format against its fixture file: what is matched, created, left unmatched or refused,
that the counts add up, and that a second import of the same file changes no row."""

import datetime as dt
import gzip
import json
import uuid
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from db.library_import.jobs import ProblemsRequest, problems_pages
from db.library_import.run import claim_job, run_job
from db.models import ListItem, UserList, UserMedia
from tests.factories import make_media, make_user
from tests.library_import_catalog import fixture_bytes, letterboxd_zip, make_import_catalog


async def import_file(
    engine: AsyncEngine, user_id: uuid.UUID, file_format: str, data: bytes, name: str, policy: str = "newer"
) -> Any:
    claimed = await claim_job(engine, user_id, file_format, name, policy)
    return await run_job(claimed, data, batch_size=3)


async def entries(engine: AsyncEngine, user_id: uuid.UUID) -> dict[uuid.UUID, Any]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(UserMedia).where(UserMedia.user_id == user_id))
        return {row.media_id: row for row in rows}


async def problems(engine: AsyncEngine, job_id: uuid.UUID) -> list[tuple[int, str]]:
    """The library rows'."""
    async with engine.connect() as conn:
        page = (
            await problems_pages(conn, [ProblemsRequest(job_id, ("not-found", "ambiguous", "invalid"), 100)])
        )[0]
    return [(row.row_number, row.reason) for row in page.rows if row.list_name is None]


async def list_problems(engine: AsyncEngine, job_id: uuid.UUID) -> list[tuple[str, int, str, str | None]]:
    async with engine.connect() as conn:
        page = (
            await problems_pages(conn, [ProblemsRequest(job_id, ("not-found", "ambiguous", "invalid"), 100)])
        )[0]
    return [(row.list_name, row.row_number, row.reason, row.title) for row in page.rows if row.list_name]


async def user_lists(engine: AsyncEngine, user_id: uuid.UUID) -> dict[str, Any]:
    """{name: (type, public, updated_at, [media ids in list order])}."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(UserList, ListItem.media_id)
            .outerjoin(ListItem, ListItem.list_id == UserList.id)
            .where(UserList.user_id == user_id)
            .order_by(UserList.created_at, UserList.id, ListItem.position)
        )
        found: dict[str, Any] = {}
        for row in rows:
            _, _, _, items = found.setdefault(row.name, (row.list_type, row.is_public, row.updated_at, []))
            if row.media_id is not None:
                items.append(row.media_id)
        return found


def counts(job: Any) -> dict[str, int]:
    names = ("total", "matched", "created", "updated", "unchanged", "unmatched", "failed")
    return {name: getattr(job, name) for name in names}


def assert_adds_up(job: Any) -> None:
    assert job.status == "succeeded", job.error
    assert job.matched + job.unmatched + job.failed == job.total == job.processed
    assert job.created + job.updated + job.unchanged == job.matched


def day(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


CASES = {
    "mal": ("mal", "mal_anime.xml"),
    "mal-gzip": ("mal", "mal_manga.xml.gz"),
    "goodreads": ("goodreads", "goodreads_library_export.csv"),
    "letterboxd": ("letterboxd", None),
    "trakt": ("trakt", "trakt.json"),
}


def case_file(case: str) -> tuple[str, bytes, str]:
    file_format, name = CASES[case]
    if name is None:
        return file_format, letterboxd_zip(), "letterboxd-export.zip"
    return file_format, fixture_bytes(name), name


@pytest.mark.parametrize("case", list(CASES))
async def test_a_second_import_of_the_same_file_changes_nothing(engine: AsyncEngine, case: str) -> None:
    await make_import_catalog(engine)
    user_id, _ = await make_user(engine)
    file_format, data, name = case_file(case)
    first = await import_file(engine, user_id, file_format, data, name)
    assert_adds_up(first)
    assert first.created > 0
    before = await entries(engine, user_id)
    second = await import_file(engine, user_id, file_format, data, name)
    assert_adds_up(second)
    assert (second.created, second.updated) == (0, 0)
    assert second.unchanged == first.matched
    assert await entries(engine, user_id) == before


async def test_mal_anime_statuses_scores_progress_dates_and_problems(engine: AsyncEngine) -> None:
    catalog = await make_import_catalog(engine)
    user_id, _ = await make_user(engine)
    job = await import_file(engine, user_id, "mal", fixture_bytes("mal_anime.xml"), "animelist.xml")
    assert counts(job) == {
        "total": 7,
        "matched": 4,
        "created": 3,
        "updated": 0,
        "unchanged": 1,
        "unmatched": 1,
        "failed": 2,
    }
    assert await problems(engine, job.id) == [(4, "not-found"), (5, "invalid"), (7, "invalid")]
    library = await entries(engine, user_id)
    bebop = library[catalog["Cowboy Bebop"]]
    assert (bebop.status, bebop.rating, bebop.progress, bebop.repeat_count) == ("completed", 9, 26, 1)
    assert (bebop.started_at, bebop.completed_at) == (day("2020-01-05"), day("2020-02-01"))
    assert bebop.notes == "See you, space cowboy"
    trigun = library[catalog["Trigun"]]
    assert (trigun.status, trigun.rating, trigun.progress, trigun.started_at) == (
        "in-progress",
        None,
        26,
        None,
    )
    assert library[catalog["Neon Genesis Evangelion"]].status == "planned"


async def test_mal_manga_gzipped_matches_links_and_the_item_external_id(engine: AsyncEngine) -> None:
    catalog = await make_import_catalog(engine)
    user_id, _ = await make_user(engine)
    job = await import_file(engine, user_id, "mal", gzip.compress(fixture_bytes("mal_manga.xml")), "x.xml.gz")
    assert (job.created, job.unmatched, job.failed) == (2, 0, 0)
    library = await entries(engine, user_id)
    berserk = library[catalog["Berserk"]]
    assert (berserk.status, berserk.rating, berserk.progress) == ("in-progress", 10, 350)
    assert library[catalog["Monster"]].status == "planned"


async def test_goodreads_isbn_title_and_year_ambiguity_and_stars(engine: AsyncEngine) -> None:
    catalog = await make_import_catalog(engine)
    user_id, _ = await make_user(engine)
    job = await import_file(
        engine, user_id, "goodreads", fixture_bytes("goodreads_library_export.csv"), "g.csv"
    )
    assert counts(job) == {
        "total": 6,
        "matched": 3,
        "created": 2,
        "updated": 0,
        "unchanged": 1,
        "unmatched": 2,
        "failed": 1,
    }
    assert await problems(engine, job.id) == [(3, "not-found"), (4, "invalid"), (6, "ambiguous")]
    library = await entries(engine, user_id)
    dune = library[catalog["Dune"]]
    assert (dune.status, dune.rating, dune.repeat_count, dune.progress) == ("completed", 10, 1, 412)
    assert dune.completed_at == day("2021-03-04")
    assert dune.notes == "A classic.\n\nsecond time round"
    messiah = library[catalog["Dune Messiah"]]
    assert (messiah.status, messiah.rating) == ("in-progress", None)


async def test_letterboxd_zip_folds_diary_ratings_reviews_and_watchlist_into_one_entry(
    engine: AsyncEngine,
) -> None:
    catalog = await make_import_catalog(engine)
    user_id, _ = await make_user(engine)
    job = await import_file(engine, user_id, "letterboxd", letterboxd_zip(), "letterboxd.zip")
    assert counts(job) == {
        "total": 6,
        "matched": 3,
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "unmatched": 2,
        "failed": 1,
    }
    library = await entries(engine, user_id)
    heat = library[catalog["Heat"]]
    assert (heat.status, heat.rating, heat.repeat_count) == ("completed", 10, 1)
    assert heat.completed_at == day("2023-06-01")
    assert heat.notes == "Best heist film ever made."
    alien = library[catalog["Alien"]]
    assert (alien.status, alien.rating) == ("completed", 7)
    assert library[catalog["Solaris"]].status == "planned"


async def test_letterboxd_accepts_one_csv_named_as_in_the_export(engine: AsyncEngine) -> None:
    catalog = await make_import_catalog(engine)
    user_id, _ = await make_user(engine)
    data = fixture_bytes("letterboxd/watchlist.csv")
    job = await import_file(engine, user_id, "letterboxd", data, "watchlist.csv")
    assert (job.created, job.unmatched) == (1, 1)
    assert (await entries(engine, user_id))[catalog["Solaris"]].status == "planned"


async def test_trakt_ids_by_type_plays_ratings_and_watchlist(engine: AsyncEngine) -> None:
    catalog = await make_import_catalog(engine)
    user_id, _ = await make_user(engine)
    job = await import_file(engine, user_id, "trakt", fixture_bytes("trakt.json"), "trakt.json")
    assert counts(job) == {
        "total": 7,
        "matched": 3,
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "unmatched": 2,
        "failed": 2,
    }
    library = await entries(engine, user_id)
    heat = library[catalog["Heat"]]
    assert (heat.status, heat.rating, heat.repeat_count) == ("completed", 10, 2)
    assert heat.completed_at == dt.datetime(2023, 6, 1, 20, tzinfo=dt.UTC)
    show = library[catalog["Breaking Bad"]]
    assert (show.status, show.rating, show.progress) == ("in-progress", 9, 3)
    assert library[catalog["Solaris"]].status == "planned"
    # tmdb 949 is Heat the film; a show with that tmdb number is not Heat.
    assert len(library) == 3


@pytest.mark.parametrize(
    ("file_format", "data"),
    [
        ("mal", b"<html>not a list</html>"),
        ("mal", b"\x1f\x8bnot really gzip"),
        ("goodreads", b"Title,Author\nDune,Frank Herbert\n"),
        ("letterboxd", b"PK\x03\x04broken zip"),
        ("trakt", b"{not json"),
        ("omnimediatrak", b'{"format": "something-else"}'),
    ],
)
async def test_a_file_not_of_its_format_fails_the_job_and_writes_nothing(
    engine: AsyncEngine, file_format: str, data: bytes
) -> None:
    await make_import_catalog(engine)
    user_id, _ = await make_user(engine)
    job = await import_file(engine, user_id, file_format, data, "file")
    assert job.status == "failed"
    assert job.error
    assert await entries(engine, user_id) == {}


async def test_unmatched_rows_match_on_a_later_import_once_the_catalog_has_them(engine: AsyncEngine) -> None:
    await make_import_catalog(engine)
    user_id, _ = await make_user(engine)
    data = fixture_bytes("mal_anime.xml")
    first = await import_file(engine, user_id, "mal", data, "animelist.xml")
    assert first.unmatched == 1

    lacking = await make_media(
        engine,
        title="A Show The Catalog Lacks",
        media_type="anime",
        media_class="visual.animation.anime",
        external_links=[("mal-anime", "99999")],
    )
    second = await import_file(engine, user_id, "mal", data, "animelist.xml")
    assert (second.created, second.unmatched) == (1, 0)
    assert (await entries(engine, user_id))[lacking].status == "dropped"


async def test_goodreads_shelves_become_private_lists_in_shelf_order_and_a_second_import_adds_none(
    engine: AsyncEngine,
) -> None:
    catalog = await make_import_catalog(engine)
    user_id, _ = await make_user(engine)
    data = fixture_bytes("goodreads_library_export.csv")
    job = await import_file(engine, user_id, "goodreads", data, "g.csv")
    assert_adds_up(job)
    assert (job.lists_created, job.list_items_unmatched, job.list_items_failed) == (3, 2, 0)
    lists = await user_lists(engine, user_id)
    assert {name: (kind, public, items) for name, (kind, public, _, items) in lists.items()} == {
        "favorites": ("static", False, [catalog["Dune"]]),
        "sci-fi": ("static", False, [catalog["Dune"], catalog["Dune Messiah"]]),
        "classics": ("static", False, []),
    }
    assert list(lists) == ["favorites", "sci-fi", "classics"]  # in the file's order, as exported
    assert await list_problems(engine, job.id) == [
        ("sci-fi", 3, "not-found", "A Book Nobody Has"),
        ("classics", 6, "ambiguous", "Emma"),
    ]
    again = await import_file(engine, user_id, "goodreads", data, "g.csv")
    assert (again.lists_created, again.list_items_unmatched) == (0, 2)
    assert await user_lists(engine, user_id) == lists


OUR_LIST = {
    "name": "Films to show Ana",
    "description": None,
    "isPublic": False,
    "listType": "static",
    "definition": None,
    "items": [
        {"media": {"title": "Heat", "mediaType": "film", "externalIds": ["imdb:tt0113277"]}},
        {
            "media": {
                "title": "Thief",
                "mediaType": "film",
                "releaseDate": "1981-03-27",
                "externalIds": ["imdb:tt0083190"],
            }
        },
        {"media": {"title": "Alien", "mediaType": "film", "releaseDate": "1979-05-25", "externalIds": []}},
    ],
}


async def test_list_items_the_catalog_lacks_are_kept_with_the_job_and_added_once_it_has_them(
    engine: AsyncEngine,
) -> None:
    catalog = await make_import_catalog(engine)
    user_id, _ = await make_user(engine)
    data = json.dumps({"format": "omnimediatrak-library", "version": 1, "entries": [], "lists": [OUR_LIST]})
    first = await import_file(engine, user_id, "omnimediatrak", data.encode(), "library.json")
    assert (first.lists_created, first.list_items_unmatched) == (1, 1)
    assert await list_problems(engine, first.id) == [("Films to show Ana", 2, "not-found", "Thief")]
    async with engine.connect() as conn:
        page = (await problems_pages(conn, [ProblemsRequest(first.id, ("not-found",), 10)]))[0]
    assert (page.rows[0].year, page.rows[0].external_ids) == (1981, ["imdb:tt0083190"])
    lists = await user_lists(engine, user_id)
    assert lists["Films to show Ana"][3] == [catalog["Heat"], catalog["Alien"]]

    thief = await make_media(
        engine, title="Thief", media_type="film", media_class="visual.film", external_id="imdb:tt0083190"
    )
    second = await import_file(engine, user_id, "omnimediatrak", data.encode(), "library.json")
    assert (second.lists_created, second.list_items_unmatched) == (0, 0)
    assert await list_problems(engine, second.id) == []
    lists = await user_lists(engine, user_id)
    assert lists["Films to show Ana"][3] == [catalog["Heat"], catalog["Alien"], thief]


async def test_a_smart_list_whose_definition_is_refused_is_a_failure_of_the_job_not_dropped(
    engine: AsyncEngine,
) -> None:
    user_id, _ = await make_user(engine)
    smart = {
        "name": "Broken",
        "listType": "smart",
        "definition": {"media": {"mediaTypes": ["NOT_A_TYPE"]}},
        "items": [],
    }
    data = json.dumps({"format": "omnimediatrak-library", "version": 1, "entries": [], "lists": [smart]})
    job = await import_file(engine, user_id, "omnimediatrak", data.encode(), "library.json")
    assert (job.status, job.lists_created, job.list_items_failed) == ("succeeded", 0, 1)
    async with engine.connect() as conn:
        page = (await problems_pages(conn, [ProblemsRequest(job.id, ("invalid",), 10)]))[0]
    (row,) = page.rows
    assert (row.list_name, row.row_number, row.reason) == ("Broken", 0, "invalid")
    assert row.message.startswith("the smart list's definition was refused")
    assert await user_lists(engine, user_id) == {}
