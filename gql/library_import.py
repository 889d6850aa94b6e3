"""Library imports over GraphQL: `importLibrary` (a file through the GraphQL multipart request spec),
the LibraryImportJob node the client polls, and `viewer.libraryImports`.

The job runs as an asyncio task of the server process that took the upload (LibraryImportRunner),
on the connection that owns it (db/library_import/jobs.py): the file is held in memory until the job
has read it; a server that stops marks its unfinished jobs `INTERRUPTED`, and the jobs of a server
that died are marked so at the next start-up or import of their user (send the file again: a
re-import changes only what it did not write yet). One import at a time per user."""

import asyncio
import contextlib
import datetime as dt
import uuid
from enum import Enum
from typing import Annotated, Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from strawberry.file_uploads import Upload

from db.keyset import InvalidCursor
from db.library_import import jobs as job_queries
from db.library_import.entry import DEFAULT_MERGE_POLICY
from db.library_import.jobs import JobRow, ProblemRow
from db.library_import.run import claim_job, interrupt_jobs, run_job
from db.refusals import RefusalCode, invalid, refused
from gql.auth import Viewer
from gql.commands import perform
from gql.context import Info
from gql.errors import INPUT, USER_ERRORS, UserError
from gql.permissions import is_owner
from gql.relay import (
    After,
    Connection,
    First,
    Node,
    bad_cursor,
    connection_from_page,
    page_size,
    to_global_id,
)


@strawberry.enum(description="The site an import file was exported from (docs/import.md).")
class LibraryImportFormat(Enum):
    MAL = "mal"
    GOODREADS = "goodreads"
    LETTERBOXD = "letterboxd"
    TRAKT = "trakt"
    OMNIMEDIATRAK = "omnimediatrak"


@strawberry.enum(
    description="What wins when a row of the file meets an entry you already have. NEWER: the row where it "
    "is newer than the entry's updatedAt, else the row only fills empty fields. FILE: the row, wherever it has "
    "a value. LIBRARY: the entry; the row only fills empty fields. A field the row leaves empty never erases one."
)
class LibraryImportMergePolicy(Enum):
    NEWER = "newer"
    FILE = "file"
    LIBRARY = "library"


