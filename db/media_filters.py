"""The catalog filter shared by searchMedia, franchise and smart lists: a plain value turned into
SQL conditions on media.media. Values arrive already validated (types, ltree syntax, dates).

Text search is full text over accent-folded text (websearch syntax; every title and the creators
as written, the description stemmed), in one statement. The typo tier works word by word: a query
word of 4+ letters that is no word of any title or creator (media.title_words, kept by a trigger)
may also be any catalog word one edit away (insert, delete, substitute, swap two neighbours; looked
up through the word index) or similar by trigrams (the dictionary's trigram index), so the cost depends on
the dictionary's index, never on the number of items. Trigrams alone miss short words: "Dnue" and
"Dune" share one trigram of five.
"""

import datetime as dt
import functools
import re
import string
import unicodedata
from dataclasses import dataclass, field, fields, replace
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Float,
    Numeric,
    Text,
    and_,
    any_,
    case,
    cast,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, array
from sqlalchemy.ext.asyncio import AsyncConnection

from db.genres import normalize_genres
from db.models import Media, title_words
from db.types import Ltree
from db.vocabulary import MEDIA_TYPES as MEDIA_TYPES

# Labels of at most 255 characters and without `-`: what PostgreSQL 15's ltree accepts (later versions
# accept more), and any PostgreSQL >= 15 is supported. Always `fullmatch`: `$` would let "a\n" through.
LTREE_PATTERN = re.compile(r"[A-Za-z0-9_]{1,255}(\.[A-Za-z0-9_]{1,255})*")
# Spelled as `attributes -> 'genres'` so the expression index idx_media_attr_genres applies.
GENRES = Media.attributes.op("->", return_type=JSONB)(literal("genres"))
WORD = re.compile(r"[^\W_]+")
WEBSEARCH_OPERATORS = re.compile(r'"|(^|\s)-\S|\sor\s', re.IGNORECASE)
MIN_TYPO_WORD = 4
MAX_TYPO_WORDS = 6
MAX_SEARCH_WORDS = 12
MAX_CORRECTIONS = 5
TYPO_ALPHABET = string.ascii_lowercase + string.digits
EXACT_TITLE_BONUS = 3.0
POPULARITY_WEIGHT = 0.1
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
    # The search's typo corrections looked up in the dictionary (with_typo_corrections): pairs of a word
    # and its tsquery alternatives ("dnue | dune"). Not part of what the filter asks for (cursors,
    # smart list definitions); None means "look them up inside the statement".
    typo_corrections: tuple[tuple[str, str], ...] | None = field(default=None, compare=False)

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
            if value is None or spec.name == "typo_corrections":
                continue
            if isinstance(value, dt.date):
                value = value.isoformat()
            elif isinstance(value, tuple):
                value = list(value)
            out[spec.name] = value
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "MediaFilter":
        known = {spec.name for spec in fields(cls)} - {"typo_corrections"}
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


def fold(text: str) -> str:
    """Lower case without accents, like media.fold in SQL (used to spell out typo variants)."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _constant(text: str) -> ColumnElement[str]:
    """`text` written into the statement rather than bound: the planner folds the tsquery and estimates
    from the column's statistics how many items match, even where a prepared statement would be
    planned generically (walk the popularity index for a common word, a bitmap for a rare one)."""
    return literal(text, Text, literal_execute=True)


def _tsquery(config: str, text: str) -> ColumnElement[Any]:
    return func.websearch_to_tsquery(
        literal_column(f"'{config}'::regconfig"), func.media.fold(_constant(text))
    )


def _precise_query(text: str) -> ColumnElement[Any]:
    # Titles and creators are indexed folded as written ('simple'), the description stemmed ('english').
    return _tsquery("simple", text).op("||")(_tsquery("english", text))


def typo_words(text: str) -> list[str]:
    if WEBSEARCH_OPERATORS.search(text):
        return []
    return [word for word in _words(text) if len(word) >= MIN_TYPO_WORD][:MAX_TYPO_WORDS]


def _words(text: str) -> list[str]:
    return WORD.findall(fold(text))


def one_edit_variants(word: str) -> list[str]:
    """Every spelling one edit away (insert, delete, substitute, swap two neighbours) over a-z0-9."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletions = [left + right[1:] for left, right in splits if right]
    swaps = [left + right[1] + right[0] + right[2:] for left, right in splits if len(right) > 1]
    substitutions = [left + c + right[1:] for left, right in splits if right for c in TYPO_ALPHABET]
    insertions = [left + c + right for left, right in splits for c in TYPO_ALPHABET]
    return sorted(set(deletions + swaps + substitutions + insertions) - {word})


