"""Catalog types and queries: Media with its links, relations, graph and stats; searchMedia,
franchise, lookups and the taxonomy counts for filter menus."""

import asyncio
import dataclasses
import datetime as dt
import operator
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types.nodes import SelectedField, Selection

from db import media as media_queries
from db import media_search as search_queries
from db import relations as relation_queries
from db.keyset import InvalidCursor
from db.media_filters import LTREE_PATTERN, MediaFilter, with_typo_corrections
from db.media_rows import JsonText, MediaRow
from db.media_search import MediaSort
from gql.context import Info
from gql.enums import DatePrecision, MediaType, TrackingStatus
from gql.errors import BadUserInput
from gql.media_filters import MediaFilterInput, MediaSortInput, to_sorts
from gql.permissions import STATS_BREAKDOWN_MIN_TRACKERS, is_admin, stats_breakdown_visible
from gql.relations import GraphEdge, MediaGraph, MediaRelation, RelationDirection, RelationType
from gql.relay import (
    After,
    Connection,
    First,
    Node,
    bad_cursor,
    connection_from_page,
    decode_id,
    page_size,
    to_global_id,
)
from gql.revisions import MediaRevision, media_revisions
from gql.tracking import TrackingEntry, viewer_entry


@strawberry.type(description="Another title of the item, in a language when known.")
class AlternativeTitle:
    title: str = strawberry.field(description="The title.")
    language: str | None = strawberry.field(description="A language tag such as `ja` or `pt-BR`.")


@strawberry.type(description="Where one field's current value comes from.")
class FieldSource:
    field: str = strawberry.field(
        description="A field name as stored (`title`, `release_date`, ...) or `attributes.<key>`; "
        "`*` stands for every field not listed (the item's creator)."
    )
    source: str = strawberry.field(
        description="`admin`, `feed:<source name>`, or `legacy` (set before sources were recorded)."
    )


@strawberry.type(description="How many people track an item with one status.")
class StatusCount:
    status: TrackingStatus = strawberry.field(description="The status.")
    count: int = strawberry.field(description="How many entries have it.")


@strawberry.type(description="How many items of the catalog are of one media type.")
class MediaTypeCount:
    media_type: MediaType = strawberry.field(description="The media type.")
    count: int = strawberry.field(description="Items of this type.")


@strawberry.type(description="How many items of the catalog have one genre.")
class GenreCount:
    name: str = strawberry.field(description="The genre in its one spelling (`science fiction`).")
    count: int = strawberry.field(description="Items with this genre.")


@strawberry.type(description="How many items of the catalog are in one class (and its subclasses).")
class MediaClassCount:
    media_class: str = strawberry.field(description="The taxonomy path, e.g. `written.book`.")
    count: int = strawberry.field(description="Items in this taxonomy subtree.")


@strawberry.type(
    description="Aggregates over every user's entries; nothing about any one user. The rating mean and "
    f"the status breakdown are withheld while fewer than {STATS_BREAKDOWN_MIN_TRACKERS} users track the item."
)
class MediaStats:
    trackers: int = strawberry.field(description="Users with an entry for this item, in any status.")
    mean_rating: float | None = strawberry.field(
        description="Mean of the ratings given (1-10); null when nobody rated it or while it is withheld."
    )
    by_status: list[StatusCount] = strawberry.field(description="Entries per status; empty while withheld.")
    breakdown_withheld: bool = strawberry.field(
        description=f"True while fewer than {STATS_BREAKDOWN_MIN_TRACKERS} users track the item: a mean or a "
        "breakdown over so few entries would tell what each of them holds, private profiles included."
    )


@strawberry.type(description="Where an item is known elsewhere.")
class ExternalLink:
    source_name: str = strawberry.field(description="The other catalog, e.g. `tmdb`.")
    external_key: str = strawberry.field(description="The item's key there.")


# Media's JSON columns are decoded only when a client asks for them (db.media.media_read_columns).


