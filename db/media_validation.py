"""The checks of catalog values, shared by the admin mutations and ingestion (db/media_fields.py
says which field each one checks).

Values come in as JSON would carry them (strings, numbers, lists, objects); what passes is returned
in the form the database stores (dates as `datetime.date`, lists of strings, a dict for attributes).
"""

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, cast

from db.genres import normalize_genres
from db.media import MEDIA_TYPES
from db.media_filters import LTREE_PATTERN
from db.models import DATE_PRECISIONS, RELATION_TYPES
from db.storable import INT32_MAX, is_int32

COUNTRY_PATTERN = re.compile(r"[A-Za-z]{2}")
ISBN_PATTERN = re.compile(r"\d{13}|\d{9}[\dX]")
# A full date, a month or a year: the precision is the number of parts given.
PARTIAL_DATE_PATTERN = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")
LANGUAGE_PATTERN = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8}){0,4}")
SOURCE_PATTERN = re.compile(r"[a-z0-9_.-]{1,100}")
# scheme, then a host (optional user info and port) that is not empty, then an optional path.
HTTP_URL_PATTERN = re.compile(
    r"https?://(?:[^\s/?#@]+@)?[^\s/?#@:]+(?::\d{1,5})?(?:[/?#]\S*)?", re.IGNORECASE
)
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

COUNT_ATTRIBUTES = (
    "page_count",
    "episodes",
    "runtime_minutes",
    "chapters",
    "volumes",
    "seasons",
    "issues",
    "track_count",
    "duration_minutes",
    "word_count",
)
STRING_LIST_ATTRIBUTES = ("platforms", "genres", "tags", "languages", "themes", "studios", "publishers")
STRING_ATTRIBUTES = ("venue", "publisher", "network", "label", "edition", "format")

MAX_TEXT = 100_000
MAX_ALTERNATIVE_TITLES = 200
ALTERNATIVE_TITLE_FIELDS = frozenset({"title", "language"})
SMALLINT_RANGE = range(-32768, 32768)


@dataclass(frozen=True)
class FieldError:
    field: tuple[str, ...]
    message: str


class InvalidValue(ValueError):
    def __init__(self, message: str, *subfield: str) -> None:
        super().__init__(message)
        self.subfield = subfield


def ltree_path(value: Any) -> str:
    if not isinstance(value, str) or not LTREE_PATTERN.fullmatch(value):
        raise InvalidValue(
            "must be a dotted path of labels made of letters, digits and underscores (e.g. written.book.novel)"
        )
    return value


def text(value: Any, limit: int = MAX_TEXT) -> str:
    if not isinstance(value, str):
        raise InvalidValue("must be a string")
    if len(value) > limit:
        raise InvalidValue(f"must be at most {limit} characters")
    if CONTROL_CHARACTERS.search(value):
        raise InvalidValue("must not contain control characters")
    return value


def title(value: Any) -> str:
    title = text(value, 1000).strip()
    if not title:
        raise InvalidValue("must not be empty")
    return title


def media_type(value: Any) -> str:
    if value not in MEDIA_TYPES:
        raise InvalidValue(f"must be one of {', '.join(MEDIA_TYPES)}")
    return str(value)


