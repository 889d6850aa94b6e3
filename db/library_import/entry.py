"""The one shape every import format is parsed into, and the vocabularies of an import."""

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

FORMATS = ("mal", "goodreads", "letterboxd", "trakt", "omnimediatrak")
# newer: the file wins where its row is newer than the entry (else it only fills empty fields);
# file: the file wins wherever it has a value; library: the file only fills empty fields.
MERGE_POLICIES = ("newer", "file", "library")
DEFAULT_MERGE_POLICY = "newer"


class UnreadableFile(ValueError):
    """The file as a whole is not of the format it was sent as (a row's problems are RowProblems)."""


@dataclass(frozen=True)
class ImportEntry:
    """One row of a file: how to find the item, and the entry fields the row gives (None = not given;
    an empty field never erases a value)."""

    row: int
    title: str | None = None
    year: int | None = None
    media_types: tuple[str, ...] = ()
    # (source, key) in order of preference: found in media.external_links or as media.external_id
    # "source:key".
    external_ids: tuple[tuple[str, str], ...] = ()
    status: str | None = None
    progress: int | None = None
    rating: int | None = None
    notes: str | None = None
    repeat_count: int | None = None
    started_at: dt.datetime | None = None
    completed_at: dt.datetime | None = None
    source_updated_at: dt.datetime | None = None

    def given_fields(self) -> dict[str, Any]:
        fields = {
            "status": self.status,
            "progress": self.progress,
            "rating": self.rating,
            "notes": self.notes,
            "repeat_count": self.repeat_count,
            "started_at": self.started_at,
            "completed_at": self.completed_at,
        }
        return {name: value for name, value in fields.items() if value is not None}

    def external_id_texts(self) -> list[str]:
        return [f"{source}:{key}" for source, key in self.external_ids]


@dataclass(frozen=True)
class RowProblem:
    """A row that could not be read (a malformed line, a bad value): kept with the job as `invalid`."""

    row: int
    message: str
    title: str | None = None


@dataclass(frozen=True)
class ImportList:
    """A list of our own export: static with its items (found like entries), or smart with its definition."""

    name: str
    description: str | None
    is_public: bool
    list_type: str
    definition: dict[str, Any] | None
    items: tuple[ImportEntry, ...] = ()
    created_at: dt.datetime | None = None  # kept, so lists keep their order


@dataclass
class ParsedFile:
    entries: list[ImportEntry] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    lists: list[ImportList] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.entries) + len(self.problems)


def score_from_ten(value: float) -> int | None:
    """A 0-10 score (0 = unrated) onto our 1-10 scale."""
    return None if value <= 0 else max(1, min(10, round(value)))


def parse_day(text: str | None) -> dt.datetime | None:
    """A date (YYYY-MM-DD, or YYYY/MM/DD as Goodreads writes it) as midnight UTC; None for empty,
    0000-00-00 and partial dates like 2019-00-00; ValueError for anything else."""
    text = (text or "").strip()
    if not text or text.startswith("0000"):
        return None
    year, month, day = (int(part) for part in text.replace("/", "-").split("-"))
    if month == 0 or day == 0:
        return None
    return dt.datetime(year, month, day, tzinfo=dt.UTC)


def parse_timestamp(text: str | None) -> dt.datetime | None:
    text = (text or "").strip()
    if not text:
        return None
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def latest(*values: dt.datetime | None) -> dt.datetime | None:
    given = [value for value in values if value is not None]
    return max(given) if given else None
