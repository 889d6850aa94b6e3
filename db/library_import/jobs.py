"""Import jobs and their problem rows: created, advanced batch by batch, read by their owner.

Who runs a job: the process that created it holds a session advisory lock on the job (OWNER_LOCK) on
the connection the job runs on, from before its row is visible until it finishes. PostgreSQL drops
the lock when that process dies, however it dies, so a queued or running job whose lock is free has
no owner any more: `interrupt_abandoned` marks it interrupted (at start-up, and before a new job of
the same user is created). A user has at most one unfinished job (a partial unique index), so two
imports never lock the same entries in different orders."""

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Uuid, any_, column, func, literal_column, select, text, true, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from db.batch import union_of, uuid_keys
from db.keyset import (
    Page,
    SortKey,
    keyset_page,
    keyset_select,
    keyset_values,
    parse_datetime,
    parse_int,
    parse_uuid,
)
from db.library_import.apply import ImportCounts
from db.models import LibraryImport, LibraryImportProblem

JOB_KEYS = (
    SortKey(LibraryImport.created_at, True, parse_datetime),
    SortKey(LibraryImport.id, True, parse_uuid),
)
PROBLEM_KEYS = (
    SortKey(LibraryImportProblem.list_position, False, parse_int),
    SortKey(LibraryImportProblem.row_number, False, parse_int),
)
PROBLEMS_KIND = "import-problems"
JOBS_KIND = "library-imports"
UNMATCHED_REASONS = ("not-found", "ambiguous")
FINISHED_STATUSES = ("succeeded", "failed", "interrupted")
UNFINISHED_STATUSES = ("queued", "running")
UNFINISHED = "status IN ('queued', 'running')"  # the predicate of uq_library_imports_one_unfinished_per_user
ABANDONED_ERROR = "the server process running the import stopped; send the file again"

OWNER_LOCK = "hashtextextended('library-import:' || CAST(CAST({job_id} AS uuid) AS text), 0)"
TAKE_OWNER_LOCK = text(f"SELECT pg_advisory_lock({OWNER_LOCK.format(job_id=':job_id')})")
RELEASE_OWNER_LOCK = text(f"SELECT pg_advisory_unlock({OWNER_LOCK.format(job_id=':job_id')})")
# MATERIALIZED: the lock is tried on unfinished jobs only, never on another row the planner meets first.
INTERRUPT_ABANDONED = text(
    f"""
    WITH unfinished AS MATERIALIZED (
        SELECT id FROM interaction.library_imports
        WHERE {UNFINISHED}
          AND (CAST(:user_id AS uuid) IS NULL OR user_id = CAST(:user_id AS uuid))
    )
    UPDATE interaction.library_imports AS job
    SET status = 'interrupted', error = :error, finished_at = now()
    FROM unfinished
    WHERE job.id = unfinished.id AND pg_try_advisory_xact_lock({OWNER_LOCK.format(job_id="unfinished.id")})
    RETURNING job.id
    """
)


