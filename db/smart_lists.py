"""Smart list definitions: the stored format, its validation, and the query it stands for.

The stored format (version 2) is the database's own: snake_case keys and the values as stored
elsewhere (media types, statuses), never the API's names, so renaming a GraphQL enum value leaves
stored lists alone:

    {"version": 2,
     "media": <MediaFilter.to_json(): media_types, media_class, released_after, ...>,
     "tracking": {"statuses": ["in-progress"], "rating_min": 8, "rating_max": 10},
     "sort": {"field": "title" | "release_date" | "updated_at", "direction": "asc" | "desc"}}

`tracking` (even `{}`) restricts the list to media in the owner's library and is evaluated against
that one user's entries only. Version 1 (no "version" key) was the API's shape: camelCase keys and
GraphQL enum names; migration 0024 converted stored lists, and `from_stored` still reads it (files
exported before).
"""

import datetime as dt
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select, true

from db.keyset import SortKey, parse_date, parse_datetime, parse_text, parse_uuid
from db.media_filters import InvalidFilter, MediaFilter, filter_conditions
from db.models import Media, UserMedia
from db.vocabulary import TRACKING_STATUSES

DEFINITION_VERSION = 2
SMART_SORT_FIELDS = ("title", "release_date", "updated_at")
SORT_DIRECTIONS = ("asc", "desc")
DEFINITION_KEYS = ("version", "media", "tracking", "sort")
TRACKING_KEYS = ("statuses", "rating_min", "rating_max")
SORT_KEYS = ("field", "direction")


class InvalidDefinition(ValueError):
    """A smart list definition refused; `path` names the offending key inside the stored form."""

    def __init__(self, path: Sequence[str], message: str) -> None:
        super().__init__(message)
        self.path = list(path)


@dataclass(frozen=True)
class TrackingCondition:
    statuses: tuple[str, ...] | None = None
    rating_min: int | None = None
    rating_max: int | None = None

    def conditions(self) -> ColumnElement[bool]:
        conditions: list[ColumnElement[bool]] = []
        if self.statuses is not None:
            conditions.append(UserMedia.status.in_(self.statuses))
        if self.rating_min is not None:
            conditions.append(UserMedia.rating >= self.rating_min)
        if self.rating_max is not None:
            conditions.append(UserMedia.rating <= self.rating_max)
        return and_(true(), *conditions)

    def to_stored(self) -> dict[str, Any]:
        stored: dict[str, Any] = {}
        if self.statuses is not None:
            stored["statuses"] = list(self.statuses)
        if self.rating_min is not None:
            stored["rating_min"] = self.rating_min
        if self.rating_max is not None:
            stored["rating_max"] = self.rating_max
        return stored


@dataclass(frozen=True)
class SmartDefinition:
    media: MediaFilter
    tracking: TrackingCondition | None = None
    sort_field: str = "title"
    sort_direction: str = "asc"

    @classmethod
    def from_stored(cls, data: Any) -> "SmartDefinition":
        """A stored definition (version 2, or version 1 upgraded), validated; raises InvalidDefinition."""
        if not isinstance(data, dict):
            raise InvalidDefinition([], "definition must be a JSON object")
        if "version" not in data:
            data = upgrade_v1(data)
        elif data["version"] != DEFINITION_VERSION:
            raise InvalidDefinition(["version"], f"version must be {DEFINITION_VERSION}")
        _refuse_unknown(data, DEFINITION_KEYS, [])
        media = _parse_media_filter(data.get("media") or {})
        tracking = None if data.get("tracking") is None else _parse_tracking(data["tracking"])
        sort_field, sort_direction = _parse_sort(data.get("sort") or {})
        if sort_field == "updated_at" and tracking is None:
            raise InvalidDefinition(
                ["sort", "field"], "updated_at sorts by the owner's entries: add `tracking`"
            )
        return cls(media, tracking, sort_field, sort_direction)

    def to_stored(self) -> dict[str, Any]:
        stored: dict[str, Any] = {"version": DEFINITION_VERSION, "media": self.media.to_json()}
        if self.tracking is not None:
            stored["tracking"] = self.tracking.to_stored()
        stored["sort"] = {"field": self.sort_field, "direction": self.sort_direction}
        return stored


def selects_by_library(stored: dict[str, Any] | None) -> bool:
    """Whether a stored definition picks items by its owner's entries (`tracking`)."""
    return stored is not None and stored.get("tracking") is not None


def _refuse_unknown(data: dict[str, Any], known: Sequence[str], path: list[str]) -> None:
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise InvalidDefinition([*path, unknown[0]], f"unknown keys: {', '.join(unknown)}")


