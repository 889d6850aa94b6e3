"""Import jobs and their problem rows: created, advanced batch by batch, read by their owner."""

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from db.keyset import SortKey, keyset_page, keyset_select, parse_datetime, parse_int, parse_uuid
from db.library_import.apply import ImportCounts
from db.models import LibraryImport, LibraryImportProblem
from db.pagination import Page

JOB_KEYS = (
    SortKey(LibraryImport.created_at, True, parse_datetime),
    SortKey(LibraryImport.id, True, parse_uuid),
)
PROBLEM_KEYS = (SortKey(LibraryImportProblem.row_number, False, parse_int),)
UNMATCHED_REASONS = ("not-found", "ambiguous")
FINISHED_STATUSES = ("succeeded", "failed", "interrupted")


async def create_job(
    conn: AsyncConnection, user_id: uuid.UUID, file_format: str, file_name: str, merge_policy: str
) -> Any:
    statement = (
        insert(LibraryImport)
        .values(user_id=user_id, format=file_format, file_name=file_name, merge_policy=merge_policy)
        .returning(*LibraryImport.__table__.columns)
    )
    return (await conn.execute(statement)).one()


async def start_job(conn: AsyncConnection, job_id: uuid.UUID, total: int) -> None:
    await conn.execute(
        update(LibraryImport).where(LibraryImport.id == job_id).values(status="running", total=total)
    )


async def record_batch(conn: AsyncConnection, job_id: uuid.UUID, counts: ImportCounts, rows: int) -> None:
    """In the batch's own transaction, so the job's counts are exactly what has been written."""
    table = LibraryImport
    await conn.execute(
        update(table)
        .where(table.id == job_id)
        .values(
            processed=table.processed + rows,
            **{name: getattr(table, name) + value for name, value in counts.as_dict().items()},
        )
    )


async def record_lists(conn: AsyncConnection, job_id: uuid.UUID, created: int) -> None:
    await conn.execute(update(LibraryImport).where(LibraryImport.id == job_id).values(lists_created=created))


async def finish_job(conn: AsyncConnection, job_id: uuid.UUID, status: str, error: str | None = None) -> Any:
    statement = (
        update(LibraryImport)
        .where(LibraryImport.id == job_id)
        .values(status=status, error=error, finished_at=func.now())
        .returning(*LibraryImport.__table__.columns)
    )
    return (await conn.execute(statement)).one()


async def interrupt_unfinished(conn: AsyncConnection, job_ids: Sequence[uuid.UUID]) -> None:
    await conn.execute(
        update(LibraryImport)
        .where(LibraryImport.id.in_(job_ids), LibraryImport.status.not_in(FINISHED_STATUSES))
        .values(status="interrupted", error="the server stopped during the import", finished_at=func.now())
    )


async def jobs_by_ids(conn: AsyncConnection, ids: Sequence[uuid.UUID]) -> list[Any]:
    rows = await conn.execute(select(*LibraryImport.__table__.columns).where(LibraryImport.id.in_(ids)))
    by_id = {row.id: row for row in rows}
    return [by_id.get(job_id) for job_id in ids]


async def jobs_of_user(conn: AsyncConnection, user_id: uuid.UUID, first: int, after: str | None) -> Page[Any]:
    """Newest first."""
    query = select(*LibraryImport.__table__.columns).where(LibraryImport.user_id == user_id)
    rows = list(await conn.execute(keyset_select(query, JOB_KEYS, "library-imports", first, after)))
    return keyset_page(rows, JOB_KEYS, "library-imports", first)


async def problems_of_job(
    conn: AsyncConnection, job_id: uuid.UUID, reasons: Sequence[str], first: int, after: str | None
) -> Page[Any]:
    """In file order."""
    query = select(*LibraryImportProblem.__table__.columns).where(
        LibraryImportProblem.job_id == job_id, LibraryImportProblem.reason.in_(reasons)
    )
    rows = list(await conn.execute(keyset_select(query, PROBLEM_KEYS, "import-problems", first, after)))
    return keyset_page(rows, PROBLEM_KEYS, "import-problems", first)


async def count_jobs_of_user(conn: AsyncConnection, user_id: uuid.UUID) -> int:
    query = select(func.count()).select_from(LibraryImport).where(LibraryImport.user_id == user_id)
    return int((await conn.execute(query)).scalar_one())
