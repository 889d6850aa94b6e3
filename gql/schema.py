"""The one place the schema is assembled from the domain modules."""

import strawberry
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.tools import merge_types

from gql.admin import AdminMutation
from gql.config import Limits
from gql.errors import MaskUnexpectedErrors
from gql.media import Media, MediaQuery
from gql.observability import DatabaseStats
from gql.relay import NodeQuery

Query = merge_types("Query", (NodeQuery, MediaQuery))
Mutation = merge_types("Mutation", (AdminMutation,))


def build_schema(limits: Limits | None = None, expose_db_stats: bool = True) -> strawberry.Schema:
    limits = limits or Limits()
    extensions: list[object] = [
        lambda: QueryDepthLimiter(max_depth=limits.max_depth),
        lambda: MaxAliasesLimiter(max_alias_count=limits.max_aliases),
        lambda: MaxTokensLimiter(max_token_count=limits.max_tokens),
        MaskUnexpectedErrors,
    ]
    if expose_db_stats:
        extensions.append(DatabaseStats)
    return strawberry.Schema(query=Query, mutation=Mutation, types=[Media], extensions=extensions)  # type: ignore[arg-type]


schema = build_schema()
