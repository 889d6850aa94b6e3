"""The one place the schema is assembled from the domain modules."""

from strawberry.extensions import (
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.tools import merge_types

from gql.account_mutations import AccountMutation
from gql.accounts import AccountsQuery, User
from gql.admin import AdminMutation
from gql.config import Limits
from gql.errors import ClassifiedErrorsSchema, MaskUnexpectedErrors
from gql.input_guard import InputGuard
from gql.introspection import HideSchemaHints
from gql.limits import QueryCostLimiter
from gql.list_mutations import ListMutation
from gql.lists import ListQuery
from gql.media import Media, MediaQuery
from gql.observability import DatabaseStats
from gql.relay import NodeQuery
from gql.scalars import SCALAR_OVERRIDES
from gql.tracking import TrackingMutation

Query = merge_types("Query", (NodeQuery, MediaQuery, AccountsQuery, ListQuery))
Mutation = merge_types("Mutation", (AccountMutation, TrackingMutation, ListMutation, AdminMutation))


def build_schema(
    limits: Limits | None = None, expose_db_stats: bool = True, introspection: bool = True
) -> ClassifiedErrorsSchema:
    limits = limits or Limits()
    extensions: list[object] = [
        lambda: QueryDepthLimiter(max_depth=limits.max_depth),
        lambda: MaxAliasesLimiter(max_alias_count=limits.max_aliases),
        lambda: MaxTokensLimiter(max_token_count=limits.max_tokens),
        MaskUnexpectedErrors,
        # Clients send the same few documents over and over; parsing and validating them was a third
        # of a depth-3 traversal's server time (bench/README.md).
        lambda: ParserCache(maxsize=256),
        lambda: ValidationCache(maxsize=256),
        # After validation: ValidationCache replaces pre_execution_errors, and only a valid document is costed.
        lambda: QueryCostLimiter(max_cost=limits.max_cost),
        InputGuard,
    ]
    if expose_db_stats:
        extensions.append(DatabaseStats)
    if not introspection:
        extensions += [DisableIntrospection, HideSchemaHints]
    return ClassifiedErrorsSchema(
        query=Query,
        mutation=Mutation,
        types=[Media, User],
        extensions=extensions,  # type: ignore[arg-type]
        scalar_overrides=SCALAR_OVERRIDES,
    )


schema = build_schema()
