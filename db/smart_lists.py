"""Smart list definitions: the stored JSON format, its validation, and the query it stands for.

A definition is `{"media": <searchMedia's MediaFilter with camelCase keys and enum names>,
"tracking": {"statuses", "ratingMin", "ratingMax"}, "sort": {"field", "direction"}}`; `tracking`
(even `{}`) restricts the list to media in the owner's library and is evaluated against that one
user's entries only.
"""

import datetime as dt
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select, true

from db.keyset import SortKey, parse_date, parse_datetime, parse_text, parse_uuid
from db.media import MEDIA_TYPES
from db.media_filters import InvalidFilter, MediaFilter, filter_conditions
from db.models import TRACKING_STATUSES, Media, UserMedia

SMART_SORT_FIELDS = ("TITLE", "RELEASE_DATE", "UPDATED_AT")
SORT_DIRECTIONS = ("ASC", "DESC")
STATUS_NAMES = {status.upper().replace("-", "_"): status for status in TRACKING_STATUSES}
MEDIA_TYPE_NAMES = {media_type.upper(): media_type for media_type in MEDIA_TYPES}


class InvalidDefinition(ValueError):
    """A smart list definition refused; `path` names the offending key inside `definition`."""

    def __init__(self, path: Sequence[str], message: str) -> None:
        super().__init__(message)
        self.path = list(path)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


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


@dataclass(frozen=True)
class SmartDefinition:
    """`{"media": <searchMedia's MediaFilter, camelCase keys, enum names>, "tracking": {"statuses",
    "ratingMin", "ratingMax"}, "sort": {"field": TITLE|RELEASE_DATE|UPDATED_AT, "direction": ASC|DESC}}`.
    `tracking` (even `{}`) limits the list to media in the owner's library."""

    media: MediaFilter
    tracking: TrackingCondition | None = None
    sort_field: str = "TITLE"
    sort_direction: str = "ASC"

    @classmethod
    def parse(cls, data: Any) -> "SmartDefinition":
        if not isinstance(data, dict):
            raise InvalidDefinition([], "definition must be a JSON object")
        _refuse_unknown(data, ("media", "tracking", "sort"), [])
        media = _parse_media_filter(data.get("media") or {})
        tracking = None if data.get("tracking") is None else _parse_tracking(data["tracking"])
        sort_field, sort_direction = _parse_sort(data.get("sort") or {})
        if sort_field == "UPDATED_AT" and tracking is None:
            raise InvalidDefinition(
                ["sort", "field"], "UPDATED_AT sorts by the owner's entries: add `tracking`"
            )
        return cls(media, tracking, sort_field, sort_direction)

    def to_json(self) -> dict[str, Any]:
        media = {_camel(key): value for key, value in self.media.to_json().items()}
        if "mediaTypes" in media:
            media["mediaTypes"] = [value.upper() for value in media["mediaTypes"]]
        out: dict[str, Any] = {"media": media}
        if self.tracking is not None:
            tracking: dict[str, Any] = {}
            if self.tracking.statuses is not None:
                tracking["statuses"] = [status.upper().replace("-", "_") for status in self.tracking.statuses]
            if self.tracking.rating_min is not None:
                tracking["ratingMin"] = self.tracking.rating_min
            if self.tracking.rating_max is not None:
                tracking["ratingMax"] = self.tracking.rating_max
            out["tracking"] = tracking
        out["sort"] = {"field": self.sort_field, "direction": self.sort_direction}
        return out


def _refuse_unknown(data: dict[str, Any], known: Sequence[str], path: list[str]) -> None:
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise InvalidDefinition([*path, unknown[0]], f"unknown keys: {', '.join(unknown)}")


def _parse_media_filter(data: Any) -> MediaFilter:
    if not isinstance(data, dict):
        raise InvalidDefinition(["media"], "media must be a JSON object")
    snake: dict[str, Any] = {}
    for key, value in data.items():
        if key != _camel(_snake(key)):
            raise InvalidDefinition(["media", key], f"unknown key {key} (keys are camelCase)")
        snake[_snake(key)] = value
    media_types = snake.get("media_types")
    if isinstance(media_types, list):
        unknown = [value for value in media_types if value not in MEDIA_TYPE_NAMES]
        if unknown:
            raise InvalidDefinition(["media", "mediaTypes"], f"unknown media types: {unknown}")
        snake["media_types"] = [MEDIA_TYPE_NAMES[value] for value in media_types]
    try:
        return MediaFilter.from_json(snake)
    except InvalidFilter as exc:
        raise InvalidDefinition(["media", _camel(exc.field)], str(exc)) from exc


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
    _refuse_unknown(data, ("statuses", "ratingMin", "ratingMax"), ["tracking"])
    statuses = data.get("statuses")
    if statuses is not None:
        if not isinstance(statuses, list) or not all(value in STATUS_NAMES for value in statuses):
            raise InvalidDefinition(
                ["tracking", "statuses"], f"statuses must be among {sorted(STATUS_NAMES)}"
            )
        statuses = tuple(STATUS_NAMES[value] for value in statuses)
    rating_min, rating_max = _rating_bound(data, "ratingMin"), _rating_bound(data, "ratingMax")
    if rating_min is not None and rating_max is not None and rating_min > rating_max:
        raise InvalidDefinition(["tracking", "ratingMin"], "ratingMin cannot be above ratingMax")
    return TrackingCondition(statuses, rating_min, rating_max)


def _parse_sort(data: Any) -> tuple[str, str]:
    if not isinstance(data, dict):
        raise InvalidDefinition(["sort"], "sort must be a JSON object")
    _refuse_unknown(data, ("field", "direction"), ["sort"])
    field, direction = data.get("field", "TITLE"), data.get("direction", "ASC")
    if field not in SMART_SORT_FIELDS:
        raise InvalidDefinition(
            ["sort", "field"], f"sort field must be one of {', '.join(SMART_SORT_FIELDS)}"
        )
    if direction not in SORT_DIRECTIONS:
        raise InvalidDefinition(["sort", "direction"], "sort direction must be ASC or DESC")
    return field, direction


def smart_sort_keys(definition: SmartDefinition) -> list[SortKey]:
    descending = definition.sort_direction == "DESC"
    by_id = SortKey(Media.id, False, parse_uuid)
    if definition.sort_field == "RELEASE_DATE":
        missing = dt.date.min if descending else dt.date.max
        return [SortKey(func.coalesce(Media.release_date, missing), descending, parse_date), by_id]
    if definition.sort_field == "UPDATED_AT":
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
