"""The typed relationship graph as GraphQL sees it: relation labels, edges and franchise graphs."""

from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from db import relations as relation_queries
from db.vocabulary import INVERSE_RELATION, NON_CANONICAL_RELATIONS, RELATION_TYPES, graphql_name

if TYPE_CHECKING:
    from gql.media import Media


@strawberry.enum(
    description="How two items relate. Each label has its inverse on the other side: "
    + ", ".join(
        f"{graphql_name(label)} shows as {graphql_name(INVERSE_RELATION[label])}"
        for label in RELATION_TYPES
        if label in INVERSE_RELATION and label not in NON_CANONICAL_RELATIONS
    )
    + " from the other item; the other types read the same from both sides."
)
class RelationType(Enum):
    SEQUEL = "sequel"
    PREQUEL = "prequel"
    ADAPTATION = "adaptation"
    SOURCE = "source"
    SPIN_OFF = "spin-off"
    SHARED_UNIVERSE = "shared-universe"
    SIDE_STORY = "side-story"
    PARENT_STORY = "parent-story"
    ALTERNATIVE_VERSION = "alternative-version"
    REMAKE = "remake"
    SUMMARY = "summary"
    COMPILATION = "compilation"
    CROSSOVER = "crossover"
    CHARACTER = "character"
    OTHER = "other"


@strawberry.enum(
    description="OUTGOING: the edge was recorded from this item; INCOMING: from the other item. "
    "BOTH only filters; an edge is never BOTH."
)
class RelationDirection(Enum):
    OUTGOING = relation_queries.OUTGOING
    INCOMING = relation_queries.INCOMING
    BOTH = relation_queries.BOTH


@strawberry.type(description="A related item, labelled for the side it is seen from.")
class MediaRelation:
    relation_type: RelationType = strawberry.field(description="What `node` is to this item.")
    direction: RelationDirection = strawberry.field(description="Which item the edge was recorded from.")
    notes: str | None = strawberry.field(description="What the curator noted about the relation.")
    weight: int | None = strawberry.field(description="An integer the curator attached to the relation.")
    node: Annotated["Media", strawberry.lazy("gql.media")] = strawberry.field(description="The related item.")


@strawberry.type(description="A stored edge: `to` is the `relationType` of `from`.")
class GraphEdge:
    from_: strawberry.ID = strawberry.field(name="from", description="The ID of the item the edge starts at.")
    to: strawberry.ID = strawberry.field(description="The ID of the item it ends at.")
    relation_type: RelationType = strawberry.field(description="What `to` is to `from`.")


@strawberry.type(
    description=f"The connected franchise around an item: at most {relation_queries.GRAPH_NODE_CAP} "
    "items, the root first, then by distance and release date."
)
class MediaGraph:
    nodes: list[Annotated["Media", strawberry.lazy("gql.media")]] = strawberry.field(
        description="The items reached, the root first."
    )
    edges: list[GraphEdge] = strawberry.field(description="The stored edges between them.")
    truncated: bool = strawberry.field(
        description=f"True when the walk found more than {relation_queries.GRAPH_NODE_CAP} items; "
        "the nearest ones are kept."
    )
