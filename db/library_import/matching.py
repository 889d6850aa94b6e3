"""Which catalog item each row of an import stands for.

1. Ids: the row's (source, key) pairs, in the row's order of preference, against media.external_links
   and media.external_id ("source:key"). The first pair that lands on an item of one of the row's media
   types wins (MAL and Trakt number movies and shows, anime and manga separately).
2. Title and year, only for rows no id found: the item whose title equals the row's exactly,
   whose release year equals the row's year and whose type is one of the row's types. Exactly one such
   item is a match; several are `ambiguous`, none (or a row without a year) is `not-found`.
"""

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from db.library_import.entry import ImportEntry

# LATERAL: one index probe per key (a join would hash the whole catalog for every batch).
BY_IDS = text(
    """
    SELECT w.ord, w.rank, m.id, m.title, m.media_type, m.attributes
    FROM unnest(CAST(:ords AS int[]), CAST(:ranks AS int[]), CAST(:sources AS text[]), CAST(:keys AS text[]))
         AS w(ord, rank, source, key)
    CROSS JOIN LATERAL (
        SELECT l.media_id FROM media.external_links l WHERE l.source_name = w.source AND l.external_key = w.key
        UNION
        SELECT i.id FROM media.media i WHERE i.external_id = w.source || ':' || w.key
    ) AS found
    JOIN media.media m ON m.id = found.media_id
    """
)
# Equal titles, one probe of idx_media_title per row (OFFSET 0 keeps the planner from turning the
# LATERAL into a hash join over the whole catalog; ILIKE through the trigram index was 12 ms a row).
BY_TITLE = text(
    """
    SELECT w.ord, m.id, m.title, m.media_type, m.attributes
    FROM unnest(CAST(:ords AS int[]), CAST(:titles AS text[]), CAST(:years AS int[])) AS w(ord, title, year)
    CROSS JOIN LATERAL (
        SELECT m.id, m.title, m.media_type, m.attributes FROM media.media m
        WHERE m.title = w.title
          AND m.release_date >= make_date(w.year, 1, 1) AND m.release_date < make_date(w.year + 1, 1, 1)
          AND m.media_type = ANY(CAST(:media_types AS text[]))
        OFFSET 0
    ) AS m
    """
)


@dataclass(frozen=True)
class CatalogItem:
    id: uuid.UUID
    title: str
    media_type: str
    attributes: dict[str, Any]


@dataclass(frozen=True)
class NoMatch:
    reason: str  # not-found | ambiguous
    message: str


def _item(row: Any) -> CatalogItem:
    return CatalogItem(row.id, row.title, row.media_type, row.attributes)


def _type_fits(entry: ImportEntry, media_type: str) -> bool:
    return not entry.media_types or media_type in entry.media_types


async def match_entries(conn: AsyncConnection, entries: Sequence[ImportEntry]) -> list[CatalogItem | NoMatch]:
    """One result per entry, in order; two statements at most."""
    ords, ranks, sources, keys = [], [], [], []
    for ord_, entry in enumerate(entries):
        for rank, (source, key) in enumerate(entry.external_ids):
            ords.append(ord_)
            ranks.append(rank)
            sources.append(source)
            keys.append(key)
    best: dict[int, tuple[int, CatalogItem]] = {}
    if ords:
        rows = await conn.execute(BY_IDS, {"ords": ords, "ranks": ranks, "sources": sources, "keys": keys})
        for row in rows:
            if not _type_fits(entries[row.ord], row.media_type):
                continue
            if row.ord not in best or row.rank < best[row.ord][0]:
                best[row.ord] = (row.rank, _item(row))
    results: list[CatalogItem | NoMatch | None] = [
        best[ord_][1] if ord_ in best else None for ord_ in range(len(entries))
    ]
    by_title = [
        ord_
        for ord_, entry in enumerate(entries)
        if results[ord_] is None and entry.title and entry.year is not None
    ]
    candidates: dict[int, list[CatalogItem]] = defaultdict(list)
    if by_title:
        media_types = sorted({kind for ord_ in by_title for kind in entries[ord_].media_types})
        rows = await conn.execute(
            BY_TITLE,
            {
                "ords": by_title,
                "titles": [entries[ord_].title for ord_ in by_title],
                "years": [entries[ord_].year for ord_ in by_title],
                "media_types": media_types,
            },
        )
        for row in rows:
            if _type_fits(entries[row.ord], row.media_type):
                candidates[row.ord].append(_item(row))
    final: list[CatalogItem | NoMatch] = []
    for ord_, entry in enumerate(entries):
        found = results[ord_]
        if found is not None:
            final.append(found)
        elif len(candidates[ord_]) == 1:
            final.append(candidates[ord_][0])
        elif candidates[ord_]:
            final.append(
                NoMatch("ambiguous", f"{len(candidates[ord_])} catalog items have this title and year")
            )
        elif entry.title and entry.year is None and not entry.external_ids:
            final.append(NoMatch("not-found", "no ids, and title matching needs a year"))
        else:
            final.append(NoMatch("not-found", "no catalog item has these ids, or this title and year"))
    return final