def decoded_attributes(root: strawberry.Parent["Media"]) -> JSON:
    return JSON(media_queries.decode_json(root.raw_attributes))


def decoded_alternative_titles(root: strawberry.Parent["Media"]) -> list[AlternativeTitle]:
    return [
        AlternativeTitle(title=item["title"], language=item.get("language"))
        for item in media_queries.decode_json(root.raw_alternative_titles)
    ]


def decoded_field_sources(root: strawberry.Parent["Media"], info: Info) -> list[FieldSource] | None:
    """Null for everyone but admins: provenance names the internal feeds."""
    if not is_admin(info.context.viewer):
        return None
    sources = media_queries.decode_json(root.raw_field_sources)
    return [FieldSource(field=name, source=source) for name, source in sorted(sources.items())]


@strawberry.type(description="One canonical catalog item: a book, a film, a game, a live event...")
class Media(Node):
    raw_id: strawberry.Private[uuid.UUID]
    external_id: str | None = strawberry.field(
        description="The `source:key` the item was first ingested under; null for items made by admins."
    )
    media_type: MediaType = strawberry.field(description="The kind of media.")
    media_class: str = strawberry.field(description="Taxonomy path, e.g. `written.book.novel`.")
    title: str = strawberry.field(description="The main title.")
    alternative_titles: list[AlternativeTitle] = strawberry.field(
        resolver=decoded_alternative_titles,
        description="Other titles: translations, romanisations, working titles.",
    )
    release_date: dt.date | None = strawberry.field(
        description="The first day of the period releaseDatePrecision names (1977-01-01 for a year-only 1977)."
    )
    release_date_precision: DatePrecision = strawberry.field(
        description="YEAR or MONTH when only the year or month of the release is known."
    )
    country_of_origin: str | None = strawberry.field(description="An ISO 3166-1 country code.")
    creators: list[str] = strawberry.field(
        description="Authors, directors, studios, artists... in credit order."
    )
    cover_url: str | None = strawberry.field(description="An image of the cover or poster.")
    description: str | None = strawberry.field(description="A summary.")
    attributes: JSON = strawberry.field(
        resolver=decoded_attributes, description="Type-specific fields: isbn, page_count, episodes..."
    )
    collection_path: str | None = strawberry.field(
        description="Franchise / universe path, e.g. `dune.novels`."
    )
    field_sources: list[FieldSource] | None = strawberry.field(
        resolver=decoded_field_sources,
        description="Who set each field (docs/ingestion.md, Provenance); fields not listed fall under `*`. "
        "Null unless the viewer is an admin (feed names are internal).",
    )
    created_at: dt.datetime = strawberry.field(description="When the item entered the catalog.")
    updated_at: dt.datetime = strawberry.field(description="Its last change.")
    tracker_count: strawberry.Private[int]
    raw_attributes: strawberry.Private[JsonText | dict[str, Any]]
    raw_alternative_titles: strawberry.Private[JsonText | list[dict[str, str | None]]]
    raw_field_sources: strawberry.Private[JsonText | dict[str, str]]
    viewer_entry: TrackingEntry | None = strawberry.field(
        resolver=viewer_entry, description="The viewer's tracking entry; null when anonymous or untracked."
    )
    revisions: list[MediaRevision] | None = strawberry.field(
        resolver=media_revisions,
        description="Change history by admins and feeds, newest first; null unless the viewer is an admin.",
    )

    @classmethod
    def from_row(cls, row: MediaRow) -> "Media":
        """An item whose fields are read from `row` when first asked for (_ROW_FIELDS)."""
        media = cls.__new__(cls)
        media.__dict__[_ROW] = row
        return media

    @strawberry.field(description="Where other catalogs list this item.")
    async def external_links(self, info: Info) -> list[ExternalLink]:
        rows = await info.context.loaders.external_links_by_media_id.load(self.raw_id)
        return [ExternalLink(source_name=row.source_name, external_key=row.external_key) for row in rows]

    @strawberry.field(description="Related items seen from this item, both directions by default.")
    async def relations(
        self,
        info: Info,
        types: Annotated[
            list[RelationType] | None, strawberry.argument(description="Only these types; all when omitted.")
        ] = None,
        direction: Annotated[
            RelationDirection,
            strawberry.argument(description="Edges recorded from this item, to it, or both."),
        ] = RelationDirection.BOTH,
    ) -> list[MediaRelation]:
        labels = None if types is None else tuple(sorted({t.value for t in types}))
        loaders = info.context.loaders
        rows = await loaders.relations_by_key.load((self.raw_id, direction.value, labels))
        relations = []
        for row in rows:
            loaders.media_by_id.prime(row.id, row)
            relations.append(
                MediaRelation(
                    relation_type=RelationType(row.label),
                    direction=RelationDirection(row.direction),
                    notes=row.notes,
                    weight=row.weight,
                    node=Media.from_row(row),
                )
            )
        return relations

    @strawberry.field(
        description=f"The connected franchise around this item, up to `depth` hops "
        f"(0-{relation_queries.MAX_GRAPH_DEPTH}) over edges of `types` (a type and its inverse walk "
        "the same edges), in one SQL statement."
    )
    async def graph(
        self,
        info: Info,
        depth: Annotated[
            int, strawberry.argument(description="How many edges away to walk (0 to the server's maximum).")
        ] = 2,
        types: Annotated[
            list[RelationType] | None,
            strawberry.argument(description="Walk only these types; all when omitted."),
        ] = None,
    ) -> MediaGraph:
        if not 0 <= depth <= relation_queries.MAX_GRAPH_DEPTH:
            raise BadUserInput(f"`depth` must be between 0 and {relation_queries.MAX_GRAPH_DEPTH}")
        walked = None if types is None else relation_queries.canonical_types([t.value for t in types])
        graph = await info.context.loaders.graph_by_key.load((self.raw_id, depth, walked))
        return MediaGraph(
            nodes=[Media.from_row(row) for row in graph.nodes],
            edges=[
                GraphEdge(
                    from_=to_global_id("Media", source),
                    to=to_global_id("Media", target),
                    relation_type=RelationType(relation_type),
                )
                for source, target, relation_type in graph.edges
            ],
            truncated=graph.truncated,
        )

    @strawberry.field(description="What all users' entries say of the item, in aggregate.")
    async def stats(self, info: Info) -> MediaStats:
        stats = await info.context.loaders.stats_by_media_id.load(self.raw_id)
        if not stats_breakdown_visible(stats.trackers):
            return MediaStats(
                trackers=stats.trackers, mean_rating=None, by_status=[], breakdown_withheld=True
            )
        return MediaStats(
            trackers=stats.trackers,
            mean_rating=None if stats.mean_rating is None else round(stats.mean_rating, 2),
            by_status=[
                StatusCount(status=TrackingStatus(status), count=count)
                for status, count in stats.by_status.items()
            ],
            breakdown_withheld=False,
        )


