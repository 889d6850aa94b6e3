"""Identity conflicts that ingestion recorded (ingest.conflicts), listed for the admins who settle
them with db.identity (merge two items, or move a key to the item it belongs to)."""

import datetime as dt
import uuid
from typing import Any, Protocol

from sqlalchemy import Select, false, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from db.keyset import Page, SortKey, keyset_page, keyset_select, parse_int
from db.models import Conflict, ImportJob, Source

# Why a record's key could not be applied (db/ingest_batch.py writes them, docs/ingestion.md tells them).
KEYS_OF_TWO_ITEMS = "keys_of_two_items"
SECONDARY_KEY_OF_ANOTHER_ITEM = "secondary_key_of_another_item"
KEY_OF_ANOTHER_ITEM = "key_of_another_item"
KEY_SHARED_IN_RUN = "key_shared_in_run"

NEWEST_FIRST = (SortKey(Conflict.id, True, parse_int),)
CONFLICT_COLUMNS = (*Conflict.__table__.columns, Source.name.label("feed"))


def _conflicts(resolved: bool) -> Select[*tuple[Any, ...]]:
    """Conflicts of real runs (a dry run's conflicts are its report, not work for an admin)."""
    state = Conflict.resolved_at.is_not(None) if resolved else Conflict.resolved_at.is_(None)
    return (
        select(*CONFLICT_COLUMNS)
        .join(ImportJob, ImportJob.id == Conflict.job_id)
        .join(Source, Source.id == ImportJob.source_id)
        .where(state, ImportJob.dry_run == false())
    )


class ConflictRow(Protocol):
    """An identity conflict as `CONFLICT_COLUMNS` read it."""

    @property
    def id(self) -> int: ...
    @property
    def job_id(self) -> int: ...
    @property
    def line_number(self) -> int | None: ...
    @property
    def source_name(self) -> str: ...
    @property
    def external_key(self) -> str: ...
    @property
    def kind(self) -> str | None: ...
    @property
    def existing_media_id(self) -> uuid.UUID | None: ...
    @property
    def incoming_media_id(self) -> uuid.UUID | None: ...
    @property
    def details(self) -> dict[str, Any]: ...
    @property
    def created_at(self) -> dt.datetime: ...
    @property
    def resolved_at(self) -> dt.datetime | None: ...
    @property
    def feed(self) -> str: ...


async def conflicts_page(
    conn: AsyncConnection, resolved: bool, first: int, after: str | None
) -> Page[ConflictRow]:
    """Newest first."""
    rows = list(
        await conn.execute(
            keyset_select(_conflicts(resolved), NEWEST_FIRST, "ingest-conflicts", first, after)
        )
    )
    return keyset_page(rows, NEWEST_FIRST, "ingest-conflicts", first)


async def count_conflicts(conn: AsyncConnection, resolved: bool) -> int:
    return int(
        (await conn.execute(select(func.count()).select_from(_conflicts(resolved).subquery()))).scalar_one()
    )
