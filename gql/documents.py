"""Per-document work done once: parsing (with the token limit), validation (with the depth and alias
limits) and the cost estimate of a query text are cached, so a client sending the same document
again pays a lookup.

The cache belongs to one schema (see gql/schema.py) and is keyed by the query text: the rules
and limits are fixed when the schema is built, so the text alone decides the outcome. The cost
also depends on the `first` variables, so each document keeps the costs of the variable values
seen (a few at most in practice). Both levels are bounded LRUs, so unique texts cannot grow memory.
"""

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import ASTValidationRule, DocumentNode, GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.extensions.max_aliases import create_validator as max_aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as max_depth_rule
from strawberry.schema.schema import validate_document

from gql.limits import QueryCostExceeded, query_cost

DOCUMENTS_KEPT = 256
COSTS_KEPT_PER_DOCUMENT = 32


class _NotAnInt:
    """Stands for every variable value that cannot be a page size (the cost ignores them alike)."""


NOT_AN_INT = _NotAnInt()


@dataclass
class PreparedDocument:
    document: DocumentNode
    errors: list[GraphQLError] | None = None
    costs: OrderedDict[tuple[Any, ...], int] = field(default_factory=OrderedDict)


@dataclass
class DocumentStats:
    hits: int = 0
    misses: int = 0
    validations: int = 0
    costings: int = 0


class DocumentCache:
    """The documents of one schema, with the limits every document is checked against."""

    def __init__(
        self, max_depth: int, max_aliases: int, max_tokens: int, max_cost: int, maxsize: int = DOCUMENTS_KEPT
    ) -> None:
        # Rule classes made once: validation results stay valid for every later request.
        self.rules: tuple[type[ASTValidationRule], ...] = (
            max_depth_rule(max_depth, None),
            max_aliases_rule(max_aliases),
        )
        self.max_tokens = max_tokens
        self.max_cost = max_cost
        self.maxsize = maxsize
        self.documents: OrderedDict[str, PreparedDocument] = OrderedDict()
        self.stats = DocumentStats()

    def get(self, query: str) -> PreparedDocument | None:
        prepared = self.documents.get(query)
        if prepared is None:
            self.stats.misses += 1
            return None
        self.stats.hits += 1
        self.documents.move_to_end(query)
        return prepared

    def put(self, query: str, document: DocumentNode) -> PreparedDocument:
        prepared = self.documents[query] = PreparedDocument(document)
        if len(self.documents) > self.maxsize:
            self.documents.popitem(last=False)
        return prepared

    def extension(self) -> "CachedDocumentChecks":
        return CachedDocumentChecks(self)


def _cost_key(operation_name: str | None, variables: Mapping[str, Any] | None) -> tuple[Any, ...]:
    """What of a request can change its cost: the operation and the integer variables (`first`)."""
    values = sorted(
        (name, value if value is None or isinstance(value, int) else NOT_AN_INT)
        for name, value in (variables or {}).items()
    )
    return (operation_name, *values)


class CachedDocumentChecks(SchemaExtension):
    """Parse (by strawberry, on a miss), validate and cost a document once per query text."""

    def __init__(self, cache: DocumentCache) -> None:
        self.cache = cache
        self.prepared: PreparedDocument | None = None

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        query = context.query
        if query is not None:
            self.prepared = self.cache.get(query)
            if self.prepared is not None:
                context.graphql_document = self.prepared.document
            else:
                context.parse_options["max_tokens"] = self.cache.max_tokens
        yield
        if query is not None and self.prepared is None and context.graphql_document is not None:
            self.prepared = self.cache.put(query, context.graphql_document)

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        prepared = self.prepared
        if prepared is None or context.graphql_document is not prepared.document:
            # Not a document this cache parsed: check it anyway, but remember nothing.
            prepared = PreparedDocument(context.graphql_document) if context.graphql_document else None
        if prepared is not None:
            if prepared.errors is None:
                self.cache.stats.validations += 1
                prepared.errors = validate_document(
                    context.schema._schema, prepared.document, (*context.validation_rules, *self.cache.rules)
                )
            context.pre_execution_errors = list(prepared.errors)
            if not prepared.errors:
                cost = self._cost(prepared)
                if cost > self.cache.max_cost:
                    context.pre_execution_errors = [QueryCostExceeded(cost, self.cache.max_cost)]
        yield

    def _cost(self, prepared: PreparedDocument) -> int:
        context = self.execution_context
        key = _cost_key(context.operation_name, context.variables)
        cost = prepared.costs.get(key)
        if cost is None:
            self.cache.stats.costings += 1
            cost = prepared.costs[key] = query_cost(
                context.schema._schema, prepared.document, context.operation_name, context.variables
            )
            if len(prepared.costs) > COSTS_KEPT_PER_DOCUMENT:
                prepared.costs.popitem(last=False)
        return cost