# A page of 100 items asked only for `title` should not pay for 100 global ids, enums and lists:
# Media.from_row keeps the row, and each field below is computed from it on first read and then
# stored on the instance, whose own attribute shadows the descriptor from then on. Media built
# with its constructor (the dataclass `__init__`) sets every field and never reaches these.
_ROW = "_row"


class _RowField:
    def __init__(self, compute: Callable[[MediaRow], object]) -> None:
        self.compute = compute
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        try:
            row = instance.__dict__[_ROW]
        except KeyError:
            raise AttributeError(self.name) from None
        value = instance.__dict__[self.name] = self.compute(row)
        return value


# The fields that are not the row's column of the same name.
_CONVERTED_FROM_ROW: dict[str, Callable[[MediaRow], object]] = {
    "id": lambda row: to_global_id("Media", row.id),
    "raw_id": operator.attrgetter("id"),
    "media_type": lambda row: MediaType(row.media_type),
    "raw_alternative_titles": operator.attrgetter("alternative_titles"),
    "release_date_precision": lambda row: DatePrecision(row.release_date_precision),
    "creators": lambda row: list(row.creators or []),
    "raw_attributes": operator.attrgetter("attributes"),
    "raw_field_sources": operator.attrgetter("field_sources"),
}
_ROW_FIELDS: dict[str, Callable[[MediaRow], object]] = {
    field.name: _CONVERTED_FROM_ROW.get(field.name) or operator.attrgetter(field.name)
    for field in dataclasses.fields(Media)
    if getattr(field, "base_resolver", None) is None
}
for _name, _compute in _ROW_FIELDS.items():
    _descriptor = _RowField(_compute)
    _descriptor.__set_name__(Media, _name)
    setattr(Media, _name, _descriptor)