def _corrections(word: str) -> ColumnElement[Any]:
    """Catalog words close to `word` ('a | b'), or NULL when `word` is itself a catalog word. Looked up
    in media.title_words through its word index (one-edit spellings) and its trigram index.

    The spellings are a join, not `word = ANY(spellings)`: a prepared statement is planned
    generically after five runs, and the generic plan tested every dictionary word against every
    spelling (3 to 5 times the custom plan's time, from the sixth typo on)."""
    known = select(title_words.c.word).where(title_words.c.word == word).exists()
    spellings = (
        func.unnest(cast(one_edit_variants(word), ARRAY(Text)))
        .table_valued("word")
        .render_derived(name="spellings")
    )
    similarity = func.similarity(title_words.c.word, word)
    # Words one edit away are what was meant; merely similar words only when there are none.
    one_edit = (
        select(title_words.c.word)
        .join(spellings, spellings.c.word == title_words.c.word)
        .group_by(title_words.c.word)
        .order_by(similarity.desc(), title_words.c.word)
        .limit(MAX_CORRECTIONS)
        .subquery()
    )
    similar = (
        select(title_words.c.word)
        .where(title_words.c.word.op("%")(word))
        .group_by(title_words.c.word)
        .order_by(similarity.desc(), title_words.c.word)
        .limit(MAX_CORRECTIONS)
        .subquery()
    )
    return case(
        (known, null()),
        else_=func.coalesce(
            select(func.string_agg(one_edit.c.word, literal(" | "))).scalar_subquery(),
            select(func.string_agg(similar.c.word, literal(" | "))).scalar_subquery(),
        ),
    )


def _full_query(text: str) -> ColumnElement[Any]:
    """The tsquery a search text stands for: the text as written, OR'ed with the same words where each
    word the catalog does not know may also be one of its close catalog words (the typo tier)."""
    precise = _precise_query(text)
    correctable = set(typo_words(text))
    if not correctable:
        return precise
    terms = [
        literal("(") + literal(word) + func.coalesce(literal(" | ") + _corrections(word), "") + literal(")")
        if word in correctable
        else literal(word)
        for word in _words(text)[:MAX_SEARCH_WORDS]
    ]
    corrected = func.to_tsquery(literal_column("'simple'::regconfig"), func.concat_ws(" & ", *terms))
    return precise.op("||")(corrected)


@functools.lru_cache(maxsize=512)
def _search_query_cte(text: str) -> Any:
    return select(_full_query(text).label("query")).cte("search_query")


def search_query(text: str, corrections: tuple[tuple[str, str], ...] | None = None) -> ColumnElement[Any]:
    """The search's tsquery. With `corrections` looked up beforehand (with_typo_corrections), a constant;
    without, the look-up happens in the statement, written once (a CTE) however often it is used."""
    if corrections is None:
        query: ColumnElement[Any] = select(_search_query_cte(text).c.query).scalar_subquery()
        return query
    precise = _precise_query(text)
    alternatives = dict(corrections)
    if not alternatives:
        return precise
    terms = [
        f"({alternatives[word]})" if word in alternatives else word
        for word in _words(text)[:MAX_SEARCH_WORDS]
    ]
    corrected = func.to_tsquery(literal_column("'simple'::regconfig"), _constant(" & ".join(terms)))
    return precise.op("||")(corrected)


