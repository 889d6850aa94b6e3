"""Writing a batch of import rows: find the items, merge each row into the user's entry by the chosen
policy, and write what changed with one statement per kind of row. The caller's transaction is the
batch's; rows that change nothing are not written, so a second import moves no `updated_at`."""

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import orjson
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from db.library_import.entry import ImportEntry, RowProblem
from db.library_import.matching import CatalogItem, NoMatch, match_entries
from db.models import UserMedia
from db.tracking import ENTRY_FIELDS, InvalidEntry, merge_entry, total_units

# A field counts as empty (so even the `library` policy fills it) when it holds its default.
EMPTY_VALUES: dict[str, Any] = {"progress": 0, "repeat_count": 0}

UPSERT = text(
    """
    INSERT INTO interaction.user_media AS um
        (user_id, media_id, status, progress, rating, notes, repeat_count, started_at, completed_at,
         meta_snapshot)
    SELECT CAST(:user_id AS uuid), w.media_id, w.status, w.progress, w.rating, w.notes, w.repeat_count,
           w.started_at, w.completed_at, CAST(w.snapshot AS jsonb)
    FROM unnest(CAST(:media_ids AS uuid[]), CAST(:statuses AS text[]), CAST(:progress AS int[]),
                CAST(:ratings AS smallint[]), CAST(:notes AS text[]), CAST(:repeats AS int[]),
                CAST(:started AS timestamptz[]), CAST(:completed AS timestamptz[]), CAST(:snapshots AS text[]))
         AS w(media_id, status, progress, rating, notes, repeat_count, started_at, completed_at, snapshot)
    ON CONFLICT (user_id, media_id) DO UPDATE SET
        status = EXCLUDED.status, progress = EXCLUDED.progress, rating = EXCLUDED.rating,
        notes = EXCLUDED.notes, repeat_count = EXCLUDED.repeat_count, started_at = EXCLUDED.started_at,
        completed_at = EXCLUDED.completed_at, updated_at = now()
    """
)
INSERT_PROBLEMS = text(
    """
    INSERT INTO interaction.library_import_problems (job_id, list_position, row_number, list_name, reason,
                                                     message, title, year, external_ids)
    SELECT CAST(:job_id AS uuid), p.list_position, p.row_number, p.list_name, p.reason, p.message, p.title,
           p.year, CASE WHEN p.ids = '' THEN '{}'::text[] ELSE string_to_array(p.ids, ' ') END
    FROM unnest(CAST(:list_positions AS int[]), CAST(:rows AS int[]), CAST(:list_names AS text[]),
                CAST(:reasons AS text[]), CAST(:messages AS text[]), CAST(:titles AS text[]),
                CAST(:years AS int[]), CAST(:ids AS text[]))
         AS p(list_position, row_number, list_name, reason, message, title, year, ids)
    ON CONFLICT DO NOTHING
    """
)


@dataclass
class ImportCounts:
    matched: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    unmatched: int = 0
    failed: int = 0

    def add(self, other: "ImportCounts") -> None:
        for name in (item.name for item in fields(self)):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict[str, int]:
        return {item.name: getattr(self, item.name) for item in fields(self)}


@dataclass(frozen=True)
class Problem:
    row: int
    reason: str
    message: str
    title: str | None = None
    year: int | None = None
    external_ids: tuple[str, ...] = ()
    # The file's n-th list (from 1) when the row is one of its items; 0 for a library row.
    list_position: int = 0
    list_name: str | None = None


def changes_by_policy(
    entry: ImportEntry, current: dict[str, Any] | None, updated_at: dt.datetime | None, policy: str
) -> dict[str, Any]:
    """The fields of the row to apply to the entry. Fields the row leaves empty are never applied."""
    given = entry.given_fields()
    if current is None or policy == "file":
        return given
    if (
        policy == "newer"
        and entry.source_updated_at is not None
        and (updated_at is None or entry.source_updated_at > updated_at)
    ):
        return given
    return {
        name: value
        for name, value in given.items()
        if name != "status" and current.get(name) in (None, EMPTY_VALUES.get(name))
    }


async def _entries_for_update(
    conn: AsyncConnection, user_id: uuid.UUID, media_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[dict[str, Any], dt.datetime]]:
    rows = await conn.execute(
        select(UserMedia.media_id, UserMedia.updated_at, *(getattr(UserMedia, name) for name in ENTRY_FIELDS))
        .where(UserMedia.user_id == user_id, UserMedia.media_id.in_(media_ids))
        .with_for_update()
    )
    return {
        row.media_id: ({name: getattr(row, name) for name in ENTRY_FIELDS}, row.updated_at) for row in rows
    }


