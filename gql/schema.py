"""The one place the schema is assembled from the domain modules."""

from strawberry.extensions import DisableIntrospection
from strawberry.tools import merge_types
from strawberry.types.base import get_object_definition

from gql.account_mutations import AccountMutation
from gql.accounts import AccountsQuery, User
from gql.admin import AdminMutation
from gql.config import Limits
from gql.conflicts import ConflictQuery
from gql.documents import DocumentCache
from gql.errors import ClassifiedErrorsSchema, MaskUnexpectedErrors
from gql.execution import ExecutionContext
from gql.input_guard import InputGuard
from gql.introspection import HideSchemaHints
from gql.library_import import LibraryImportMutation
from gql.list_mutations import ListMutation
from gql.lists import ListQuery
from gql.media import Media, MediaQuery
from gql.nodes import NodeQuery
from gql.observability import DatabaseStats
from gql.scalars import SCALAR_OVERRIDES
from gql.subscriptions import Subscription
from gql.tracking import TrackingMutation
from gql.websocket import OperationsByTransport


def described(root: type, description: str) -> type:
    """merge_types takes no description."""
    get_object_definition(root, strict=True).description = description
    return root


Query = described(
    merge_types("Query", (NodeQuery, MediaQuery, AccountsQuery, ListQuery, ConflictQuery)),
    "What can be read: the catalog, users, their lists and libraries, any node.",
)
Mutation = described(
    merge_types(
        "Mutation", (AccountMutation, TrackingMutation, ListMutation, AdminMutation, LibraryImportMutation)
    ),
    "What can be changed; a refused input changes nothing and is answered in `userErrors`.",
)


def document_cache(limits: Limits) -> DocumentCache:
    return DocumentCache(
        max_depth=limits.max_depth,
        max_aliases=limits.max_aliases,
        max_tokens=limits.max_tokens,
        max_cost=limits.max_cost,
    )


def build_schema(
    limits: Limits | None = None,
    expose_db_stats: bool = True,
    documents: DocumentCache | None = None,
    introspection: bool = True,
) -> ClassifiedErrorsSchema:
    limits = limits or Limits()
    documents = documents or document_cache(limits)
    extensions: list[object] = [
        MaskUnexpectedErrors,
        # Parsing (token limit included), validation (depth and alias limits) and the cost estimate,
        # once per query text: clients send the same few documents over and over (gql/documents.py).
        documents.extension,
        OperationsByTransport,
        InputGuard,
    ]
    if expose_db_stats:
        extensions.append(DatabaseStats)
    if not introspection:
        extensions += [DisableIntrospection, HideSchemaHints]
    return ClassifiedErrorsSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[Media, User],
        extensions=extensions,  # type: ignore[arg-type]
        scalar_overrides=SCALAR_OVERRIDES,
        execution_context_class=ExecutionContext,
    )


schema = build_schema()
