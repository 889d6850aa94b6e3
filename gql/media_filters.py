"""Catalog filter and sort inputs, shared by searchMedia, franchise and smart lists."""

import datetime as dt
from enum import Enum

import strawberry
from strawberry.scalars import JSON

from db.media_filters import InvalidFilter, MediaFilter
from db.media_search import MediaSort
from gql.enums import MediaType
from gql.errors import BadUserInput


@strawberry.enum(description="Ascending or descending.")
class SortDirection(Enum):
    ASC = "asc"
    DESC = "desc"


@strawberry.enum(description="What catalog items can be sorted by.")
class MediaSortField(Enum):
    TITLE = "title"
    RELEASE_DATE = "release_date"
    CREATED_AT = "created_at"
    RELEVANCE = strawberry.enum_value(
        "relevance",
        description="Best match first by default: an exact title or alternative title, then text relevance "
        "blended with popularity; equal scores by popularity, then earlier release. Without a search text, "
        "popularity.",
    )
    POPULARITY = strawberry.enum_value("popularity", description="Number of trackers.")


# Most relevant and most popular come first unless the client says otherwise.
DEFAULT_DESCENDING = {MediaSortField.RELEVANCE, MediaSortField.POPULARITY}


@strawberry.input(
    name="MediaSort",
    description="A sort key. Without `direction`: TITLE, RELEASE_DATE, CREATED_AT ascend; RELEVANCE and "
    "POPULARITY descend. Items without a release date come last either way; ties break by ID (RELEVANCE: by "
    "popularity, then release date, then ID).",
)
class MediaSortInput:
    field: MediaSortField = strawberry.field(description="What to sort by.")
    direction: SortDirection | None = strawberry.field(
        default=None, description="The field's own default when omitted."
    )

    def to_sort(self) -> MediaSort:
        descending = (
            self.field in DEFAULT_DESCENDING
            if self.direction is None
            else self.direction is SortDirection.DESC
        )
        return MediaSort(self.field.value, descending)


def to_sorts(sort: list[MediaSortInput] | None) -> list[MediaSort]:
    if sort is not None and len(sort) > len(MediaSortField):
        raise BadUserInput(f"`sort` holds at most {len(MediaSortField)} keys")
    return [spec.to_sort() for spec in sort or []]


@strawberry.input(name="MediaFilter", description="Every given condition must hold.")
class MediaFilterInput:
    search: str | None = strawberry.field(
        default=None,
        description='Full text in websearch syntax (`dune -messiah`, `"exact phrase"`) over every title '
        "(alternative titles included), the creators and the description; case and accents do not matter "
        "(`amelie` finds Amélie), and a word no title or creator contains also matches the catalog words "
        "one typo away.",
    )
    media_types: list[MediaType] | None = strawberry.field(
        default=None, description="Any of these media types."
    )
    media_class: str | None = strawberry.field(
        default=None, description="Taxonomy subtree: `written` matches `written.book.novel`."
    )
    collection_path: str | None = strawberry.field(
        default=None, description="Franchise subtree: `dune` matches `dune.novels`."
    )
    released_after: dt.date | None = strawberry.field(default=None, description="Inclusive.")
    released_before: dt.date | None = strawberry.field(default=None, description="Inclusive.")
    countries: list[str] | None = strawberry.field(default=None, description="ISO 3166 codes, e.g. `JP`.")
    creator: str | None = strawberry.field(
        default=None, description="Part of a creator's name, any case: `herbert`."
    )
    genres_any: list[str] | None = strawberry.field(
        default=None,
        description="Any of these genres, in any spelling: `Sci-Fi` and `science-fiction` are both "
        "`science fiction` (the `genres` query lists the genres in use).",
    )
    genres_all: list[str] | None = strawberry.field(
        default=None, description="All of these genres, in any spelling (as `genresAny`)."
    )
    attributes: JSON | None = strawberry.field(
        default=None, description='JSON containment: `{"platforms": ["Windows"]}`.'
    )

    def to_filter(self) -> MediaFilter:
        """The validated filter; BadUserInput naming the field when a value is not acceptable."""
        if self.attributes is not None and not isinstance(self.attributes, dict):
            raise BadUserInput("filter.attributes: attributes must be a JSON object")
        try:
            return MediaFilter(
                search=self.search.strip() or None if self.search is not None else None,
                media_types=None
                if self.media_types is None
                else tuple(media_type.value for media_type in self.media_types),
                media_class=self.media_class,
                collection_path=self.collection_path,
                released_after=self.released_after,
                released_before=self.released_before,
                countries=None if self.countries is None else tuple(self.countries),
                creator=self.creator,
                genres_any=None if self.genres_any is None else tuple(self.genres_any),
                genres_all=None if self.genres_all is None else tuple(self.genres_all),
                attributes=self.attributes,
            ).validate()
        except InvalidFilter as exc:
            raise bad_filter(exc) from exc


def bad_filter(exc: InvalidFilter) -> BadUserInput:
    camel = "".join(part.capitalize() if i else part for i, part in enumerate(exc.field.split("_")))
    return BadUserInput(f"filter.{camel}: {exc}")
