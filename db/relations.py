"""The relationship graph: relations seen from either side, and the franchise around an item.

A stored edge (media_id, related_media_id, type) reads "related_media is the <type> of media". Seen
from media it is OUTGOING with that label; seen from related_media it is INCOMING with the inverse
label (sequel/prequel, adaptation/source, side-story/parent-story; other types keep their name).
"""

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Text, any_, case, cast, func, literal, select, text, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from db.batch import uuid_keys
from db.direct import DirectConnection, DirectStatement
from db.media import JSON_READ_AS_TEXT, media_columns, media_read_columns
from db.media_rows import MediaRow, RelationRow
from db.models import INVERSE_RELATION, NON_CANONICAL_RELATIONS, RELATION_TYPES, Media, Relationship

OUTGOING = "outgoing"
INCOMING = "incoming"
BOTH = "both"
MAX_GRAPH_DEPTH = 5
# A franchise page shows at most this many items; past it the graph is cut, breadth first.
GRAPH_NODE_CAP = 500

RelationKey = tuple[uuid.UUID, str, tuple[str, ...] | None]
"""(media id, OUTGOING | INCOMING | BOTH, labels to keep or None for all)."""

GraphKey = tuple[uuid.UUID, int, tuple[str, ...] | None]
"""(root media id, depth, relation types to walk or None for all)."""


def canonical_types(labels: Sequence[str]) -> tuple[str, ...]:
    """The stored types behind labels: asking for prequels walks the stored sequel edges."""
    return tuple(
        sorted({INVERSE_RELATION[label] if label in NON_CANONICAL_RELATIONS else label for label in labels})
    )


def _inverse_label(stored: Any) -> Any:
    stored_text = cast(stored, Text)
    return case(
        *((stored_text == canonical, literal(INVERSE_RELATION[canonical])) for canonical in INVERSE_RELATION),
        else_=stored_text,
    )


def _relations_query() -> Any:
    """Relations of the `keys` items, both directions labelled for the key's side, with the other item."""
    outgoing = select(
        Relationship.media_id.label("viewer_id"),
        Relationship.related_media_id.label("other_id"),
        cast(Relationship.relation_type, Text).label("label"),
        literal(OUTGOING).label("direction"),
        Relationship.notes,
        Relationship.weight,
    ).where(Relationship.media_id == any_(uuid_keys()))
    incoming = select(
        Relationship.related_media_id,
        Relationship.media_id,
        _inverse_label(Relationship.relation_type),
        literal(INCOMING),
        Relationship.notes,
        Relationship.weight,
    ).where(Relationship.related_media_id == any_(uuid_keys()))
    edges = union_all(outgoing, incoming).subquery("edges")
    return (
        select(edges, *media_read_columns)
        .join(Media, Media.id == edges.c.other_id)
        .order_by(
            edges.c.viewer_id,
            func.array_position(literal(list(RELATION_TYPES)), edges.c.label),
            edges.c.weight.desc().nulls_last(),
            Media.release_date.asc().nulls_last(),
            Media.title,
            Media.id,
        )
    )


# Each level of a traversal: run by asyncpg directly (db/direct.py).
RELATIONS_BY_IDS = DirectStatement(_relations_query())


async def relations_by_keys(conn: DirectConnection, keys: Sequence[RelationKey]) -> list[list[RelationRow]]:
    """Each key's relations, both directions labelled for the key's side, with the other item's row."""
    ids = list({media_id for media_id, _, _ in keys})
    by_viewer: dict[uuid.UUID, list[RelationRow]] = defaultdict(list)
    for row in await RELATIONS_BY_IDS.fetch(conn, {"keys": ids}):
        by_viewer[row.viewer_id].append(row)
    return [
        [
            row
            for row in by_viewer[media_id]
            if direction in (BOTH, row.direction) and (labels is None or row.label in labels)
        ]
        for media_id, direction, labels in keys
    ]


@dataclass
class Graph:
    nodes: list[MediaRow] = field(default_factory=list)
    edges: list[tuple[uuid.UUID, uuid.UUID, str]] = field(default_factory=list)
    truncated: bool = False