def _capped(changes: dict[str, Any], item: CatalogItem) -> dict[str, Any]:
    """Progress beyond what the catalog counts (MAL's episode counts can differ) stops at the total."""
    total = total_units(item.media_type, item.attributes)
    if total is not None and changes.get("progress", 0) > total:
        return {**changes, "progress": total}
    return changes


async def write_entries(
    conn: AsyncConnection,
    user_id: uuid.UUID,
    merged: dict[uuid.UUID, dict[str, Any]],
    items: dict[uuid.UUID, CatalogItem],
) -> None:
    if not merged:
        return
    # In media id order: the row triggers lock the items' counters (media_stats) in that order, so
    # two imports of the same items (two users, two orders) wait for each other instead of deadlocking.
    media_ids = sorted(merged)
    column = {name: [merged[media_id][name] for media_id in media_ids] for name in ENTRY_FIELDS}
    await conn.execute(
        UPSERT,
        {
            "user_id": user_id,
            "media_ids": media_ids,
            "statuses": column["status"],
            "progress": column["progress"],
            "ratings": column["rating"],
            "notes": column["notes"],
            "repeats": column["repeat_count"],
            "started": column["started_at"],
            "completed": column["completed_at"],
            "snapshots": [
                orjson.dumps(
                    {"title": items[media_id].title, "mediaType": items[media_id].media_type}
                ).decode()
                for media_id in media_ids
            ],
        },
    )


async def write_problems(conn: AsyncConnection, job_id: uuid.UUID, problems: Sequence[Problem]) -> None:
    if not problems:
        return
    await conn.execute(
        INSERT_PROBLEMS,
        {
            "job_id": job_id,
            "list_positions": [problem.list_position for problem in problems],
            "list_names": [problem.list_name for problem in problems],
            "rows": [problem.row for problem in problems],
            "reasons": [problem.reason for problem in problems],
            "messages": [problem.message for problem in problems],
            "titles": [problem.title for problem in problems],
            "years": [problem.year for problem in problems],
            "ids": [" ".join(key.replace(" ", "_") for key in problem.external_ids) for problem in problems],
        },
    )


def problem_of_row(row: RowProblem) -> Problem:
    return Problem(row.row, "invalid", row.message, row.title)


def entry_problem(
    entry: ImportEntry, reason: str, message: str, list_position: int = 0, list_name: str | None = None
) -> Problem:
    return Problem(
        entry.row,
        reason,
        message,
        entry.title,
        entry.year,
        tuple(entry.external_id_texts()),
        list_position,
        list_name,
    )


async def apply_batch(
    conn: AsyncConnection,
    user_id: uuid.UUID,
    job_id: uuid.UUID,
    entries: Sequence[ImportEntry],
    policy: str,
    now: dt.datetime,
) -> ImportCounts:
    """Match, merge and write `entries` in the caller's transaction: at most five statements."""
    counts = ImportCounts()
    matches = await match_entries(conn, entries)
    items = {found.id: found for found in matches if isinstance(found, CatalogItem)}
    stored = await _entries_for_update(conn, user_id, list(items)) if items else {}
    current: dict[uuid.UUID, dict[str, Any]] = {media_id: fields for media_id, (fields, _) in stored.items()}
    pending: dict[uuid.UUID, dict[str, Any]] = {}
    problems: list[Problem] = []
    for entry, found in zip(entries, matches, strict=True):
        if isinstance(found, NoMatch):
            counts.unmatched += 1
            problems.append(entry_problem(entry, found.reason, found.message))
            continue
        before = current.get(found.id)
        updated_at = now if found.id in pending else stored[found.id][1] if found.id in stored else None
        changes = _capped(changes_by_policy(entry, before, updated_at, policy), found)
        try:
            after = merge_entry(before, changes, found.media_type, found.attributes, now)
        except InvalidEntry as exc:
            counts.failed += 1
            problems.append(entry_problem(entry, "invalid", f"{exc.field}: {exc}"))
            continue
        counts.matched += 1
        if before is None:
            counts.created += 1
        elif after == before:
            counts.unchanged += 1
            continue
        else:
            counts.updated += 1
        current[found.id] = pending[found.id] = after
    await write_entries(conn, user_id, pending, items)
    await write_problems(conn, job_id, problems)
    return counts