async def with_typo_corrections(conn: AsyncConnection, media_filter: MediaFilter) -> MediaFilter:
    """The filter with its search's typo corrections looked up (on the dictionary only), so the
    search statements carry a constant tsquery. Words the catalog knows need no correction: they are
    looked up first, in a statement far cheaper to plan than the one-edit spellings of each word."""
    words = typo_words(media_filter.search or "")
    if words:
        known = select(title_words.c.word).where(title_words.c.word == any_(cast(words, ARRAY(Text))))
        known_words = set((await conn.execute(known)).scalars())
        words = [word for word in words if word not in known_words]
    if not words:
        return replace(media_filter, typo_corrections=())
    looked_up = select(*(_corrections(word).label(f"word_{n}") for n, word in enumerate(words)))
    row = (await conn.execute(looked_up)).one()
    found = tuple(
        (word, f"{word} | {alternatives}")
        for word, alternatives in zip(words, row, strict=True)
        if alternatives
    )
    return replace(media_filter, typo_corrections=found)


def text_search_condition(
    text: str, corrections: tuple[tuple[str, str], ...] | None = None
) -> ColumnElement[bool]:
    condition: ColumnElement[bool] = Media.search_vector.op("@@")(search_query(text, corrections))
    return condition


def exact_title(text: str) -> ColumnElement[bool]:
    """The item has a title or alternative title spelled like `text` (case, accents, punctuation aside)."""
    condition: ColumnElement[bool] = Media.search_titles.op("@>", return_type=Boolean)(
        array([func.media.title_key(_constant(text))], type_=Text)
    )
    return condition


def _title_rank(query: ColumnElement[Any]) -> ColumnElement[Any]:
    # Weights {D, C, B, A}: titles count, creators less, the description not at all (it decides whether
    # an item matches, not how well), so items titled alike tie and popularity, then date, decide.
    return func.ts_rank(literal_column("'{0, 0, 0.4, 1}'::float4[]"), Media.search_vector, query)


def relevance(text: str, corrections: tuple[tuple[str, str], ...] | None = None) -> ColumnElement[float]:
    """Higher is better: an exact title (or alternative title) first, then what matched the words as
    written, by title rank and closeness of the title; typo matches after them. Popularity (log of the
    tracker count) is blended in, so among comparable matches the one most people track comes first.
    Rounded, so near-equal text scores tie and fall to popularity and release date."""
    precise = _precise_query(text)
    text_score = case(
        (exact_title(text), EXACT_TITLE_BONUS),
        (
            Media.search_vector.op("@@")(precise),
            1.0
            + _title_rank(precise)
            + func.similarity(func.media.title_key(_constant(text)), Media.search_titles[1]),
        ),
        else_=_title_rank(search_query(text, corrections))
        + func.similarity(func.media.title_key(_constant(text)), Media.search_titles[1]),
    )
    score = func.round(cast(text_score + POPULARITY_WEIGHT * func.ln(1 + Media.tracker_count), Numeric), 4)
    return cast(score, Float)


def filter_conditions(media_filter: MediaFilter) -> ColumnElement[bool]:
    conditions: list[ColumnElement[bool]] = []
    f = media_filter
    if f.search:
        conditions.append(text_search_condition(f.search, f.typo_corrections))
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
        conditions.append(GENRES.op("?|")(array(normalize_genres(list(f.genres_any)))))
    if f.genres_all:
        conditions.append(GENRES.op("?&")(array(normalize_genres(list(f.genres_all)))))
    if f.attributes:
        conditions.append(Media.attributes.op("@>")(cast(f.attributes, JSONB)))
    return and_(true(), *conditions)


def _creator_like(creator: str) -> ColumnElement[bool]:
    """Case-insensitive substring match on any creator ("herbert" finds "Frank Herbert")."""
    return func.media.text_array_to_string(Media.creators).ilike(f"%{_escape_like(creator)}%")


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