def _parse_media_filter(data: Any) -> MediaFilter:
    if not isinstance(data, dict):
        raise InvalidDefinition(["media"], "media must be a JSON object")
    try:
        return MediaFilter.from_json(data)
    except InvalidFilter as exc:
        raise InvalidDefinition(["media", exc.field], str(exc)) from exc


def _rating_bound(data: dict[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 10:
        raise InvalidDefinition(["tracking", key], f"{key} must be an integer from 1 to 10")
    return value


def _parse_tracking(data: Any) -> TrackingCondition:
    if not isinstance(data, dict):
        raise InvalidDefinition(["tracking"], "tracking must be a JSON object")
    _refuse_unknown(data, TRACKING_KEYS, ["tracking"])
    statuses = data.get("statuses")
    if statuses is not None:
        if not isinstance(statuses, list) or not all(value in TRACKING_STATUSES for value in statuses):
            raise InvalidDefinition(
                ["tracking", "statuses"], f"statuses must be among {sorted(TRACKING_STATUSES)}"
            )
        statuses = tuple(statuses)
    rating_min, rating_max = _rating_bound(data, "rating_min"), _rating_bound(data, "rating_max")
    if rating_min is not None and rating_max is not None and rating_min > rating_max:
        raise InvalidDefinition(["tracking", "rating_min"], "rating_min cannot be above rating_max")
    return TrackingCondition(statuses, rating_min, rating_max)


def _parse_sort(data: Any) -> tuple[str, str]:
    if not isinstance(data, dict):
        raise InvalidDefinition(["sort"], "sort must be a JSON object")
    _refuse_unknown(data, SORT_KEYS, ["sort"])
    field, direction = data.get("field", "title"), data.get("direction", "asc")
    if field not in SMART_SORT_FIELDS:
        raise InvalidDefinition(
            ["sort", "field"], f"sort field must be one of {', '.join(SMART_SORT_FIELDS)}"
        )
    if direction not in SORT_DIRECTIONS:
        raise InvalidDefinition(["sort", "direction"], "sort direction must be asc or desc")
    return field, direction


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def _lowered(values: Any, spelled: dict[str, str]) -> Any:
    return [spelled.get(value, value) for value in values] if isinstance(values, list) else values


def upgrade_v1(data: dict[str, Any]) -> dict[str, Any]:
    """A version 1 definition (camelCase keys, upper-case names) in version 2 terms; what it does not
    know is carried over as it is, for `from_stored` to refuse."""
    statuses = {status.upper().replace("-", "_"): status for status in TRACKING_STATUSES}
    upgraded: dict[str, Any] = {
        key: value for key, value in data.items() if key not in ("media", "tracking", "sort")
    }
    upgraded["version"] = DEFINITION_VERSION
    media = data.get("media")
    if isinstance(media, dict):
        media = {_snake(key): value for key, value in media.items()}
        if isinstance(media.get("media_types"), list):
            media["media_types"] = [
                value.lower() if isinstance(value, str) else value for value in media["media_types"]
            ]
    upgraded["media"] = media
    tracking = data.get("tracking")
    if isinstance(tracking, dict):
        tracking = {_snake(key): value for key, value in tracking.items()}
        tracking["statuses"] = _lowered(tracking.get("statuses"), statuses)
        if tracking["statuses"] is None:
            del tracking["statuses"]
    if tracking is not None:
        upgraded["tracking"] = tracking
    sort = data.get("sort")
    if isinstance(sort, dict):
        sort = {key: value.lower() if isinstance(value, str) else value for key, value in sort.items()}
    if sort is not None:
        upgraded["sort"] = sort
    return upgraded


def smart_sort_keys(definition: SmartDefinition) -> list[SortKey]:
    descending = definition.sort_direction == "desc"
    by_id = SortKey(Media.id, False, parse_uuid)
    if definition.sort_field == "release_date":
        missing = dt.date.min if descending else dt.date.max
        return [SortKey(func.coalesce(Media.release_date, missing), descending, parse_date), by_id]
    if definition.sort_field == "updated_at":
        return [SortKey(UserMedia.updated_at, descending, parse_datetime), by_id]
    return [SortKey(Media.title, descending, parse_text), by_id]


def smart_base(definition: SmartDefinition, owner_id: uuid.UUID, *columns: Any) -> Any:
    """Media matching the definition; tracking conditions join the owner's entries only (one partition)."""
    query = select(*columns).select_from(Media)
    if definition.tracking is not None:
        query = query.join(
            UserMedia,
            and_(
                UserMedia.user_id == owner_id,
                UserMedia.media_id == Media.id,
                definition.tracking.conditions(),
            ),
        )
    return query.where(filter_conditions(definition.media))