class JobRow(Protocol):
    """A library import as its table's columns read it."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def user_id(self) -> uuid.UUID: ...
    @property
    def format(self) -> str: ...
    @property
    def file_name(self) -> str: ...
    @property
    def merge_policy(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def total(self) -> int: ...
    @property
    def processed(self) -> int: ...
    @property
    def matched(self) -> int: ...
    @property
    def created(self) -> int: ...
    @property
    def updated(self) -> int: ...
    @property
    def unchanged(self) -> int: ...
    @property
    def unmatched(self) -> int: ...
    @property
    def failed(self) -> int: ...
    @property
    def lists_created(self) -> int: ...
    @property
    def list_items_unmatched(self) -> int: ...
    @property
    def list_items_failed(self) -> int: ...
    @property
    def error(self) -> str | None: ...
    @property
    def created_at(self) -> dt.datetime: ...
    @property
    def finished_at(self) -> dt.datetime | None: ...


class ProblemRow(Protocol):
    """A row of an import file that wrote nothing."""

    @property
    def job_id(self) -> uuid.UUID: ...
    @property
    def list_position(self) -> int: ...
    @property
    def row_number(self) -> int: ...
    @property
    def list_name(self) -> str | None: ...
    @property
    def reason(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def title(self) -> str | None: ...
    @property
    def year(self) -> int | None: ...
    @property
    def external_ids(self) -> list[str]: ...


class ImportInProgress(Exception):
    """The user already has a queued or running import: one at a time per user."""

    def __init__(self, job_id: uuid.UUID) -> None:
        super().__init__(f"import {job_id} is still running")
        self.job_id = job_id


async def interrupt_abandoned(conn: AsyncConnection, user_id: uuid.UUID | None = None) -> list[uuid.UUID]:
    """Marks interrupted the unfinished jobs (of `user_id`, or everyone's) whose owner process is gone."""
    rows = await conn.execute(INTERRUPT_ABANDONED, {"user_id": user_id, "error": ABANDONED_ERROR})
    return [row.id for row in rows]


async def create_job(
    conn: AsyncConnection, user_id: uuid.UUID, file_format: str, file_name: str, merge_policy: str
) -> JobRow:
    """The new job, owned by `conn`'s session until `release_job`; ImportInProgress when the user has
    an unfinished job whose owner is alive."""
    await interrupt_abandoned(conn, user_id)
    statement = (
        insert(LibraryImport)
        .values(user_id=user_id, format=file_format, file_name=file_name, merge_policy=merge_policy)
        .on_conflict_do_nothing(
            index_elements=[LibraryImport.user_id],
            index_where=text(UNFINISHED),
        )
        .returning(*LibraryImport.__table__.columns)
    )
    running = select(LibraryImport.id).where(
        LibraryImport.user_id == user_id, LibraryImport.status.in_(UNFINISHED_STATUSES)
    )
    while True:
        job = (await conn.execute(statement)).one_or_none()
        if job is not None:
            await conn.execute(TAKE_OWNER_LOCK, {"job_id": job.id})
            return job
        other = (await conn.execute(running)).scalar()
        if other is not None:  # else it finished since: try again
            raise ImportInProgress(other)


async def release_job(conn: AsyncConnection, job_id: uuid.UUID) -> None:
    await conn.execute(RELEASE_OWNER_LOCK, {"job_id": job_id})


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


async def record_lists(
    conn: AsyncConnection, job_id: uuid.UUID, created: int, items_unmatched: int, items_failed: int
) -> None:
    await conn.execute(
        update(LibraryImport)
        .where(LibraryImport.id == job_id)
        .values(lists_created=created, list_items_unmatched=items_unmatched, list_items_failed=items_failed)
    )


async def finish_job(
    conn: AsyncConnection, job_id: uuid.UUID, status: str, error: str | None = None
) -> JobRow:
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


async def jobs_by_ids(conn: AsyncConnection, ids: Sequence[uuid.UUID]) -> list[JobRow | None]:
    rows = await conn.execute(select(*LibraryImport.__table__.columns).where(LibraryImport.id.in_(ids)))
    by_id = {row.id: row for row in rows}
    return [by_id.get(job_id) for job_id in ids]


@dataclass(frozen=True)
class JobsRequest:
    """One page of a user's imports, newest first. Check its cursor (`check_jobs_cursor`) before loading
    it: a batch serves many requests and must not fail for one."""

    user_id: uuid.UUID
    first: int
    after: str | None = None


def check_jobs_cursor(after: str | None) -> None:
    """Raises InvalidCursor unless `after` is a cursor of a page of imports."""
    if after is not None:
        keyset_values(JOB_KEYS, JOBS_KIND, after)


def _jobs_part(number: int, first: int, after: str | None) -> Any:
    """The pages of one (first, after) for the users of `part{number}_users`: a LATERAL page per user."""
    users = (
        func.unnest(uuid_keys(f"part{number}_users"))
        .table_valued(column("owner_id", Uuid(as_uuid=True)))
        .render_derived(name=f"users{number}")
    )
    query = select(*LibraryImport.__table__.columns).where(LibraryImport.user_id == users.c.owner_id)
    page = keyset_select(query, JOB_KEYS, JOBS_KIND, first, after).lateral(f"page{number}")
    return select(literal_column(str(number)).label("part"), page).select_from(users).join(page, true())


async def jobs_pages(conn: AsyncConnection, requests: Sequence[JobsRequest]) -> list[Page[JobRow]]:
    """Pages of many users' imports in one statement, newest first: one UNION ALL part per distinct
    (first, after), its users an array parameter."""
    groups: dict[tuple[int, str | None], list[uuid.UUID]] = {}
    for request in requests:
        groups.setdefault((request.first, request.after), []).append(request.user_id)
    part_of = {key: number for number, key in enumerate(groups)}
    query = union_of([_jobs_part(part_of[key], *key) for key in groups])
    parameters = {f"part{part_of[key]}_users": user_ids for key, user_ids in groups.items()}
    found: dict[tuple[int, uuid.UUID], list[Any]] = {}
    for row in await conn.execute(query, parameters):
        found.setdefault((row.part, row.user_id), []).append(row)
    pages = []
    for request in requests:
        rows = found.get((part_of[(request.first, request.after)], request.user_id), [])
        rows.sort(key=lambda row: (row.created_at, row.id), reverse=True)
        pages.append(keyset_page(rows, JOB_KEYS, JOBS_KIND, request.first))
    return pages


JOB_COUNTS = (
    select(LibraryImport.user_id, func.count().label("imports"))
    .where(LibraryImport.user_id == any_(uuid_keys()))
    .group_by(LibraryImport.user_id)
)


async def job_counts(conn: AsyncConnection, user_ids: Sequence[uuid.UUID]) -> list[int]:
    """`totalCount` of many users' imports in one statement."""
    counts = {row.user_id: int(row.imports) for row in await conn.execute(JOB_COUNTS, {"keys": user_ids})}
    return [counts.get(user_id, 0) for user_id in user_ids]


@dataclass(frozen=True)
class ProblemsRequest:
    """One page of a job's problem rows with the given reasons. Check its cursor
    (`check_problems_cursor`) before loading it: a batch serves many requests and must not fail for one."""

    job_id: uuid.UUID
    reasons: tuple[str, ...]
    first: int
    after: str | None = None


def check_problems_cursor(after: str | None) -> None:
    """Raises InvalidCursor unless `after` is a cursor of a problems page."""
    if after is not None:
        keyset_values(PROBLEM_KEYS, PROBLEMS_KIND, after)


def _problems_part(number: int, reasons: tuple[str, ...], first: int, after: str | None) -> Any:
    """The pages of one (reasons, first, after) for the jobs of `part{number}_jobs`: a LATERAL page per job."""
    jobs = (
        func.unnest(uuid_keys(f"part{number}_jobs"))
        .table_valued(column("job_id", Uuid(as_uuid=True)))
        .render_derived(name=f"jobs{number}")
    )
    query = select(*LibraryImportProblem.__table__.columns).where(
        LibraryImportProblem.job_id == jobs.c.job_id, LibraryImportProblem.reason.in_(reasons)
    )
    page = keyset_select(query, PROBLEM_KEYS, PROBLEMS_KIND, first, after).lateral(f"page{number}")
    return select(literal_column(str(number)).label("part"), page).select_from(jobs).join(page, true())


async def problems_pages(
    conn: AsyncConnection, requests: Sequence[ProblemsRequest]
) -> list[Page[ProblemRow]]:
    """Problem pages of many jobs in one statement, each in file order: the library's rows, then each
    list's."""
    groups: dict[tuple[tuple[str, ...], int, str | None], list[uuid.UUID]] = {}
    for request in requests:
        groups.setdefault((request.reasons, request.first, request.after), []).append(request.job_id)
    part_of = {key: number for number, key in enumerate(groups)}
    query = union_of([_problems_part(part_of[key], *key) for key in groups])
    parameters = {f"part{part_of[key]}_jobs": job_ids for key, job_ids in groups.items()}
    found: dict[tuple[int, uuid.UUID], list[Any]] = {}
    for row in await conn.execute(query, parameters):
        found.setdefault((row.part, row.job_id), []).append(row)
    pages = []
    for request in requests:
        rows = found.get((part_of[(request.reasons, request.first, request.after)], request.job_id), [])
        rows.sort(key=lambda row: (row.list_position, row.row_number))
        pages.append(keyset_page(rows, PROBLEM_KEYS, PROBLEMS_KIND, request.first))
    return pages