def partial_date(value: Any) -> tuple[dt.date, str]:
    """A date and its precision; the date is the first day of the year or month given."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value, "day"
    match = PARTIAL_DATE_PATTERN.fullmatch(value) if isinstance(value, str) else None
    if match is not None:
        year, month, day = match.groups()
        try:
            date = dt.date(int(year), int(month or 1), int(day or 1))
        except ValueError:
            pass
        else:
            return date, DATE_PRECISIONS[len([part for part in (year, month, day) if part]) - 1]
    raise InvalidValue("must be a date YYYY-MM-DD, a month YYYY-MM or a year YYYY")


def start_of_period(date: dt.date, precision: str) -> dt.date:
    if precision == "year":
        return date.replace(month=1, day=1)
    if precision == "month":
        return date.replace(day=1)
    return date


def date_precision(value: Any) -> str:
    if value not in DATE_PRECISIONS:
        raise InvalidValue(f"must be one of {', '.join(DATE_PRECISIONS)}")
    return str(value)


def language(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not LANGUAGE_PATTERN.fullmatch(value):
        raise InvalidValue("must be a language tag such as ja, en or pt-BR", "language")
    return value


def alternative_titles(value: Any) -> list[dict[str, str | None]]:
    """Strings or {"title", "language"} objects, stored as objects, each (title, language) once."""
    if not isinstance(value, list):
        raise InvalidValue("must be a list of titles or of {title, language} objects")
    if len(value) > MAX_ALTERNATIVE_TITLES:
        raise InvalidValue(f"must hold at most {MAX_ALTERNATIVE_TITLES} titles")
    titles: list[dict[str, str | None]] = []
    for index, item in enumerate(value):
        try:
            if isinstance(item, dict):
                if not ALTERNATIVE_TITLE_FIELDS.issuperset(item):
                    raise InvalidValue("must be a title or a {title, language} object")
                entry = {"title": title(item.get("title")), "language": language(item.get("language"))}
            else:
                entry = {"title": title(item), "language": None}
        except InvalidValue as exc:
            raise InvalidValue(str(exc), str(index), *exc.subfield) from exc
        if entry not in titles:
            titles.append(entry)
    return titles


def country(value: Any) -> str:
    if not isinstance(value, str) or not COUNTRY_PATTERN.fullmatch(value):
        raise InvalidValue("must be an ISO 3166-1 alpha-2 country code such as US or JP")
    return value.upper()


def string_list(value: Any, limit: int = 1000) -> list[str]:
    if not isinstance(value, list):
        raise InvalidValue("must be a list of strings")
    items: list[str] = []
    for index, item in enumerate(value):
        # The common case costs one check per item; a bad item goes through text for its message.
        if isinstance(item, str) and len(item) <= limit and not CONTROL_CHARACTERS.search(item):
            stripped = item.strip()
        else:
            try:
                stripped = text(item, limit).strip()
            except InvalidValue as exc:
                raise InvalidValue(str(exc), str(index)) from exc
        if not stripped:
            raise InvalidValue("must not be empty", str(index))
        items.append(stripped)
    return items


def http_url(value: Any) -> str:
    url = text(value, 2000)
    if not HTTP_URL_PATTERN.fullmatch(url):
        raise InvalidValue("must be an absolute http(s) URL")
    return url


def count(value: Any) -> int:
    # Progress is an integer column, and progress toward a count is checked against it.
    if not is_int32(value) or value < 0:
        raise InvalidValue(f"must be an integer from 0 to {INT32_MAX}")
    return cast(int, value)


def isbn(value: Any) -> str:
    if not isinstance(value, str) or not ISBN_PATTERN.fullmatch(value):
        raise InvalidValue("must be a string of 10 or 13 digits (ISBN-10 may end in X), without hyphens")
    return value


def attributes(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidValue("must be a JSON object")
    checked: dict[str, Any] = {}
    for key, item in value.items():
        try:
            if item is None:
                # Stands for "remove this key" where attributes merge (ingestion).
                checked[key] = None
            elif key == "isbn":
                checked[key] = isbn(item)
            elif key in COUNT_ATTRIBUTES:
                checked[key] = count(item)
            elif key == "genres":
                checked[key] = normalize_genres(string_list(item))
            elif key in STRING_LIST_ATTRIBUTES:
                checked[key] = string_list(item)
            elif key in STRING_ATTRIBUTES:
                checked[key] = text(item, 1000)
            else:
                checked[key] = item
        except InvalidValue as exc:
            raise InvalidValue(str(exc), key, *exc.subfield) from exc
    return checked


# The taxonomy subtrees each media type may use: a FILM under written.book.novel is a mistake.
MEDIA_CLASS_ROOTS: dict[str, tuple[str, ...]] = {
    "book": ("written.book",),
    "comic": ("written.comic",),
    "manga": ("written.comic",),
    "anime": ("video",),
    "film": ("video.film",),
    "series": ("video.series",),
    "game": ("interactive",),
    "podcast": ("audio.podcast",),
    "audiobook": ("audio.audiobook",),
    "music": ("audio.music",),
    "live_event": ("event",),
}


def class_misfit(media_type: str, media_class: str) -> str | None:
    """Why `media_class` does not fit `media_type`, or None when it does."""
    roots = MEDIA_CLASS_ROOTS[media_type]
    if any(media_class == root or media_class.startswith(f"{root}.") for root in roots):
        return None
    return f"must lie under {' or '.join(roots)} for this media type"


def external_key(value: Any) -> tuple[str, str]:
    """`"<source>:<key>"` split at the first colon; both parts non-empty."""
    if not isinstance(value, str):
        raise InvalidValue('must be a string "<source>:<key>"')
    source, colon, key = value.partition(":")
    if not colon:
        raise InvalidValue('must be "<source>:<key>", e.g. wikidata:Q190192')
    return external_link(source, key)


def external_link(source: Any, key: Any) -> tuple[str, str]:
    if isinstance(source, str) and isinstance(key, str) and len(key) <= 500:
        # The common case in one pass; anything else goes the long way for a precise message.
        stripped_source, stripped_key = source.strip(), key.strip()
        if stripped_key and SOURCE_PATTERN.fullmatch(stripped_source) and not CONTROL_CHARACTERS.search(key):
            return stripped_source, stripped_key
    source_name = source.strip() if isinstance(source, str) else None
    if not source_name or not SOURCE_PATTERN.fullmatch(source_name):
        raise InvalidValue(
            "the source must be lower-case letters, digits, '_', '.' or '-' (e.g. wikidata)", "source"
        )
    if not isinstance(key, str) or not key.strip():
        raise InvalidValue("the key must be a non-empty string", "key")
    try:
        return source_name, text(key, 500).strip()
    except InvalidValue as exc:
        raise InvalidValue(f"the key {exc}", "key") from exc


def relation_type(value: Any) -> str:
    if value not in RELATION_TYPES:
        raise InvalidValue(f"must be one of {', '.join(RELATION_TYPES)}")
    return str(value)


def relation_weight(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value not in SMALLINT_RANGE:
        raise InvalidValue("must be an integer between -32768 and 32767")
    return value
