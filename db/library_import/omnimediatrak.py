"""Our own export (db/library_export.py) read back: entries and lists, items found by their ids."""

import datetime as dt
from typing import Any

import orjson

from db.library_import.entry import (
    ImportEntry,
    ImportList,
    ParsedFile,
    RowProblem,
    UnreadableFile,
    parse_timestamp,
)
from db.lists import DESCRIPTION_MAX_LENGTH, LIST_ITEM_LIMIT, NAME_MAX_LENGTH
from db.models import TRACKING_STATUSES

EXPORT_FORMAT = "omnimediatrak-library"
LIST_TYPES = ("static", "smart")


def _optional_int(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{name} must be a whole number")
    return value


def _optional_text(value: Any, name: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{name} must be a string")
    return value


def _media(row: int, media: Any) -> ImportEntry:
    if not isinstance(media, dict):
        raise ValueError("media must be an object")
    ids = media.get("externalIds") or []
    if not isinstance(ids, list) or not all(isinstance(key, str) and ":" in key for key in ids):
        raise ValueError('media.externalIds must be strings like "imdb:tt0087182"')
    release = _optional_text(media.get("releaseDate"), "media.releaseDate")
    media_type = _optional_text(media.get("mediaType"), "media.mediaType")
    return ImportEntry(
        row=row,
        title=_optional_text(media.get("title"), "media.title"),
        year=dt.date.fromisoformat(release).year if release else None,
        media_types=(media_type,) if media_type else (),
        external_ids=tuple((key.split(":", 1)[0], key.split(":", 1)[1]) for key in ids),
    )


def _entry(row: int, data: Any) -> ImportEntry:
    if not isinstance(data, dict):
        raise ValueError("an entry must be an object")
    found = _media(row, data.get("media"))
    status = data.get("status")
    if status is not None and status not in TRACKING_STATUSES:
        raise ValueError(f"unknown status {status!r}")
    return ImportEntry(
        row=row,
        title=found.title,
        year=found.year,
        media_types=found.media_types,
        external_ids=found.external_ids,
        status=status,
        progress=_optional_int(data.get("progress"), "progress"),
        rating=_optional_int(data.get("rating"), "rating"),
        notes=_optional_text(data.get("notes"), "notes"),
        repeat_count=_optional_int(data.get("repeatCount"), "repeatCount"),
        started_at=parse_timestamp(_optional_text(data.get("startedAt"), "startedAt")),
        completed_at=parse_timestamp(_optional_text(data.get("completedAt"), "completedAt")),
        source_updated_at=parse_timestamp(_optional_text(data.get("updatedAt"), "updatedAt")),
    )


def _list(data: Any) -> ImportList:
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        raise UnreadableFile("each list needs a name")
    if not 1 <= len(data["name"].strip()) <= NAME_MAX_LENGTH:
        raise UnreadableFile(f"a list name must be 1 to {NAME_MAX_LENGTH} characters")
    description = data.get("description")
    if description is not None and (
        not isinstance(description, str) or len(description) > DESCRIPTION_MAX_LENGTH
    ):
        raise UnreadableFile(
            f"list {data['name']!r}: description must be text of at most {DESCRIPTION_MAX_LENGTH} characters"
        )
    if data.get("listType") not in LIST_TYPES:
        raise UnreadableFile(f"list {data['name']!r}: listType must be static or smart")
    items = data.get("items") or []
    if not isinstance(items, list) or len(items) > LIST_ITEM_LIMIT:
        raise UnreadableFile(
            f"list {data['name']!r}: items must be an array of at most {LIST_ITEM_LIMIT} items"
        )
    found: list[ImportEntry] = []
    for position, item in enumerate(items, start=1):
        try:
            found.append(_media(position, item.get("media") if isinstance(item, dict) else None))
        except ValueError as exc:
            raise UnreadableFile(f"list {data['name']!r} item {position}: {exc}") from exc
    definition = data.get("definition")
    return ImportList(
        name=data["name"],
        description=description,
        is_public=data.get("isPublic") is True,
        list_type=data["listType"],
        definition=definition if isinstance(definition, dict) else None,
        items=tuple(found),
        created_at=parse_timestamp(data.get("createdAt")) if isinstance(data.get("createdAt"), str) else None,
    )


def parse(data: bytes) -> ParsedFile:
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise UnreadableFile("not JSON") from exc
    if not isinstance(document, dict) or document.get("format") != EXPORT_FORMAT:
        raise UnreadableFile(f'not an OmniMediaTrak library export (its "format" is not "{EXPORT_FORMAT}")')
    entries = document.get("entries") or []
    if not isinstance(entries, list):
        raise UnreadableFile("entries must be an array")
    parsed = ParsedFile()
    for row, data_entry in enumerate(entries, start=1):
        try:
            parsed.entries.append(_entry(row, data_entry))
        except (ValueError, TypeError) as exc:
            title = data_entry.get("media", {}).get("title") if isinstance(data_entry, dict) else None
            parsed.problems.append(RowProblem(row, str(exc), title if isinstance(title, str) else None))
    lists = document.get("lists") or []
    if not isinstance(lists, list):
        raise UnreadableFile("lists must be an array")
    try:
        parsed.lists = [_list(item) for item in lists]
    except UnreadableFile:
        raise
    except ValueError as exc:
        raise UnreadableFile(f"a list: {exc}") from exc
    return parsed
