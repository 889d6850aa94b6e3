"""`omnimediatrak import-library` and `export-library`, run as the command a user runs."""

import asyncio
import json
import os
import sys
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import make_user
from tests.library_import_catalog import FIXTURES, letterboxd_zip, make_import_catalog


async def command(database_url: str, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gql.cli",
        *args,
        env={**os.environ, "DATABASE_URL": database_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_import_library_prints_progress_and_counts_that_add_up_and_export_writes_the_file(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    await make_import_catalog(engine)
    await make_user(engine, username="reader")
    archive = tmp_path / "letterboxd.zip"
    archive.write_bytes(letterboxd_zip())
    status, out, err = await command(
        database_url, "import-library", "--user", "READER", "--format", "letterboxd", str(archive)
    )
    assert status == 0, err
    assert "[##############################] 6/6 rows" in err
    assert "succeeded; 6 rows: 3 matched (3 created, 0 updated, 0 unchanged), 2 unmatched, 1 failed" in out
    status, out, _ = await command(
        database_url, "import-library", "--user", "reader", "--format", "letterboxd", str(archive)
    )
    assert "3 matched (0 created, 0 updated, 3 unchanged)" in out
    target = tmp_path / "library.json"
    status, _, err = await command(database_url, "export-library", "--user", "reader", "--out", str(target))
    assert status == 0, err
    document = json.loads(target.read_text())
    assert sorted(entry["media"]["title"] for entry in document["entries"]) == ["Alien", "Heat", "Solaris"]
    status, out, _ = await command(database_url, "export-library", "--user", "reader", "--format", "csv")
    assert out.splitlines()[0].startswith("title,media_type,release_date,external_ids")


async def test_import_library_refuses_an_unknown_user_and_reports_a_failed_file(
    engine: AsyncEngine, database_url: str
) -> None:
    await make_user(engine, username="reader")
    mal = str(FIXTURES / "mal_anime.xml")
    status, _, err = await command(database_url, "import-library", "--user", "nobody", "--format", "mal", mal)
    assert (status, "no user 'nobody'" in err) == (1, True)
    trakt_as_mal = str(FIXTURES / "trakt.json")
    status, out, _ = await command(
        database_url, "import-library", "--user", "reader", "--format", "mal", trakt_as_mal
    )
    assert status == 1
    assert "failed" in out
    assert "not a MyAnimeList XML export" in out


async def test_import_library_reports_the_shelves_it_made_lists_of_and_their_unmatched_books(
    engine: AsyncEngine, database_url: str
) -> None:
    await make_import_catalog(engine)
    await make_user(engine, username="reader")
    goodreads = str(FIXTURES / "goodreads_library_export.csv")
    status, out, err = await command(
        database_url, "import-library", "--user", "reader", "--format", "goodreads", goodreads
    )
    assert status == 0, err
    assert "2 unmatched, 1 failed; 3 lists created; 2 list items unmatched" in out