async def media_by_raw_id(info: Info, media_id: uuid.UUID) -> Media | None:
    """An id merged into another item (mergeMedia) resolves to that item."""
    loaders = info.context.loaders
    row = await loaders.media_by_id.load(media_id)
    if row is None:
        kept_id = await loaders.redirect_by_old_id.load(media_id)
        row = None if kept_id is None else await loaders.media_by_id.load(kept_id)
    return None if row is None else Media.from_row(row)


@strawberry.type(description="A page of catalog items.")
class MediaConnection(Connection[Media]):
    count_media: strawberry.Private[Callable[[], Awaitable[search_queries.MediaCount]]]

    @strawberry.field(
        description=f"The number of items matching across all pages: exact up to "
        f"{search_queries.COUNT_BOUND:,} ({search_queries.SEARCH_COUNT_BOUND:,} with a text `search`); "
        'above that it is that bound and `totalCountIsExact` is false ("more than").'
    )
    async def total_count(self) -> int:
        return (await self.count_media()).count

    @strawberry.field(
        description=f"False when more than {search_queries.COUNT_BOUND:,} items match "
        f"({search_queries.SEARCH_COUNT_BOUND:,} with a text `search`) and `totalCount` is that bound "
        "rather than the exact number."
    )
    async def total_count_is_exact(self) -> bool:
        return (await self.count_media()).exact


async def media_connection(
    info: Info,
    media_filter: MediaFilter,
    sort: list[MediaSort],
    first: int | None,
    after: str | None,
    cursor_kind: str,
) -> MediaConnection:
    size = page_size(first)
    read = info.context.loaders.read
    counted: asyncio.Future[search_queries.MediaCount] | None = None

    async def count() -> search_queries.MediaCount:
        bound = search_queries.count_bound(media_filter)
        return await read(search_queries.count_media, media_filter, bound=bound)

    async def count_once() -> search_queries.MediaCount:
        # totalCount and totalCountIsExact share one statement.
        nonlocal counted
        if counted is None:
            counted = asyncio.ensure_future(count())
        return await counted

    try:
        if media_filter.search:
            media_filter = await read(with_typo_corrections, media_filter)
        counts_with_page = search_queries.page_counts_matches(media_filter, sort)
        if not counts_with_page and _asks_for(info.selected_fields[0].selections, COUNT_FIELDS):
            # The count reads on its own connection while the page reads on another. Its failure
            # is reported by totalCount, or not at all when the page failed first (no second
            # error, no "exception never retrieved" at exit).
            counted = asyncio.ensure_future(count())
            counted.add_done_callback(_retrieve_exception)
        page = await read(
            search_queries.search_media, media_filter, sort, size, after, cursor_kind=cursor_kind
        )
        if page.total is not None:
            counted = asyncio.get_running_loop().create_future()
            counted.set_result(page.total)
    except BaseException as exc:
        if counted is not None:
            counted.cancel()
        if isinstance(exc, InvalidCursor):
            raise bad_cursor(exc) from exc
        raise

    async def count_total() -> int:
        return (await count_once()).count

    plain = connection_from_page(page, after, Media.from_row, count_total)
    return MediaConnection(
        edges=plain.edges, page_info=plain.page_info, count_total=count_total, count_media=count_once
    )