@strawberry.enum(
    description="Where an import job is: QUEUED, RUNNING, then SUCCEEDED, FAILED or INTERRUPTED."
)
class LibraryImportStatus(Enum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


@strawberry.enum(
    description="NOT_FOUND: no catalog item has the row's ids, or its title and year. AMBIGUOUS: several "
    "catalog items have its title and year. INVALID: the row could not be read, or its values were refused."
)
class LibraryImportProblemReason(Enum):
    NOT_FOUND = "not-found"
    AMBIGUOUS = "ambiguous"
    INVALID = "invalid"


@strawberry.type(description="A row of an import file that wrote nothing, and why.")
class LibraryImportProblem:
    row_number: int = strawberry.field(
        description="Counted from 1, after the header; per format (docs/import.md). A list item's: its row "
        "in the file (Goodreads) or its position in the list (OmniMediaTrak); 0 for a whole list."
    )
    list_name: str | None = strawberry.field(
        description="The list (a Goodreads shelf, a list of our export) the row is an item of; null for a "
        "library row."
    )
    reason: LibraryImportProblemReason = strawberry.field(description="Why the row wrote nothing.")
    message: str = strawberry.field(description="What was wrong, for people.")
    title: str | None = strawberry.field(description="The row's title, when it had one.")
    year: int | None = strawberry.field(description="The row's year, when it had one.")
    external_ids: list[str] = strawberry.field(description='As "source:key".')

    @classmethod
    def from_row(cls, row: ProblemRow) -> "LibraryImportProblem":
        return cls(
            row_number=row.row_number,
            list_name=row.list_name,
            reason=LibraryImportProblemReason(row.reason),
            message=row.message,
            title=row.title,
            year=row.year,
            external_ids=list(row.external_ids),
        )


@strawberry.type(
    description="Library rows: total = matched + unmatched + failed; matched = created + updated + "
    "unchanged. List items are counted apart (listItemsUnmatched, listItemsFailed)."
)
class LibraryImportCounts:
    total: int = strawberry.field(description="Library rows in the file.")
    processed: int = strawberry.field(description="Library rows handled so far.")
    matched: int = strawberry.field(description="Rows a catalog item was found for.")
    created: int = strawberry.field(description="Matched rows that made a new entry.")
    updated: int = strawberry.field(description="Matched rows that changed an entry.")
    unchanged: int = strawberry.field(description="Matched rows that changed nothing.")
    unmatched: int = strawberry.field(description="Rows no single catalog item was found for.")
    failed: int = strawberry.field(description="Rows that could not be read or whose values were refused.")
    lists_created: int = strawberry.field(description="Lists made from the file.")
    list_items_unmatched: int = strawberry.field(
        description="Items of those lists no catalog item was found for."
    )
    list_items_failed: int = strawberry.field(description="Items of those lists that could not be read.")


LibraryImportProblemConnection = Connection[LibraryImportProblem]


@strawberry.type(description="An import of a library file; only its owner sees it.")
class LibraryImportJob(Node):
    row: strawberry.Private[JobRow]
    format: LibraryImportFormat = strawberry.field(description="The file's format.")
    file_name: str = strawberry.field(description="The name of the uploaded file.")
    merge_policy: LibraryImportMergePolicy = strawberry.field(description="What wins over existing entries.")
    status: LibraryImportStatus = strawberry.field(description="Where the job is.")
    error: str | None = strawberry.field(description="Why a FAILED or INTERRUPTED job stopped.")
    counts: LibraryImportCounts = strawberry.field(description="The rows so far, by outcome.")
    created_at: dt.datetime = strawberry.field(description="When the file was received.")
    finished_at: dt.datetime | None = strawberry.field(description="When the job ended; null while it runs.")

    @classmethod
    def from_row(cls, row: JobRow) -> "LibraryImportJob":
        return cls(
            id=to_global_id("LibraryImportJob", row.id),
            row=row,
            format=LibraryImportFormat(row.format),
            file_name=row.file_name,
            merge_policy=LibraryImportMergePolicy(row.merge_policy),
            status=LibraryImportStatus(row.status),
            error=row.error,
            counts=LibraryImportCounts(
                total=row.total,
                processed=row.processed,
                matched=row.matched,
                created=row.created,
                updated=row.updated,
                unchanged=row.unchanged,
                unmatched=row.unmatched,
                failed=row.failed,
                lists_created=row.lists_created,
                list_items_unmatched=row.list_items_unmatched,
                list_items_failed=row.list_items_failed,
            ),
            created_at=row.created_at,
            finished_at=row.finished_at,
        )

    @strawberry.field(description="Rows done, 0-100; null until the file has been read.")
    def progress(self) -> float | None:
        if self.row.status == "queued":
            return None
        return 100.0 if self.row.total == 0 else round(100 * self.row.processed / self.row.total, 1)

    @strawberry.field(
        description="Rows no catalog item was found for (NOT_FOUND, AMBIGUOUS): the library's, then each "
        "list's items, in file order. A later import of the file, once the catalog has them, matches them."
    )
    async def unmatched(
        self, info: Info, first: First = None, after: After = None
    ) -> LibraryImportProblemConnection:
        total = self.row.unmatched + self.row.list_items_unmatched
        return await _problems(info, self.row, job_queries.UNMATCHED_REASONS, total, first, after)

    @strawberry.field(
        description="Rows that could not be read or whose values were refused (INVALID), library rows first."
    )
    async def failures(
        self, info: Info, first: First = None, after: After = None
    ) -> LibraryImportProblemConnection:
        total = self.row.failed + self.row.list_items_failed
        return await _problems(info, self.row, ("invalid",), total, first, after)


async def _problems(
    info: Info, job: JobRow, reasons: tuple[str, ...], total: int, first: int | None, after: str | None
) -> LibraryImportProblemConnection:
    request = job_queries.ProblemsRequest(job.id, reasons, page_size(first), after)
    try:
        job_queries.check_problems_cursor(after)
    except InvalidCursor as exc:
        raise bad_cursor(exc) from exc
    page = await info.context.loaders.import_problems_page.load(request)

    async def count_total() -> int:
        return int(total)

    return connection_from_page(page, after, LibraryImportProblem.from_row, count_total)


async def job_by_raw_id(info: Info, job_id: uuid.UUID) -> LibraryImportJob | None:
    """node(id): the owner's only; for anyone else (admins too) it does not exist."""
    row = await info.context.loaders.library_import_job_by_id.load(job_id)
    if row is None or not is_owner(info.context.viewer, row.user_id):
        return None
    return LibraryImportJob.from_row(row)


LibraryImportJobConnection = Connection[LibraryImportJob]


async def user_library_imports(
    info: Info, owner_id: uuid.UUID, first: int | None, after: str | None
) -> LibraryImportJobConnection | None:
    """User.libraryImports: the owner's imports, newest first; null for anyone else."""
    if not is_owner(info.context.viewer, owner_id):
        return None
    request = job_queries.JobsRequest(owner_id, page_size(first), after)
    try:
        job_queries.check_jobs_cursor(after)
    except InvalidCursor as exc:
        raise bad_cursor(exc) from exc
    loaders = info.context.loaders
    page = await loaders.library_imports_page.load(request)

    async def count_total() -> int:
        return await loaders.library_import_count.load(owner_id)

    return connection_from_page(page, after, LibraryImportJob.from_row, count_total)


class LibraryImportRunner:
    """The import tasks of this server process."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.tasks: dict[uuid.UUID, asyncio.Task[Any]] = {}
        self.connections: dict[uuid.UUID, AsyncConnection] = {}

    async def start(
        self, user_id: uuid.UUID, file_format: str, file_name: str, merge_policy: str, data: bytes
    ) -> JobRow:
        """The new job, running; raises ImportInProgress while the user's previous one runs."""
        claimed = await claim_job(self.engine, user_id, file_format, file_name, merge_policy)
        job = claimed.row
        task = asyncio.create_task(run_job(claimed, data), name=f"library-import-{job.id}")
        self.tasks[job.id] = task
        self.connections[job.id] = claimed.conn
        task.add_done_callback(lambda _: self._forget(job.id))
        return job

    def _forget(self, job_id: uuid.UUID) -> None:
        self.tasks.pop(job_id, None)
        if self.connections[job_id].closed:
            del self.connections[job_id]

    async def stop(self) -> None:
        unfinished = list(self.tasks)
        for task in list(self.tasks.values()):
            task.cancel()
        for task in list(self.tasks.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for conn in self.connections.values():
            # A task cancelled before it started never closed its connection (nor released its lock).
            if not conn.closed:
                await conn.invalidate()
                await conn.close()
        self.connections.clear()
        if unfinished:
            await interrupt_jobs(self.engine, unfinished)


@strawberry.input(description="A library file to import into your own library.")
class ImportLibraryInput:
    format: LibraryImportFormat = strawberry.field(description="The site the file was exported from.")
    file: Upload = strawberry.field(description="The export file, as a multipart upload (docs/import.md).")
    merge_policy: LibraryImportMergePolicy = strawberry.field(
        default=LibraryImportMergePolicy(DEFAULT_MERGE_POLICY),
        description="What wins when a row meets an entry you already have.",
    )


@strawberry.type(description="The import job, started.")
class ImportLibraryPayload:
    job: LibraryImportJob | None = strawberry.field(
        default=None, description="The job; poll it until it ends."
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list, description=USER_ERRORS)


@strawberry.type
class LibraryImportMutation:
    @strawberry.mutation(
        description="Import a library file into your own library. Returns at once with the job; poll it "
        "(node(id) or viewer.libraryImports) until its status is SUCCEEDED or FAILED."
    )
    async def import_library(
        self, info: Info, input: Annotated[ImportLibraryInput, INPUT]
    ) -> ImportLibraryPayload:
        async def run(viewer: Viewer) -> ImportLibraryPayload:
            upload = input.file
            if not hasattr(upload, "read"):
                raise invalid("Send the file as a multipart upload", "file")
            data: bytes = await upload.read()
            if not data:
                raise invalid("The file is empty", "file")
            file_name = str(getattr(upload, "filename", None) or "upload")[:200]
            runner: LibraryImportRunner = info.context.request.app.state.library_imports
            try:
                row = await runner.start(
                    viewer.user_id, input.format.value, file_name, input.merge_policy.value, data
                )
            except job_queries.ImportInProgress as exc:
                message = (
                    f"Your import {to_global_id('LibraryImportJob', exc.job_id)} is still running: "
                    "send this file once it has finished"
                )
                raise refused(RefusalCode.CONFLICT, message) from exc
            return ImportLibraryPayload(job=LibraryImportJob.from_row(row))

        return await perform(info, ImportLibraryPayload, run)
