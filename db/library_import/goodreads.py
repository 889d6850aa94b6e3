"""Goodreads' library export (CSV, one book per row)."""

from db.library_import.csv_rows import csv_rows
from db.library_import.entry import (
    ImportEntry,
    ParsedFile,
    RowProblem,
    latest,
    parse_day,
)

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
    for row, values in csv_rows(data, REQUIRED, "the Goodreads CSV"):
        try:
            parsed.entries.append(_entry(row, values))
        except ValueError as exc:
            parsed.problems.append(RowProblem(row, str(exc), values.get("Title") or None))
    return parsed
