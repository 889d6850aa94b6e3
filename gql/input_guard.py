"""Every String, ID and JSON input checked at the edge, before any resolver or SQL runs: no NUL, no
unpaired surrogate (PostgreSQL can store neither, in text or jsonb), no non-finite number, no nesting
deeper than MAX_INPUT_DEPTH; and a document with several operations must name the one to run.

Variables are checked as the client sent them; literals in the document are checked only when the
document has an escape sequence, the one way a literal can carry such a character.
"""

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLError,
    ListValueNode,
    Node,
    ObjectValueNode,
    OperationDefinitionNode,
    StringValueNode,
    VariableDefinitionNode,
    Visitor,
    visit,
)
from graphql.execution import ExecutionResult as GraphQLExecutionResult
from graphql.pyutils import print_path_list
from strawberry.extensions import SchemaExtension

from db.storable import MAX_INPUT_DEPTH, unstorable_text, value_problem
from gql.errors import BAD_USER_INPUT, GRAPHQL_VALIDATION_FAILED


def variable_errors(
    variables: Mapping[str, Any], definitions: Mapping[str, VariableDefinitionNode]
) -> list[GraphQLError]:
    errors = []
    for name, value in variables.items():
        problem = value_problem(value)
        if problem is not None:
            path, reason = problem
            errors.append(
                GraphQLError(
                    f"Variable '${name}' has invalid value{print_path_list(path)}: the value {reason}",
                    definitions.get(name),
                    extensions={"code": BAD_USER_INPUT},
                )
            )
    return errors


class _LiteralChecker(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.errors: list[GraphQLError] = []
        self.depth = 0

    def enter_string_value(self, node: StringValueNode, *_: Any) -> None:
        reason = unstorable_text(node.value)
        if reason is not None:
            self.errors.append(
                GraphQLError(
                    f"A string in the document {reason}", node, extensions={"code": GRAPHQL_VALIDATION_FAILED}
                )
            )

    def enter_list_value(self, node: ListValueNode, *_: Any) -> None:
        self._enter(node)

    def enter_object_value(self, node: ObjectValueNode, *_: Any) -> None:
        self._enter(node)

    def leave_list_value(self, *_: Any) -> None:
        self.depth -= 1

    def leave_object_value(self, *_: Any) -> None:
        self.depth -= 1

    def _enter(self, node: Node) -> None:
        self.depth += 1
        if self.depth == MAX_INPUT_DEPTH + 1:
            self.errors.append(
                GraphQLError(
                    f"A value in the document is nested deeper than {MAX_INPUT_DEPTH} levels",
                    node,
                    extensions={"code": GRAPHQL_VALIDATION_FAILED},
                )
            )


def literal_errors(query: str, document: DocumentNode) -> list[GraphQLError]:
    if "\\u" not in query and query.count("[") + query.count("{") <= MAX_INPUT_DEPTH:
        return []
    cached = _checked_documents.get(query)
    if cached is None:
        checker = _LiteralChecker()
        visit(document, checker)
        if len(_checked_documents) >= CHECKED_DOCUMENTS_CACHED:
            _checked_documents.clear()
        cached = _checked_documents[query] = checker.errors
    return cached


# Clients send the same few documents again and again: each is walked once.
CHECKED_DOCUMENTS_CACHED = 256
_checked_documents: dict[str, list[GraphQLError]] = {}


def _operations(document: DocumentNode) -> Iterator[OperationDefinitionNode]:
    return (d for d in document.definitions if isinstance(d, OperationDefinitionNode))


def operation_errors(document: DocumentNode, operation_name: str | None) -> list[GraphQLError]:
    operations = list(_operations(document))
    if operation_name is None and len(operations) > 1:
        return [
            GraphQLError(
                "The document has several operations: give `operationName` to say which to run",
                operations,
                extensions={"code": GRAPHQL_VALIDATION_FAILED},
            )
        ]
    return []


def _definitions(document: DocumentNode, operation_name: str | None) -> dict[str, VariableDefinitionNode]:
    for operation in _operations(document):
        if operation_name is None or (operation.name and operation.name.value == operation_name):
            return {d.variable.name.value: d for d in operation.variable_definitions or ()}
    return {}


class InputGuard(SchemaExtension):
    """Runs after validation and before execution (and so before variables are coerced)."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and context.result is None:
            # What the client sent: strawberry's `operation_name` falls back to the first operation's.
            provided_name = getattr(context, "_provided_operation_name", None)
            errors = operation_errors(document, provided_name)
            errors = errors or literal_errors(context.query or "", document)
            errors = errors or variable_errors(context.variables or {}, _definitions(document, provided_name))
            if errors:
                context.result = GraphQLExecutionResult(data=None, errors=errors)
        yield
