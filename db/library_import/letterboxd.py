"""Letterboxd's export: the ZIP (or one of its CSVs) with diary.csv, ratings.csv, watched.csv,
watchlist.csv and reviews.csv. Films carry no external ids, so each is found by title and year;
the rows of one film (a diary with rewatches, a rating, a review) make one entry."""

import datetime as dt
from dataclasses import dataclass, field

from db.library_import.archive import is_zip, zip_members
from db.library_import.csv_rows import csv_rows
from db.library_import.entry import (
    ImportEntry,
    ParsedFile,
    RowProblem,
    UnreadableFile,
    latest,
    parse_day,
)

FILES = ("watched.csv", "diary.csv", "reviews.csv", "ratings.csv", "watchlist.csv")
REQUIRED = ("Date", "Name", "Year")


@dataclass
class Film:
    row: int
    title: str
    year: int
    watched: bool = False
    listed: bool = False
    current_rating: int | None = None  # ratings.csv: the film's rating today
    logged_rating: tuple[dt.datetime | None, int] | None = None  # the latest diary/review rating
    rewatches: int = 0
    last_watched: dt.datetime | None = None
    review: tuple[dt.datetime | None, str] | None = None
    touched: list[dt.datetime | None] = field(default_factory=list)

    @property
    def rating(self) -> int | None:
        if self.current_rating is not None:
            return self.current_rating
        return None if self.logged_rating is None else self.logged_rating[1]


def _stars(text: str) -> int | None:
    """0.5 to 5 stars in half steps: twice that on our scale."""
    if not text:
        return None
    try:
        doubled = float(text) * 2
    except ValueError:
        doubled = 0.5
    if not doubled.is_integer() or not 1 <= doubled <= 10:
        raise ValueError("Rating must be 0.5 to 5 in half stars")
    return int(doubled)


def _later(current: tuple[dt.datetime | None, object] | None, when: dt.datetime | None) -> bool:
    return current is None or current[0] is None or (when is not None and when >= current[0])


def _add_row(films: dict[tuple[str, int], Film], kind: str, row: int, values: dict[str, str]) -> None:
    title = values["Name"]
    if not title:
        raise ValueError("Name is empty")
    if not values["Year"].isdigit():
        raise ValueError("Year must be a number")
    stars = _stars(values.get("Rating", ""))
    logged = parse_day(values["Date"])
    watched_on = parse_day(values.get("Watched Date")) or logged
    film = films.setdefault((title.casefold(), int(values["Year"])), Film(row, title, int(values["Year"])))
    film.touched.append(logged)
    if kind == "watchlist.csv":
        film.listed = True
        return
    film.watched = True
    if kind != "ratings.csv":  # there Date is when it was rated
        film.last_watched = latest(film.last_watched, watched_on)
    if kind == "ratings.csv":
        film.current_rating = stars
    elif stars is not None and _later(film.logged_rating, watched_on):
        film.logged_rating = (watched_on, stars)
    if kind == "diary.csv" and values.get("Rewatch", "").lower() == "yes":
        film.rewatches += 1
    review = values.get("Review", "")
    if kind == "reviews.csv" and review and _later(film.review, watched_on):
        film.review = (watched_on, review)


def _kind_of_lone_csv(file_name: str, header: str) -> str:
    name = file_name.rsplit("/", 1)[-1].lower()
    if name in FILES:
        return name
    if "Review" in header:
        return "reviews.csv"
    if "Watched Date" in header:
        return "diary.csv"
    if "Rating" in header:
        return "ratings.csv"
    return "watched.csv"


def parse(data: bytes, file_name: str = "") -> ParsedFile:
    if is_zip(data):
        members = zip_members(data, ".csv")
        files = [(name, members[name]) for name in FILES if name in members]
        if not files:
            raise UnreadableFile("the ZIP holds none of " + ", ".join(FILES))
    else:
        header = data[:2000].decode("utf-8-sig", errors="replace").split("\n", 1)[0]
        files = [(_kind_of_lone_csv(file_name, header), data)]
    parsed = ParsedFile()
    films: dict[tuple[str, int], Film] = {}
    row_offset = 0
    for kind, content in files:
        last = 0
        for row, values in csv_rows(content, REQUIRED, kind):
            last = row
            try:
                _add_row(films, kind, row_offset + row, values)
            except ValueError as exc:
                parsed.problems.append(
                    RowProblem(row_offset + row, f"{kind} row {row}: {exc}", values["Name"] or None)
                )
        row_offset += last
    for film in films.values():
        parsed.entries.append(
            ImportEntry(
                row=film.row,
                title=film.title,
                year=film.year,
                media_types=("film",),
                status="completed" if film.watched else "planned" if film.listed else None,
                rating=film.rating,
                notes=None if film.review is None else film.review[1],
                repeat_count=film.rewatches or None,
                completed_at=film.last_watched,
                source_updated_at=latest(*film.touched),
            )
        )
    return parsed
