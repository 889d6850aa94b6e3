"""Goodreads' library export (CSV, one book per row). The exclusive shelf gives the status; every
other shelf (`Bookshelves`) becomes a private static list of the same name, its books in the shelf's
order (`Bookshelves with positions`, else the file's)."""

import re

from db.library_import.csv_rows import csv_rows
from db.library_import.entry import (
    ImportEntry,
    ImportList,
    ParsedFile,
    RowProblem,
    latest,
    parse_day,
)
from db.lists import NAME_MAX_LENGTH

BOOK_TYPES = ("book", "audiobook", "comic", "manga")
STATUSES = {
    "read": "completed",
    "currently-reading": "in-progress",
    "to-read": "planned",
    "did-not-finish": "dropped",
    "dnf": "dropped",
    "abandoned": "dropped",
    "on-hold": "paused",
}
REQUIRED = ("Book Id", "Title", "My Rating", "Exclusive Shelf")
SHELF_POSITION = re.compile(r"^(?P<shelf>.+?)\s*\(#(?P<position>\d+)\)$")


def _shelves(values: dict[str, str]) -> dict[str, int | None]:
    """{shelf: the book's position on it, if given} of the row's shelves but those that give a status
    (an exclusive shelf that gives none, like `owned`, becomes a list too)."""
    positions: dict[str, int] = {}
    for part in values.get("Bookshelves with positions", "").split(","):
        found = SHELF_POSITION.match(part.strip())
        if found:
            positions[found["shelf"]] = int(found["position"])
    names = (name.strip() for name in values.get("Bookshelves", "").split(","))
    return {
        name[:NAME_MAX_LENGTH]: positions.get(name) for name in names if name and name.lower() not in STATUSES
    }


def _isbn(text: str) -> str:
    """ISBNs come as ="0441172717" so spreadsheets keep the leading zero."""
    return text.removeprefix("=").strip('"').strip().upper()


def _int(text: str, name: str) -> int | None:
    if not text:
        return None
    if not text.isdigit():
        raise ValueError(f"{name} must be a whole number")
    return int(text)


def _entry(row: int, values: dict[str, str]) -> ImportEntry:
    book_id = values["Book Id"]
    if not book_id.isdigit():
        raise ValueError("Book Id must be a number")
    stars = _int(values["My Rating"], "My Rating")
    if stars is not None and stars > 5:
        raise ValueError("My Rating must be 0 to 5")
    isbn13, isbn10 = _isbn(values.get("ISBN13", "")), _isbn(values.get("ISBN", ""))
    ids = [("goodreads", book_id)]
    if isbn13:
        ids += [("isbn", isbn13), ("isbn13", isbn13)]
    if isbn10:
        ids.append(("isbn", isbn10))
    read_count = _int(values.get("Read Count", ""), "Read Count")
    date_read, date_added = parse_day(values.get("Date Read")), parse_day(values.get("Date Added"))
    notes = "\n\n".join(
        part for part in (values.get("My Review", ""), values.get("Private Notes", "")) if part
    )
    year = _int(values.get("Original Publication Year", ""), "Original Publication Year") or _int(
        values.get("Year Published", ""), "Year Published"
    )
    return ImportEntry(
        row=row,
        title=values["Title"] or None,
        year=year,
        media_types=BOOK_TYPES,
        external_ids=tuple(ids),
        status=STATUSES.get(values["Exclusive Shelf"].lower()),
        rating=None if not stars else stars * 2,
        notes=notes or None,
        repeat_count=read_count - 1 if read_count and read_count > 1 else None,
        completed_at=date_read,
        source_updated_at=latest(date_read, date_added),
    )


def parse(data: bytes) -> ParsedFile:
    parsed = ParsedFile()
    shelved: dict[str, list[tuple[int | None, ImportEntry]]] = {}
    for row, values in csv_rows(data, REQUIRED, "the Goodreads CSV"):
        try:
            entry = _entry(row, values)
        except ValueError as exc:
            parsed.problems.append(RowProblem(row, str(exc), values.get("Title") or None))
            continue
        parsed.entries.append(entry)
        for shelf, position in _shelves(values).items():
            shelved.setdefault(shelf, []).append((position, entry))
    parsed.lists = [
        ImportList(
            name=shelf,
            description=None,
            is_public=False,
            list_type="static",
            definition=None,
            items=tuple(
                entry
                for _, entry in sorted(books, key=lambda book: (book[0] is None, book[0] or 0, book[1].row))
            ),
        )
        for shelf, books in shelved.items()
    ]
    return parsed