_MEDIA_SELECT = ", ".join(
    f"m.{column.key}::text AS {column.key}"
    if column.key in ("media_class", "collection_path", *JSON_READ_AS_TEXT)
    else f"m.{column.key}"
    for column in media_columns
)

# Breadth first, one row per level and root: `visited` makes it cycle-safe and keeps each item at
# its shortest distance; a level stops growing at the cap, so a hub cannot blow the walk up.
GRAPH_SQL = text(f"""
WITH RECURSIVE roots AS (
    SELECT k.key_no, k.root, k.max_depth, string_to_array(k.types, ',') AS types
    FROM unnest(CAST(:roots AS uuid[]), CAST(:depths AS int[]), CAST(:types AS text[]))
        WITH ORDINALITY AS k(root, max_depth, types, key_no)
),
walk(key_no, types, max_depth, depth, frontier, visited) AS (
    SELECT key_no, types, max_depth, 0, ARRAY[root], ARRAY[root] FROM roots
    UNION ALL
    SELECT w.key_no, w.types, w.max_depth, w.depth + 1, step.found, w.visited || step.found
    FROM walk w
    CROSS JOIN LATERAL (
        SELECT array_agg(near.other ORDER BY near.other) AS found
        FROM (
            SELECT DISTINCT e.other
            FROM (
                SELECT r.related_media_id AS other, r.relation_type FROM media.relationships r
                WHERE r.media_id = ANY(w.frontier)
                UNION ALL
                SELECT r.media_id, r.relation_type FROM media.relationships r
                WHERE r.related_media_id = ANY(w.frontier)
            ) e
            WHERE (w.types IS NULL OR e.relation_type::text = ANY(w.types)) AND e.other <> ALL(w.visited)
            ORDER BY e.other
            LIMIT :cap
        ) near
    ) step
    WHERE w.depth < w.max_depth AND cardinality(w.visited) <= :cap AND step.found IS NOT NULL
),
found AS (
    SELECT w.key_no, w.types, n.id, w.depth,
           row_number() OVER (PARTITION BY w.key_no ORDER BY w.depth, n.ord) AS rank,
           count(*) OVER (PARTITION BY w.key_no) AS total
    FROM walk w CROSS JOIN LATERAL unnest(w.frontier) WITH ORDINALITY AS n(id, ord)
),
kept AS (SELECT * FROM found WHERE rank <= :cap)
SELECT k.key_no, k.depth, k.total, edges.to_ids, edges.to_types, {_MEDIA_SELECT}
FROM kept k
JOIN media.media m ON m.id = k.id
CROSS JOIN LATERAL (
    SELECT array_agg(r.related_media_id ORDER BY r.related_media_id) AS to_ids,
           array_agg(r.relation_type::text ORDER BY r.related_media_id) AS to_types
    FROM media.relationships r
    JOIN kept target ON target.key_no = k.key_no AND target.id = r.related_media_id
    WHERE r.media_id = k.id AND (k.types IS NULL OR r.relation_type::text = ANY(k.types))
) edges
ORDER BY k.key_no, k.depth, m.release_date NULLS LAST, m.title, m.id
""")


async def graphs_by_keys(conn: AsyncConnection, keys: Sequence[GraphKey]) -> list[Graph]:
    """The items within `depth` hops of each root (root first, then by distance and release) and
    the stored edges among them; `truncated` when GRAPH_NODE_CAP cut the walk."""
    result = await conn.execute(
        GRAPH_SQL,
        {
            "roots": [root for root, _, _ in keys],
            "depths": [depth for _, depth, _ in keys],
            "types": [None if types is None else ",".join(types) for _, _, types in keys],
            "cap": GRAPH_NODE_CAP,
        },
    )
    graphs = [Graph() for _ in keys]
    for row in result.all():
        graph = graphs[row.key_no - 1]
        graph.nodes.append(row)
        graph.truncated = row.total > GRAPH_NODE_CAP
        for target, relation_type in zip(row.to_ids or [], row.to_types or [], strict=True):
            graph.edges.append((row.id, target, relation_type))
    return graphs
