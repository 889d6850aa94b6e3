"""The catalog the import tests run against: items the fixture files name, by id or by title."""

import io
import uuid
import zipfile
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import make_media

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "library_import"


async def make_import_catalog(engine: AsyncEngine) -> dict[str, uuid.UUID]:
    anime = {"media_type": "anime", "media_class": "visual.animation.anime"}
    film = {"media_type": "film", "media_class": "visual.film"}
    book = {"media_type": "book", "media_class": "written.book.novel"}
    items: dict[str, dict[str, Any]] = {
        "Cowboy Bebop": dict(
            anime, release_date="1998-04-03", attributes={"episodes": 26}, external_links=[("mal-anime", "1")]
        ),
        "Trigun": dict(
            anime, release_date="1998-04-01", attributes={"episodes": 26}, external_links=[("mal", "6")]
        ),
        "Neon Genesis Evangelion": dict(
            anime, release_date="1995-10-04", external_links=[("mal-anime", "30")]
        ),
        "Berserk": {
            "media_type": "manga",
            "media_class": "written.comic.manga",
            "release_date": "1989-08-25",
            "external_links": [("mal-manga", "2")],
        },
        "Monster": {
            "media_type": "manga",
            "media_class": "written.comic.manga",
            "release_date": "1994-12-05",
            "external_id": "mal-manga:1",
        },
        "Dune": dict(
            book,
            release_date="1965-08-01",
            attributes={"page_count": 412},
            external_links=[("isbn", "9780441172719")],
        ),
        "Dune Messiah": dict(book, release_date="1969-10-15"),
        "Emma": dict(book, release_date="1815-12-23"),
        "Emma (another edition)": dict(book, title="Emma", release_date="1815-12-25"),
        "Heat": dict(
            film, release_date="1995-12-15", external_id="imdb:tt0113277", external_links=[("tmdb", "949")]
        ),
        "Alien": dict(film, release_date="1979-05-25"),
        "Solaris": dict(film, release_date="1972-03-20"),
        "Breaking Bad": {
            "media_type": "series",
            "media_class": "visual.series",
            "release_date": "2008-01-20",
            "attributes": {"episodes": 62},
            "external_links": [("tvdb", "81189")],
        },
    }
    catalog: dict[str, uuid.UUID] = {}
    for name, fields in items.items():
        catalog[name] = await make_media(engine, **{"title": name, **fields})
    return catalog


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def letterboxd_zip() -> bytes:
    """The export as Letterboxd serves it: the CSVs in one ZIP."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for path in sorted((FIXTURES / "letterboxd").glob("*.csv")):
            archive.writestr(f"letterboxd-fixture-2024-01-01-00-00-utc/{path.name}", path.read_bytes())
    return out.getvalue()
