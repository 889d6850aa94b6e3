"""How every mutation runs: authorise the caller by scope, call one command (a function in db/ that
owns its transaction and checks ownership), and answer its refusals as `userErrors` with the API's
field names. Resolvers never open a connection for a write:

    async def delete_list(self, info: Info, input: ...) -> DeleteListPayload:
        async def run(viewer: Viewer) -> DeleteListPayload:
            list_id = decode_id(input.id, "UserList")  # None: the command answers "No such list"
            await list_commands.delete_list(info.context.engine, viewer.user_id, list_id)
            return DeleteListPayload(deleted_list_id=input.id)

        return await perform(info, DeleteListPayload, run)
"""

import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

from strawberry.utils.str_converters import to_camel_case

from db.refusals import FIELD, Refusal, RefusalCode, Refused, not_found, refused
from gql.auth import Viewer
from gql.context import Info
from gql.errors import UserError
from gql.permissions import ADMIN, READ, WRITE
from gql.relay import decode_id

PayloadT = TypeVar("PayloadT")
# The context key under which a throttled command leaves its wait for the HTTP layer (429 + Retry-After).
RETRY_AFTER_SECONDS = "retry_after_seconds"

_LACKING_SCOPE = {
    READ: "This token lacks the READ scope",
    WRITE: "This token may only read",
    ADMIN: "Only admins can change the catalog",
}


def authorised(info: Info, scope: str = WRITE, *, sign_in_session: bool = False) -> Viewer:
    """The caller, if they hold `scope` (ADMIN: an admin account acting with the ADMIN scope) and, with
    `sign_in_session`, act through a password sign-in rather than an API token."""
    viewer = info.context.viewer
    if scope == ADMIN and (viewer is None or not viewer.is_admin):
        # The catalog's curators are no secret: anyone else, signed in or not, is simply not one.
        raise refused(RefusalCode.FORBIDDEN, _LACKING_SCOPE[ADMIN])
    if viewer is None:
        raise refused(RefusalCode.UNAUTHENTICATED, "Sign in first")
    if not viewer.can(scope):
        raise refused(RefusalCode.FORBIDDEN, _LACKING_SCOPE[scope])
    if sign_in_session and viewer.session_id is None:
        raise refused(RefusalCode.FORBIDDEN, "Sign in with your password to do this; API tokens cannot")
    return viewer


def node_id(global_id: str, type_name: str, what: str, *field: str) -> uuid.UUID:
    """The database id inside a global ID of `type_name`; anything else is an object that does not exist."""
    decoded = decode_id(global_id, type_name)
    if decoded is None:
        raise not_found(what, *field)
    return decoded


def user_error(refusal: Refusal) -> UserError:
    """The refusal in the API's names: its field path camelCased (a path inside a JSON value kept as
    the client wrote it), and FIELD in its message that path ("{field} cannot be negative" ->
    "repeatCount cannot be negative")."""
    field = [*(to_camel_case(part) for part in refusal.field), *refusal.within]
    message = refusal.message.replace(FIELD, ".".join(field))
    return UserError(field=field or None, code=refusal.code, message=message)


def user_errors(refusal: Refused) -> list[UserError]:
    return [user_error(one) for one in refusal.refusals]


async def perform(
    info: Info,
    payload: Callable[..., PayloadT],
    run: Callable[[Viewer], Awaitable[PayloadT]],
    *,
    scope: str = WRITE,
    sign_in_session: bool = False,
) -> PayloadT:
    """`run` for an authorised caller; a refusal (of the caller or of the command) becomes the payload's
    `userErrors`, and nothing was changed."""
    return await _answered(
        info, payload, lambda: run(authorised(info, scope, sign_in_session=sign_in_session))
    )


async def perform_anonymous(
    info: Info, payload: Callable[..., PayloadT], run: Callable[[Viewer | None], Awaitable[PayloadT]]
) -> PayloadT:
    """`perform` for the mutations anyone may call (register, login)."""
    return await _answered(info, payload, lambda: run(info.context.viewer))


async def _answered(
    info: Info, payload: Callable[..., PayloadT], run: Callable[[], Awaitable[PayloadT]]
) -> PayloadT:
    try:
        return await run()
    except Refused as refusal:
        _note_retry_after(info, refusal)
        return payload(user_errors=user_errors(refusal))


def _note_retry_after(info: Info, refusal: Refused) -> None:
    waits = [one.retry_after_seconds for one in refusal.refusals if one.retry_after_seconds is not None]
    if waits:
        info.context.state[RETRY_AFTER_SECONDS] = max(waits)
