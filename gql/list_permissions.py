"""Who may see and change tracking entries, lists and profiles. Anything private is reported as
missing, never as forbidden, so its existence does not leak."""

import uuid
from typing import Any

from gql.auth import Viewer
from gql.errors import UserError, UserErrorCode, user_error


def is_owner(viewer: Viewer | None, owner_id: uuid.UUID) -> bool:
    return viewer is not None and viewer.user_id == owner_id


def can_see_profile(viewer: Viewer | None, owner_id: uuid.UUID, profile_public: bool) -> bool:
    """A profile (and so its library and statistics) is visible to its owner, or to all when PUBLIC."""
    return is_owner(viewer, owner_id) or profile_public


def can_see_list(viewer: Viewer | None, list_row: Any) -> bool:
    return is_owner(viewer, list_row.user_id) or bool(list_row.is_public)


def can_evaluate_smart_list(viewer: Viewer | None, list_row: Any) -> bool:
    """A smart list with tracking conditions selects items by the owner's entries: others see those
    items only when the owner's library is public anyway (PUBLIC profile)."""
    definition = list_row.filter_definition or {}
    if definition.get("tracking") is None:
        return True
    return can_see_profile(viewer, list_row.user_id, bool(list_row.owner_profile_public))


def write_denied(viewer: Viewer | None) -> UserError | None:
    """Why the caller may not write at all (anonymous, or a token without the WRITE scope)."""
    if viewer is None:
        return user_error(UserErrorCode.UNAUTHENTICATED, "Sign in first")
    if not viewer.can("WRITE"):
        return user_error(UserErrorCode.FORBIDDEN, "This token may only read")
    return None


def list_write_denied(viewer: Viewer | None, list_row: Any, field: str) -> UserError | None:
    """Why the caller may not change this list: missing/private looks the same as missing."""
    if list_row is None or not can_see_list(viewer, list_row):
        return user_error(UserErrorCode.NOT_FOUND, "No such list", field)
    if not is_owner(viewer, list_row.user_id):
        return user_error(UserErrorCode.FORBIDDEN, "Only the owner changes a list", field)
    return None
