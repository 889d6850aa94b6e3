"""The catalog filter shared by searchMedia, franchise and smart lists: a plain value turned into
SQL conditions on media.media. Values arrive already validated (types, ltree syntax, dates)."""

import datetime as dt
import re
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import ColumnElement, and_, cast, func, literal, or_, true
from sqlalchemy.dialects.postgresql import JSONB, array

from db.media import MEDIA_TYPES
from db.models import Media
from db.types import Ltree, RegConfig

LTREE_PATTERN = re.compile(r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$")
TRIGRAM_THRESHOLD = 0.3
# Spelled as `attributes -> 'genres'` so the expression index idx_media_attr_genres applies.
GENRES = Media.attributes.op("->", return_type=JSONB)(literal("genres"))


class InvalidFilter(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class MediaFilter:
    search: str | None = None
    media_types: tuple[str, ...] | None = None
    media_class: str | None = None
    collection_path: str | None = None
    released_after: dt.date | None = None
    released_before: dt.date | None = None
    countries: tuple[str, ...] | None = None
    creator: str | None = None
    genres_any: tuple[str, ...] | None = None
    genres_all: tuple[str, ...] | None = None
    attributes: dict[str, Any] | None = None

    def validate(self) -> "MediaFilter":
        for name in ("media_class", "collection_path"):
            value = getattr(self, name)
            if value is not None and not LTREE_PATTERN.match(value):
                raise InvalidFilter(name, f"{name} must be dot-separated labels of letters, digits and _")
        if self.media_types is not None:
            unknown = sorted(set(self.media_types) - set(MEDIA_TYPES))
            if unknown:
                raise InvalidFilter("media_types", f"unknown media types: {', '.join(unknown)}")
        if self.attributes is not None and not isinstance(self.attributes, dict):
            raise InvalidFilter("attributes", "attributes must be a JSON object")
        if self.search is not None and len(self.search) > 200:
            raise InvalidFilter("search", "search is at most 200 characters")
        return self

    def to_json(self) -> dict[str, Any]:
        """The stored form (smart list definitions): JSON types only, unset fields left out."""
        out: dict[str, Any] = {}
        for spec in fields(self):
            value = getattr(self, spec.name)
            if value is None:
                continue
            if isinstance(value, dt.date):
                value = value.isoformat()
            elif isinstance(value, tuple):
                value = list(value)
            out[spec.name] = value
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "MediaFilter":
        known = {spec.name for spec in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidFilter(unknown[0], f"unknown filter keys: {', '.join(unknown)}")
        values: dict[str, Any] = {}
        for key, value in data.items():
            if value is None:
                continue
            if key in ("released_after", "released_before"):
                try:
                    value = dt.date.fromisoformat(value)
                except (TypeError, ValueError) as exc:
                    raise InvalidFilter(key, f"{key} must be an ISO-8601 date") from exc
            elif key in ("media_types", "countries", "genres_any", "genres_all"):
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise InvalidFilter(key, f"{key} must be a list of strings")
                value = tuple(value)
            elif key == "attributes":
                if not isinstance(value, dict):
                    raise InvalidFilter(key, "attributes must be a JSON object")
            elif not isinstance(value, str):
                raise InvalidFilter(key, f"{key} must be a string")
            values[key] = value
        return cls(**values).validate()


def text_search_condition(text: str) -> ColumnElement[bool]:
    """Full text (websearch syntax) or, for typos, trigram word similarity on the title."""
    tsquery = func.websearch_to_tsquery(cast(literal("simple"), RegConfig()), text)
    return or_(Media.search_vector.op("@@")(tsquery), Media.title.op("%>")(text))


def filter_conditions(media_filter: MediaFilter) -> ColumnElement[bool]:
    conditions: list[ColumnElement[bool]] = []
    f = media_filter
    if f.search:
        conditions.append(text_search_condition(f.search))
    if f.media_types is not None:
        conditions.append(Media.media_type.in_(f.media_types))
    if f.media_class:
        conditions.append(Media.media_class.op("<@")(cast(f.media_class, Ltree())))
    if f.collection_path:
        conditions.append(Media.collection_path.op("<@")(cast(f.collection_path, Ltree())))
    if f.released_after:
        conditions.append(Media.release_date >= f.released_after)
    if f.released_before:
        conditions.append(Media.release_date <= f.released_before)
    if f.countries is not None:
        conditions.append(Media.country_of_origin.in_([c.upper() for c in f.countries]))
    if f.creator:
        conditions.append(Media.creators.op("&&")(array([f.creator])) | _creator_like(f.creator))
    if f.genres_any:
        conditions.append(GENRES.op("?|")(array(list(f.genres_any))))
    if f.genres_all:
        conditions.append(GENRES.op("?&")(array(list(f.genres_all))))
    if f.attributes:
        conditions.append(Media.attributes.op("@>")(cast(f.attributes, JSONB)))
    return and_(true(), *conditions)


def _creator_like(creator: str) -> ColumnElement[bool]:
    """Case-insensitive substring match on any creator ("herbert" finds "Frank Herbert")."""
    return func.media.text_array_to_string(Media.creators).ilike(f"%{_escape_like(creator)}%")


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
