"""The catalog filter shared by searchMedia, franchise and smart lists: a plain value turned into
SQL conditions on media.media. Values arrive already validated (types, ltree syntax, dates).

Text search runs in two tiers, in one statement. The precise tier is full text (websearch syntax;
title and creators as written, the description stemmed). Only when it matches nothing in the whole
catalog does the typo tier apply: trigram word similarity of the query to the title, or every query
word of 4+ letters within one edit (insert, delete, substitute, swap two neighbours) of a title
word. Trigrams alone miss short words: "Dnue" and "Dune" share one trigram of five.
"""

import datetime as dt
import re
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Text,
    and_,
    any_,
    case,
    cast,
    func,
    literal,
    literal_column,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, array
from sqlalchemy.orm import aliased

from db.models import Media
from db.types import Ltree

MEDIA_TYPES = (
    "book",
    "comic",
    "manga",
    "anime",
    "film",
    "series",
    "game",
    "podcast",
    "audiobook",
    "music",
    "live_event",
)
# Labels of at most 255 characters and without `-`: what PostgreSQL 15's ltree accepts (later versions
# accept more), and any PostgreSQL >= 15 is supported. Always `fullmatch`: `$` would let "a\n" through.
LTREE_PATTERN = re.compile(r"[A-Za-z0-9_]{1,255}(\.[A-Za-z0-9_]{1,255})*")
# Spelled as `attributes -> 'genres'` so the expression index idx_media_attr_genres applies.
GENRES = Media.attributes.op("->", return_type=JSONB)(literal("genres"))
WEBSEARCH_OPERATORS = re.compile(r'"|(^|\s)-\S|\sor\s', re.IGNORECASE)
MIN_TYPO_WORD = 4
MAX_TYPO_WORDS = 6
MAX_SEARCH_LENGTH = 200


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
            if value is not None and not LTREE_PATTERN.fullmatch(value):
                raise InvalidFilter(name, "must be dot-separated labels of 1 to 255 letters, digits and _")
        if self.media_types is not None:
            unknown = sorted(set(self.media_types) - set(MEDIA_TYPES))
            if unknown:
                raise InvalidFilter("media_types", f"has unknown media types: {', '.join(unknown)}")
        if self.attributes is not None and not isinstance(self.attributes, dict):
            raise InvalidFilter("attributes", "must be a JSON object")
        if self.search is not None and len(self.search) > MAX_SEARCH_LENGTH:
            raise InvalidFilter("search", f"must be at most {MAX_SEARCH_LENGTH} characters")
        if self.released_after and self.released_before and self.released_after > self.released_before:
            raise InvalidFilter("released_after", "must not be later than releasedBefore")
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
            raise InvalidFilter(unknown[0], f"is not a filter key (unknown: {', '.join(unknown)})")
        values: dict[str, Any] = {}
        for key, value in data.items():
            if value is None:
                continue
            if key in ("released_after", "released_before"):
                try:
                    value = dt.date.fromisoformat(value)
                except (TypeError, ValueError) as exc:
                    raise InvalidFilter(key, "must be an ISO 8601 date YYYY-MM-DD") from exc
            elif key in ("media_types", "countries", "genres_any", "genres_all"):
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise InvalidFilter(key, "must be a list of strings")
                value = tuple(value)
            elif key == "attributes":
                if not isinstance(value, dict):
                    raise InvalidFilter(key, "must be a JSON object")
            elif not isinstance(value, str):
                raise InvalidFilter(key, "must be a string")
            values[key] = value
        return cls(**values).validate()


def _tsquery(config: str, text: str) -> ColumnElement[Any]:
    # A regconfig constant (not a cast parameter) lets the planner fold the tsquery once per statement.
    return func.websearch_to_tsquery(literal_column(f"'{config}'::regconfig"), text)


def _search_query(text: str) -> ColumnElement[Any]:
    # Title and creators are indexed as written ('simple'), the description stemmed ('english').
    return _tsquery("simple", text).op("||")(_tsquery("english", text))


