"""Running an import job from its file to its last batch: parse, then batches of BATCH_SIZE rows,
each in its own transaction together with the job's counts, then the lists (Goodreads shelves, the
lists of our own format).

A job runs on the one connection that created it (`claim_job`): that connection's session holds the
job's owner lock (jobs.py) until the job ends. A job that fails midway keeps the batches written
before (each is whole), and says why."""

import asyncio
import contextlib
import datetime as dt
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from db.availability import is_retryable
from db.library_import import goodreads, letterboxd, mal, omnimediatrak, trakt
from db.library_import.apply import ImportCounts, apply_batch, problem_of_row, write_problems
from db.library_import.entry import ParsedFile, UnreadableFile
from db.library_import.jobs import (
    JobRow,
    create_job,
    finish_job,
    interrupt_unfinished,
    record_batch,
    record_lists,
    release_job,
    start_job,
)
from db.library_import.lists import apply_lists

log = logging.getLogger("omnimediatrak")
BATCH_SIZE = 2000
BATCH_ATTEMPTS = 3
Progress = Callable[[int, int], None]


def parse_file(file_format: str, data: bytes, file_name: str) -> ParsedFile:
    """Raises UnreadableFile when the file as a whole is not of `file_format`."""
    if file_format == "mal":
        return mal.parse(data)
    if file_format == "goodreads":
        return goodreads.parse(data)
    if file_format == "letterboxd":
        return letterboxd.parse(data, file_name)
    if file_format == "trakt":
        return trakt.parse(data, file_name)
    if file_format == "omnimediatrak":
        return omnimediatrak.parse(data)
    raise UnreadableFile(f"unknown format {file_format}")


@dataclass(frozen=True)
class ClaimedJob:
    """A created job and the connection that owns it; `run_job` runs it and gives the connection back."""

    row: JobRow
    conn: AsyncConnection


async def claim_job(
    engine: AsyncEngine, user_id: uuid.UUID, file_format: str, file_name: str, merge_policy: str
) -> ClaimedJob:
    """Raises jobs.ImportInProgress when the user's previous import is still running."""
    conn = await engine.connect()
    try:
        async with conn.begin():
            row = await create_job(conn, user_id, file_format, file_name, merge_policy)
    except BaseException:
        await conn.close()
        raise
    return ClaimedJob(row, conn)


async def interrupt_jobs(engine: AsyncEngine, job_ids: Sequence[uuid.UUID]) -> None:
    """Mark the jobs interrupted (those of a server stopping with them unfinished)."""
    async with engine.begin() as conn:
        await interrupt_unfinished(conn, job_ids)


async def run_job(
    claimed: ClaimedJob,
    data: bytes,
    batch_size: int = BATCH_SIZE,
    progress: Progress | None = None,
) -> JobRow:
    """The job row once finished (succeeded, or failed with `error`)."""
    job, conn = claimed.row, claimed.conn
    try:
        return await _run(conn, job, data, batch_size, progress)
    finally:
        try:
            await release_job(conn, job.id)
        except Exception:
            # A cancelled statement can leave the connection unusable: drop it, and the lock with it.
            with contextlib.suppress(Exception):
                await conn.invalidate()
        await conn.close()


async def _run(
    conn: AsyncConnection, job: JobRow, data: bytes, batch_size: int, progress: Progress | None
) -> JobRow:
    try:
        parsed = await asyncio.to_thread(parse_file, job.format, data, job.file_name)
    except UnreadableFile as exc:
        log.info("library import %s: the file is not a readable %s export", job.id, job.format)
        async with conn.begin():
            return await finish_job(conn, job.id, "failed", str(exc))
    try:
        await _apply(conn, job.id, job.user_id, job.merge_policy, parsed, batch_size, progress)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("library import %s failed", job.id)
        if conn.in_transaction():
            await conn.rollback()
        async with conn.begin():
            return await finish_job(conn, job.id, "failed", "an internal error stopped the import")
    async with conn.begin():
        return await finish_job(conn, job.id, "succeeded")


async def _apply(
    conn: AsyncConnection,
    job_id: uuid.UUID,
    user_id: uuid.UUID,
    policy: str,
    parsed: ParsedFile,
    batch_size: int,
    progress: Progress | None,
) -> None:
    async with conn.begin():
        await start_job(conn, job_id, parsed.total)
        if parsed.problems:
            await write_problems(conn, job_id, [problem_of_row(row) for row in parsed.problems])
            await record_batch(conn, job_id, ImportCounts(failed=len(parsed.problems)), len(parsed.problems))
    done = len(parsed.problems)
    for start in range(0, len(parsed.entries), batch_size):
        batch = parsed.entries[start : start + batch_size]
        for attempt in range(1, BATCH_ATTEMPTS + 1):
            try:
                async with conn.begin():
                    counts = await apply_batch(conn, user_id, job_id, batch, policy, dt.datetime.now(dt.UTC))
                    await record_batch(conn, job_id, counts, len(batch))
                break
            except DBAPIError as exc:
                # Imports of the same items by other users lock the same counters; PostgreSQL may
                # break a deadlock by rolling this batch back, which then simply runs again.
                if attempt == BATCH_ATTEMPTS or not is_retryable(exc):
                    raise
                log.info("library import %s: batch rolled back by a lock conflict, retrying", job_id)
        done += len(batch)
        if progress is not None:
            progress(done, parsed.total)
    if parsed.lists:
        async with conn.begin():
            lists = await apply_lists(conn, user_id, job_id, parsed.lists)
            await record_lists(conn, job_id, lists.created, lists.items_unmatched, lists.items_failed)