COUNT_FIELDS = frozenset({"totalCount", "totalCountIsExact"})


def _retrieve_exception(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


def _asks_for(selections: Sequence[Selection], names: frozenset[str]) -> bool:
    """Whether `selections` select any of the fields `names` (through fragments too)."""
    for selection in selections:
        if isinstance(selection, SelectedField):
            if selection.name in names:
                return True
        elif _asks_for(selection.selections, names):
            return True
    return False


@strawberry.type
class MediaQuery:
    @strawberry.field(description="A catalog item by its global ID; null when there is none.")
    async def media(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="The item's ID.")]
    ) -> Media | None:
        media_id = decode_id(id, "Media")
        return None if media_id is None else await media_by_raw_id(info, media_id)

    @strawberry.field(
        description="The item another catalog knows by `key` (e.g. source `tmdb`, key `438631`)."
    )
    async def media_by_external_id(
        self,
        info: Info,
        source: Annotated[str, strawberry.argument(description="The other catalog, e.g. `tmdb`.")],
        key: Annotated[str, strawberry.argument(description="The item's key there.")],
    ) -> Media | None:
        row = await info.context.loaders.read(media_queries.media_by_external_key, source, key)
        return None if row is None else Media.from_row(row)

    @strawberry.field(description="Search, filter and sort the catalog, with keyset pagination.")
    async def search_media(
        self,
        info: Info,
        filter: Annotated[
            MediaFilterInput | None, strawberry.argument(description="Which items; all when omitted.")
        ] = None,
        sort: Annotated[
            list[MediaSortInput] | None,
            strawberry.argument(description="Sort keys, most significant first (see MediaSort)."),
        ] = None,
        first: First = None,
        after: After = None,
    ) -> MediaConnection:
        media_filter = filter.to_filter() if filter is not None else MediaFilter()
        return await media_connection(info, media_filter, to_sorts(sort), first, after, "search")

    @strawberry.field(
        description="Every item under a collection path (`dune` includes `dune.novels`), across media "
        "types, in release order (undated items last)."
    )
    async def franchise(
        self,
        info: Info,
        path: Annotated[str, strawberry.argument(description="A franchise path, e.g. `dune`.")],
        first: First = None,
        after: After = None,
    ) -> MediaConnection:
        if not LTREE_PATTERN.fullmatch(path):
            raise BadUserInput("`path` must be dot-separated labels of letters, digits and _")
        sort = [MediaSort("release_date"), MediaSort("title")]
        return await media_connection(
            info, MediaFilter(collection_path=path), sort, first, after, "franchise"
        )

    @strawberry.field(description="Every media type with its number of items, for filter menus.")
    async def media_types(self, info: Info) -> list[MediaTypeCount]:
        counts = await info.context.loaders.read(media_queries.media_type_counts)
        return [MediaTypeCount(media_type=MediaType(media_type), count=count) for media_type, count in counts]

    @strawberry.field(
        description="Every taxonomy path in use and its ancestors (`written`, `written.book`, ...) with "
        "the number of items in each subtree, for filter menus."
    )
    async def media_classes(self, info: Info) -> list[MediaClassCount]:
        counts = await info.context.loaders.read(media_queries.media_class_counts)
        return [MediaClassCount(media_class=media_class, count=count) for media_class, count in counts]

    @strawberry.field(
        description="Every genre in use with its number of items, most used first, for filter menus. "
        "Genres are stored and filtered in one spelling: `Sci-Fi`, `science-fiction` and "
        "`Science Fiction` are `science fiction`."
    )
    async def genres(self, info: Info) -> list[GenreCount]:
        counts = await info.context.loaders.read(media_queries.genre_counts)
        return [GenreCount(name=name, count=count) for name, count in counts]
