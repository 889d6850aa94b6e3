"""A user's library as a file: every entry with its item's ids, every list (static with its items,
smart with its definition) and the settings. The JSON is what db/library_import/omnimediatrak.py
reads back; the CSV has one row per entry for spreadsheets, its cells safe to open in one."""

import csv
import datetime as dt
import io
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from db.accounts import Credential, credential_for_secret, user_id_by_username
from db.library_import.omnimediatrak import EXPORT_FORMAT
from db.models import ExternalLink, ListItem, Media, User, UserList, UserMedia

EXPORT_VERSION = 1
# OWASP's CSV injection guidance: a spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_COLUMNS = (
    "title",
    "media_type",
    "release_date",
    "external_ids",
    "status",
    "progress",
    "rating",
    "notes",
    "repeat_count",
    "started_at",
    "completed_at",
    "created_at",
    "updated_at",
    "lists",
)

_links = (
    select(func.array_agg(ExternalLink.source_name + ":" + ExternalLink.external_key))
    .where(ExternalLink.media_id == Media.id)
    .scalar_subquery()
    .label("links")
)
_media = (
    Media.id.label("media_id"),
    Media.title,
    Media.media_type,
    Media.release_date,
    Media.external_id,
    _links,
)


def _iso(value: dt.datetime | dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def _media_json(row: Any) -> dict[str, Any]:
    ids = [row.external_id] if row.external_id else []
    ids += sorted(set(row.links or ()) - set(ids))
    return {
        "title": row.title,
        "mediaType": row.media_type,
        "releaseDate": _iso(row.release_date),
        "externalIds": ids,
    }


async def library_export(conn: AsyncConnection, user_id: uuid.UUID, now: dt.datetime) -> dict[str, Any]:
    """Three statements: the user, the entries, the lists with their items."""
    user = (await conn.execute(select(User.username, User.settings).where(User.id == user_id))).one()
    entries = await conn.execute(
        select(UserMedia, *_media)
        .join(Media, Media.id == UserMedia.media_id)
        .where(UserMedia.user_id == user_id)
        .order_by(UserMedia.created_at, UserMedia.media_id)
    )
    list_rows = list(
        await conn.execute(
            select(UserList, *_media, ListItem.position)
            .outerjoin(ListItem, ListItem.list_id == UserList.id)
            .outerjoin(Media, Media.id == ListItem.media_id)
            .where(UserList.user_id == user_id)
            .order_by(UserList.created_at, UserList.id, ListItem.position)
        )
    )
    lists: dict[uuid.UUID, dict[str, Any]] = {}
    for row in list_rows:
        found = lists.setdefault(
            row.id,
            {
                "name": row.name,
                "description": row.description,
                "isPublic": row.is_public,
                "listType": row.list_type,
                "definition": row.filter_definition,
                "createdAt": _iso(row.created_at),
                "items": [],
            },
        )
        if row.media_id is not None:
            found["items"].append({"media": _media_json(row)})
    return {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "exportedAt": now.isoformat(),
        "user": {"username": user.username, "settings": user.settings},
        "entries": [
            {
                "media": _media_json(row),
                "status": row.status,
                "progress": row.progress,
                "rating": row.rating,
                "notes": row.notes,
                "repeatCount": row.repeat_count,
                "startedAt": _iso(row.started_at),
                "completedAt": _iso(row.completed_at),
                "createdAt": _iso(row.created_at),
                "updatedAt": _iso(row.updated_at),
            }
            for row in entries
        ],
        "lists": list(lists.values()),
    }


async def export_for_secret(
    engine: AsyncEngine,
    secret: str,
    session_idle: dt.timedelta,
    now: dt.datetime,
    may_export: Callable[[Credential], bool],
) -> dict[str, Any] | None:
    """The library of the account a bearer secret signs in, or None when the secret does not work or
    `may_export` says no. One transaction, which also writes the credential's last use."""
    async with engine.begin() as conn:
        credential = await credential_for_secret(conn, secret, session_idle)
        if credential is None or not may_export(credential):
            return None
        return await library_export(conn, credential.user_id, now)


async def export_for_username(engine: AsyncEngine, username: str, now: dt.datetime) -> dict[str, Any] | None:
    """The library of the user named (case-insensitively); None when there is no such user."""
    async with engine.begin() as conn:
        user_id = await user_id_by_username(conn, username)
        return None if user_id is None else await library_export(conn, user_id, now)


def spreadsheet_cell(value: object) -> str:
    """A cell no spreadsheet reads as a formula: one that starts like one gets a leading `'`, and so
    does one that already starts with `'`, so removing one leading `'` gives every value back."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith((*FORMULA_STARTS, "'")) else text


def read_spreadsheet_cell(cell: str) -> str:
    """The value `spreadsheet_cell` wrote."""
    return cell.removeprefix("'")


def export_csv(document: dict[str, Any]) -> str:
    """One row per entry of `library_export`'s document; `lists` names the static lists holding it."""
    lists_of: dict[tuple[str, ...], list[str]] = {}
    for found in document["lists"]:
        for item in found["items"]:
            lists_of.setdefault(tuple(item["media"]["externalIds"]), []).append(found["name"])
    out = io.StringIO()
    # RFC 4180's CRLF: the writer then quotes every cell holding a CR or LF, so none splits a row.
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for entry in document["entries"]:
        media = entry["media"]
        writer.writerow(
            spreadsheet_cell(value)
            for value in [
                media["title"],
                media["mediaType"],
                media["releaseDate"] or "",
                " ".join(media["externalIds"]),
                entry["status"],
                entry["progress"],
                "" if entry["rating"] is None else entry["rating"],
                entry["notes"] or "",
                entry["repeatCount"],
                entry["startedAt"] or "",
                entry["completedAt"] or "",
                entry["createdAt"],
                entry["updatedAt"],
                " | ".join(lists_of.get(tuple(media["externalIds"]), [])),
            ]
        )
    return out.getvalue()
