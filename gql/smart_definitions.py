"""`UserList.definition` as the API spells it, translated to and from the stored form that db/smart_lists.py
owns: camelCase keys and GraphQL enum names here, snake_case keys and stored values there.

    {"media": <MediaFilter fields>, "tracking": {"statuses": [TrackingStatus], "ratingMin", "ratingMax"},
     "sort": {"field": TITLE | RELEASE_DATE | UPDATED_AT, "direction": ASC | DESC}}

Every name is derived from the GraphQL enums and db's vocabulary, so a renamed enum value changes
this shape only, never what is stored. Input the translation cannot read is refused here, in the
API's names (the client's own keys in the field path, as written)."""

import re
from collections.abc import Sequence
from typing import Any

from strawberry.utils.str_converters import to_camel_case

from db.refusals import Refusal, RefusalCode, Refused
from db.smart_lists import SMART_SORT_FIELDS, SORT_DIRECTIONS, InvalidDefinition, SmartDefinition
from db.vocabulary import graphql_name
from gql.enums import MediaType, TrackingStatus

MEDIA_TYPE_VALUES = {member.name: member.value for member in MediaType}
STATUS_VALUES = {member.name: member.value for member in TrackingStatus}
SORT_FIELD_VALUES = {graphql_name(field): field for field in SMART_SORT_FIELDS}
DIRECTION_VALUES = {graphql_name(direction): direction for direction in SORT_DIRECTIONS}
TRACKING_KEY_NAMES = {"statuses": "statuses", "ratingMin": "rating_min", "ratingMax": "rating_max"}
# Stored names in db's messages, as the API spells them.
_API_WORDS = {
    **{stored: api for api, stored in TRACKING_KEY_NAMES.items()},
    **{stored: api for api, stored in SORT_FIELD_VALUES.items()},
    **{stored: api for api, stored in DIRECTION_VALUES.items()},
}
_SNAKE_WORD = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")


def _refused(path: Sequence[str], message: str) -> Refused:
    return Refused(Refusal(RefusalCode.INVALID, message, ("definition",), within=tuple(path)))


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def _object(data: Any, path: list[str]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise _refused(path, f"{path[-1] if path else 'definition'} must be a JSON object")
    return data


def _refuse_unknown(data: dict[str, Any], known: Sequence[str], path: list[str]) -> None:
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise _refused([*path, unknown[0]], f"unknown keys: {', '.join(unknown)}")


def _media(data: dict[str, Any]) -> dict[str, Any]:
    stored: dict[str, Any] = {}
    for key, value in data.items():
        if key != to_camel_case(_snake(key)):
            raise _refused(["media", key], f"unknown key {key} (keys are camelCase)")
        stored[_snake(key)] = value
    media_types = stored.get("media_types")
    if isinstance(media_types, list):
        unknown = [value for value in media_types if value not in MEDIA_TYPE_VALUES]
        if unknown:
            raise _refused(["media", "mediaTypes"], f"unknown media types: {unknown}")
        stored["media_types"] = [MEDIA_TYPE_VALUES[value] for value in media_types]
    return stored


def _tracking(data: dict[str, Any]) -> dict[str, Any]:
    _refuse_unknown(data, tuple(TRACKING_KEY_NAMES), ["tracking"])
    stored = {TRACKING_KEY_NAMES[key]: value for key, value in data.items()}
    statuses = stored.get("statuses")
    if statuses is not None:
        if not isinstance(statuses, list) or not all(value in STATUS_VALUES for value in statuses):
            raise _refused(["tracking", "statuses"], f"statuses must be among {sorted(STATUS_VALUES)}")
        stored["statuses"] = [STATUS_VALUES[value] for value in statuses]
    return stored


def _sort(data: dict[str, Any]) -> dict[str, Any]:
    _refuse_unknown(data, ("field", "direction"), ["sort"])
    field, direction = data.get("field", "TITLE"), data.get("direction", "ASC")
    if field not in SORT_FIELD_VALUES:
        raise _refused(["sort", "field"], f"sort field must be one of {', '.join(SORT_FIELD_VALUES)}")
    if direction not in DIRECTION_VALUES:
        raise _refused(["sort", "direction"], f"sort direction must be {' or '.join(DIRECTION_VALUES)}")
    return {"field": SORT_FIELD_VALUES[field], "direction": DIRECTION_VALUES[direction]}


def _api_path(path: Sequence[str]) -> list[str]:
    if len(path) == 2 and path[0] == "tracking":
        return ["tracking", _API_WORDS.get(path[1], path[1])]
    if len(path) == 2 and path[0] == "media":
        return ["media", to_camel_case(path[1])]
    return list(path)


def _api_message(message: str) -> str:
    return _SNAKE_WORD.sub(lambda word: _API_WORDS.get(word[0], to_camel_case(word[0])), message)


def definition_from_api(data: Any) -> SmartDefinition:
    """The API's definition as db's value; raises Refused with the API's names."""
    data = _object(data, [])
    _refuse_unknown(data, ("media", "tracking", "sort"), [])
    stored: dict[str, Any] = {"version": 2, "media": _media(_object(data.get("media") or {}, ["media"]))}
    if data.get("tracking") is not None:
        stored["tracking"] = _tracking(_object(data["tracking"], ["tracking"]))
    stored["sort"] = _sort(_object(data.get("sort") or {}, ["sort"]))
    try:
        return SmartDefinition.from_stored(stored)
    except InvalidDefinition as exc:
        raise _refused(_api_path(exc.path), _api_message(str(exc))) from exc


def definition_to_api(stored: dict[str, Any]) -> dict[str, Any]:
    """A stored definition as the API shows it. Stored definitions are canonical (`to_stored`: every
    part, defaults filled in), so this only renames."""
    definition = stored
    media = {to_camel_case(key): value for key, value in definition["media"].items()}
    if "mediaTypes" in media:
        media["mediaTypes"] = [MediaType(value).name for value in media["mediaTypes"]]
    shown: dict[str, Any] = {"media": media}
    tracking = definition.get("tracking")
    if tracking is not None:
        api_keys = {stored_key: api for api, stored_key in TRACKING_KEY_NAMES.items()}
        shown["tracking"] = {api_keys[key]: value for key, value in tracking.items()}
        if "statuses" in shown["tracking"]:
            shown["tracking"]["statuses"] = [TrackingStatus(value).name for value in tracking["statuses"]]
    sort = definition["sort"]
    shown["sort"] = {"field": graphql_name(sort["field"]), "direction": graphql_name(sort["direction"])}
    return shown