def _precise_match(text: str, table: Any) -> ColumnElement[bool]:
    full_text: ColumnElement[bool] = table.search_vector.op("@@")(_search_query(text))
    return full_text


def typo_words(text: str) -> list[str]:
    if WEBSEARCH_OPERATORS.search(text):
        return []
    words = [word for word in re.findall(r"\w+", text.lower()) if len(word) >= MIN_TYPO_WORD]
    return words[:MAX_TYPO_WORDS]


def _one_edit_patterns(word: str) -> tuple[list[str], list[str]]:
    """Regex alternatives for `word` within one edit: (same length, other length)."""
    swaps = [word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(len(word) - 1)]
    substitutions = [word[:i] + "." + word[i + 1 :] for i in range(len(word))]
    deletions = [word[:i] + word[i + 1 :] for i in range(len(word))]
    insertions = [word[:i] + "." + word[i:] for i in range(len(word) + 1)]
    return list(dict.fromkeys([word, *swaps, *substitutions])), list(dict.fromkeys(deletions + insertions))


def _word_regex(alternatives: list[str]) -> str:
    # `\w` words hold no regex metacharacters, so the alternatives need no escaping.
    return r"\m(" + "|".join(alternatives) + r")\M"


def _typo_ids(text: str, words: list[str]) -> Any:
    """Ids in the typo tier (ungated). Two branches, so the trigram index serves the similarity one;
    the one-edit regexes read every title (about 0.3 s per 100,000 items, paid only when nothing
    matches precisely)."""
    similar = aliased(Media)
    ids: Any = select(similar.id).where(similar.title.op("%>")(text))
    if words:
        near = aliased(Media)
        one_edit = [
            near.title.op("~*")(
                _word_regex([variant for group in _one_edit_patterns(word) for variant in group])
            )
            for word in words
        ]
        ids = ids.union(select(near.id).where(*one_edit))
    return ids.subquery()


def _nothing_precise(text: str) -> ColumnElement[bool]:
    """True when the precise tier matches no item at all, evaluated once per statement. A count,
    not EXISTS: EXISTS is planned as a sequential scan that stops at the first match, which reads
    the whole table exactly when there is no match (the typo case)."""
    other = aliased(Media)
    return select(func.count()).select_from(other).where(_precise_match(text, other)).scalar_subquery() == 0


def text_search_condition(text: str) -> ColumnElement[bool]:
    precise = _precise_match(text, Media)
    if WEBSEARCH_OPERATORS.search(text):
        return precise
    # An uncorrelated subquery: PostgreSQL evaluates it once per statement.
    typo_ids = _typo_ids(text, typo_words(text))
    # The gate sits above the union, so it is counted once and neither branch runs when it is false.
    typo_array = select(func.array_agg(typo_ids.c.id)).where(_nothing_precise(text)).scalar_subquery()
    return or_(precise, Media.id == any_(func.coalesce(typo_array, literal_column("'{}'::uuid[]"))))


def relevance(text: str) -> ColumnElement[float]:
    """Higher is better: full-text matches by text rank plus title similarity (so the item titled
    exactly as asked comes first); items of the typo tier by title similarity
    (of a part, then of the whole) plus a bonus per word a swap or one wrong letter away from a title word
    (likelier typos than a missing letter)."""
    query = _search_query(text)
    typo_score: ColumnElement[Any] = func.word_similarity(text, Media.title) + func.similarity(
        text, Media.title
    )
    for word in typo_words(text):
        same_length, _ = _one_edit_patterns(word)
        typo_score = typo_score + case((Media.title.op("~*")(_word_regex(same_length)), 0.5), else_=0.0)
    score = case(
        (
            Media.search_vector.op("@@")(query),
            func.ts_rank(Media.search_vector, query) + func.similarity(text, Media.title) + 1.0,
        ),
        else_=typo_score,
    )
    return cast(score, Float)


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
        conditions.append(
            or_(
                Media.creators.overlap(cast([f.creator], ARRAY(Text))),
                _creator_like(f.creator),
            )
        )
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
