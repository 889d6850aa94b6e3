"""Authorization in one place. Every resolver that returns or changes user data asks here.

Rules:
- Anonymous callers read public data only; they change nothing.
- Scopes are cumulative (ADMIN > WRITE > READ): a session holds READ and WRITE (and ADMIN for admins);
  an API token holds the scopes it was created with. Every mutation needs WRITE, except `logout`.
- ADMIN needs both an admin user and the ADMIN scope (`Viewer.is_admin`).
- Private user data (entries, lists, sessions, tokens, settings) is visible and changeable by its owner
  only, not by admins: for anyone else it does not exist, so "forbidden" and "not found" look the same.
- An account's sessions and API tokens are listed to its owner on a sign-in session only, as they
  are managed only there: an API token (even the owner's) sees none of them.
- Catalog aggregates over users' entries (`Media.stats`) show the rating mean and the status
  breakdown only once enough users track the item that no single entry can be read out of them.

Queries raise `Unauthenticated` / `Forbidden` (typed GraphQL errors); mutations authorise with
`gql.commands.perform`, which answers a refusal as `userErrors`.
"""

import uuid

from db.lists import UserListRow
from db.smart_lists import selects_by_library
from db.vocabulary import TOKEN_SCOPES
from gql.auth import Viewer
from gql.context import Info
from gql.errors import Unauthenticated

SCOPES = TOKEN_SCOPES
READ, WRITE, ADMIN = TOKEN_SCOPES
SCOPES_IMPLIED = {READ: {READ}, WRITE: {READ, WRITE}, ADMIN: {READ, WRITE, ADMIN}}
# With one tracker the "mean rating" is that user's rating; five keeps any one entry out of sight.
STATS_BREAKDOWN_MIN_TRACKERS = 5


def stats_breakdown_visible(trackers: int) -> bool:
    return trackers >= STATS_BREAKDOWN_MIN_TRACKERS


def expand_scopes(scopes: set[str] | frozenset[str] | list[str]) -> frozenset[str]:
    """The scopes a token really holds: each asked scope with the ones it implies."""
    return frozenset(implied for scope in scopes for implied in SCOPES_IMPLIED[scope])


def require_viewer(info: Info) -> Viewer:
    viewer = info.context.viewer
    if viewer is None:
        raise Unauthenticated()
    return viewer


def is_owner(viewer: Viewer | None, owner_id: uuid.UUID) -> bool:
    return viewer is not None and viewer.user_id == owner_id and viewer.can(READ)


def is_signed_in_owner(viewer: Viewer | None, owner_id: uuid.UUID) -> bool:
    """The owner on a sign-in session: the account's security (its sessions, its API tokens) is read
    and managed only there, never through an API token handed to an app."""
    return is_owner(viewer, owner_id) and viewer is not None and viewer.session_id is not None


def visible_to(viewer: Viewer | None, owner_id: uuid.UUID, is_public: bool) -> bool:
    """May this caller read an object (a list, an entry, a library) owned by `owner_id`?"""
    return is_public or is_owner(viewer, owner_id)


def profile_visible_to(viewer: Viewer | None, owner_id: uuid.UUID, profile_public: bool) -> bool:
    """A user's join date, library, stats and public lists show only when their profile is PUBLIC
    (or to the user themself); a PRIVATE profile shows others its username only."""
    return visible_to(viewer, owner_id, profile_public)


def can_see_list(viewer: Viewer | None, list_row: UserListRow) -> bool:
    return is_owner(viewer, list_row.user_id) or bool(list_row.is_public)


def can_evaluate_smart_list(viewer: Viewer | None, list_row: UserListRow) -> bool:
    """A smart list with tracking conditions selects items by the owner's entries: others see those
    items only when the owner's library is public anyway (PUBLIC profile)."""
    if not selects_by_library(list_row.filter_definition):
        return True
    return profile_visible_to(viewer, list_row.user_id, bool(list_row.owner_profile_public))


def is_admin(viewer: Viewer | None) -> bool:
    """An admin account acting with the ADMIN scope (a session, or a token created with ADMIN)."""
    return viewer is not None and viewer.is_admin
