"""Error tiers: lookups return null; expected failures are typed (userErrors in mutation payloads,
or a `BAD_USER_INPUT` GraphQL error for bad arguments); anything else is masked with a request id."""

import logging
from collections.abc import Iterator
from enum import Enum

import strawberry
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

from db.availability import is_database_unavailable
from gql.outage import service_unavailable
from gql.request_state import current_request_id

log = logging.getLogger("omnimediatrak.errors")


@strawberry.enum
class UserErrorCode(Enum):
    INVALID = "INVALID"
    NOT_FOUND = "NOT_FOUND"
    FORBIDDEN = "FORBIDDEN"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    CONFLICT = "CONFLICT"
    TAKEN = "TAKEN"
    LIMIT_EXCEEDED = "LIMIT_EXCEEDED"
    RATE_LIMITED = "RATE_LIMITED"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    WEAK_PASSWORD = "WEAK_PASSWORD"


@strawberry.type
class UserError:
    field: list[str] | None
    code: UserErrorCode
    message: str


def user_error(code: UserErrorCode, message: str, *field: str) -> UserError:
    return UserError(field=list(field) or None, code=code, message=message)


class BadUserInput(GraphQLError):
    """An argument the client must fix (bad cursor, page size above the maximum, ...)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, extensions={"code": "BAD_USER_INPUT"})


class Forbidden(GraphQLError):
    def __init__(self, message: str = "You are not allowed to do this") -> None:
        super().__init__(message, extensions={"code": "FORBIDDEN"})


class Unauthenticated(GraphQLError):
    def __init__(self, message: str = "Sign in first") -> None:
        super().__init__(message, extensions={"code": "UNAUTHENTICATED"})


EXPECTED_ERRORS = (BadUserInput, Forbidden, Unauthenticated)


def is_expected(error: GraphQLError) -> bool:
    original = error.original_error
    if original is None:
        return True  # validation and parse errors come straight from graphql-core
    return isinstance(original, EXPECTED_ERRORS)


class MaskUnexpectedErrors(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is None or not result.errors:
            return
        masked = []
        for error in result.errors:
            if is_expected(error):
                masked.append(error)
                continue
            if is_database_unavailable(error.original_error):
                # The view answers 503 and the outage is logged once (gql/outage.py), not per request.
                self.execution_context.context.request.state.database_error = error.original_error
                masked.append(service_unavailable(error))
                continue
            request_id = current_request_id.get()
            log.error("unexpected error (request %s)", request_id, exc_info=error.original_error)
            masked.append(
                GraphQLError(
                    f"Internal server error (request id {request_id})",
                    nodes=error.nodes,
                    path=error.path,
                    extensions={"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
                )
            )
        result.errors = masked


class OutageQuietSchema(strawberry.Schema):
    """Strawberry logs every error with its traceback; errors an outage caused are logged once per
    outage instead (gql/outage.py)."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        super().process_errors(
            [error for error in errors if not is_database_unavailable(error.original_error)],
            execution_context,
        )
