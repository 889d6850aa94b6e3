"""Error tiers: lookups return null; expected failures are typed (userErrors in mutation payloads, or a
GraphQL error whose `extensions.code` says what the client must fix); anything else is a defect,
masked with a request id.

`classify` is the one place that decides which is which. Client mistakes are logged at INFO on one
line (request id and codes, never the input values); defects at ERROR once, with the traceback.
To make a new kind of failure expected, register its exception type in EXPECTED_EXCEPTIONS.
"""

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import strawberry
from graphql import GraphQLError, GraphQLSyntaxError, ValueNode, VariableDefinitionNode
from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext, ExecutionResult

from db.availability import is_database_unavailable
from db.refusals import RefusalCode
from gql.outage import service_unavailable
from gql.request_state import current_request_id

log = logging.getLogger("omnimediatrak.errors")

INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
BAD_USER_INPUT = "BAD_USER_INPUT"
GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"


# The codes are the commands' own vocabulary (db/refusals.py), exposed as they are.
strawberry.enum(RefusalCode, name="UserErrorCode", description="Why a mutation refused its input.")
UserErrorCode: TypeAlias = RefusalCode


@strawberry.type(description="One reason a mutation refused its input; nothing was changed.")
class UserError:
    field: list[str] | None = strawberry.field(
        description='The path of the input field at fault (e.g. ["input", "rating"]); null when no '
        "single field is."
    )
    code: UserErrorCode = strawberry.field(description="What kind of refusal, for programs.")
    message: str = strawberry.field(description="What went wrong, for people.")


USER_ERRORS = "Why the input was refused, each with a code; empty when the mutation succeeded."
# The one argument of every mutation: `input: Annotated[SomeInput, INPUT]`.
INPUT = strawberry.argument(description="What to do; see the input type.")


class BadUserInput(GraphQLError):
    """An argument the client must fix (bad cursor, page size above the maximum, ...)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, extensions={"code": BAD_USER_INPUT})


class Forbidden(GraphQLError):
    def __init__(self, message: str = "You are not allowed to do this") -> None:
        super().__init__(message, extensions={"code": "FORBIDDEN"})


class NotFound(GraphQLError):
    """An object that does not exist or that the caller may not read: the two look the same."""

    def __init__(self, what: str) -> None:
        super().__init__(f"No such {what}", extensions={"code": "NOT_FOUND"})


class Unauthenticated(GraphQLError):
    def __init__(self, message: str = "Sign in first") -> None:
        super().__init__(message, extensions={"code": "UNAUTHENTICATED"})


@dataclass(frozen=True)
class ExpectedFailure:
    """How an expected exception that is not a GraphQLError is shown and logged."""

    code: str
    message: str | None = None  # None: the exception's own message
    log_level: int = logging.INFO


# Exceptions raised below the GraphQL layer that are not defects (e.g. an unavailable database).
EXPECTED_EXCEPTIONS: dict[type[BaseException], ExpectedFailure] = {}


@dataclass(frozen=True)
class Classified:
    code: str
    message: str
    log_level: int


def _own_code(error: GraphQLError) -> str | None:
    code = (error.extensions or {}).get("code")
    return code if isinstance(code, str) else None


def classify(error: GraphQLError) -> Classified | None:
    """The code and message a client gets for an expected failure; None for a defect."""
    original = error.original_error
    if isinstance(error, GraphQLSyntaxError) or isinstance(original, GraphQLSyntaxError):
        return Classified(GRAPHQL_PARSE_FAILED, error.message, logging.INFO)
    if error.nodes and all(isinstance(node, VariableDefinitionNode) for node in error.nodes):
        return Classified(BAD_USER_INPUT, error.message, logging.INFO)  # variable coercion
    if error.path is None and error.nodes and all(isinstance(node, ValueNode) for node in error.nodes):
        return Classified(GRAPHQL_VALIDATION_FAILED, error.message, logging.INFO)  # a literal's scalar parse
    if original is None:
        code = _own_code(error)
        if code is not None:
            return Classified(code, error.message, logging.INFO)
        if error.path is None:
            return Classified(GRAPHQL_VALIDATION_FAILED, error.message, logging.INFO)
        return None  # e.g. a non-null field resolved to null: a defect
    if isinstance(original, GraphQLError):
        code = _own_code(original) or _own_code(error)
        if code is not None:
            return Classified(code, error.message, logging.INFO)
        if isinstance(original, StrawberryInputCoercionError):
            return Classified(BAD_USER_INPUT, error.message, logging.INFO)
        return None
    if isinstance(original, RecursionError) and error.path is None:
        # The parser and the variable coercion of graphql-core recurse on nesting.
        return Classified(
            GRAPHQL_PARSE_FAILED, "The document or its variables are nested too deeply", logging.INFO
        )
    for exception_type in type(original).__mro__:
        failure = EXPECTED_EXCEPTIONS.get(exception_type)
        if failure is not None:
            return Classified(failure.code, failure.message or str(original), failure.log_level)
    return None


def present(error: GraphQLError) -> GraphQLError:
    """The error as the client sees it: typed, or masked with the request id."""
    classified = classify(error)
    if classified is None:
        request_id = current_request_id.get()
        return GraphQLError(
            f"Internal server error (request id {request_id})",
            nodes=error.nodes,
            path=error.path,
            extensions={"code": INTERNAL_SERVER_ERROR, "requestId": request_id},
        )
    if _own_code(error) == classified.code and error.message == classified.message:
        return error
    return GraphQLError(
        classified.message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={**(error.extensions or {}), "code": classified.code},
    )


def present_all(errors: Sequence[GraphQLError]) -> list[GraphQLError]:
    return [present(error) for error in errors]


def log_errors(errors: Sequence[GraphQLError]) -> None:
    """One INFO line for the client mistakes of a request; one ERROR line with traceback per defect."""
    request_id = current_request_id.get()
    mistakes: list[str] = []
    for error in errors:
        if is_database_unavailable(error.original_error):
            continue  # logged once per outage (gql/outage.py), not per request
        classified = classify(error)
        if classified is None:
            log.error(
                "unexpected error (request %s) at %s",
                request_id,
                ".".join(map(str, error.path or ())) or "-",
                exc_info=error.original_error or error,
            )
        elif classified.log_level > logging.INFO:
            log.log(classified.log_level, "%s (request %s)", classified.code, request_id)
        else:
            where = ".".join(map(str, error.path or ()))
            mistakes.append(f"{classified.code} at {where}" if where else classified.code)
    if mistakes:
        log.info("client error (request %s): %s", request_id, ", ".join(mistakes))


class ClassifiedErrorsSchema(strawberry.Schema):
    """A schema that logs errors by the rule above instead of strawberry's ERROR-for-everything."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        log_errors(errors)


class MaskUnexpectedErrors(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and result.errors:
            result.errors = [self._present(error) for error in result.errors]

    def on_stream_result(self, result: Any) -> Iterator[None]:
        """Each event of a subscription, masked like a query's result."""
        if isinstance(result, ExecutionResult) and result.errors:
            result.errors = [self._present(error) for error in result.errors]
        yield

    def _present(self, error: GraphQLError) -> GraphQLError:
        if is_database_unavailable(error.original_error):
            # The view answers 503 and the outage is logged once (gql/outage.py), not per request.
            self.execution_context.context.request.state.database_error = error.original_error
            return service_unavailable(error)
        return present(error)
