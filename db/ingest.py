"""Idempotent, resumable batch ingestion of JSON Lines catalogs (format and guarantees: docs/ingestion.md).

The file is streamed and applied in batches; each batch is one transaction that also advances the
job's `last_committed_line`, so a killed run resumed with its job id ends in the state of an unbroken
run. Records are matched through media.external_links (db/ingest_batch.py).

Several writer connections apply consecutive batches at the same time while this process parses the
next ones, so the database and Python work on all cores. Batches whose records share a key never
run together, and each batch commits only after the batch before it (db/ingest_batch.py awaits
that before it stores relations), so what has committed is always a prefix of the file.

A session advisory lock per source refuses a second concurrent run of the same source. Runs on
different sources take turns through a second session lock, held for a number of batches at a time,
so their batches never race for the same key.
"""

import asyncio
import gc
import logging
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import orjson
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from db.ingest_batch import (
    ADVANCE_JOB,
    Counts,
    Feed,
    apply_batch,
    claim_keys,
    log_bad_lines,
    record_conflicts,
)
from db.ingest_format import Batch, read_batches, scan_file
from db.models import Media
from db.provenance import Precedence

LOCK_NAMESPACE = "omnimediatrak.ingest"
TURN_LOCK = f"{LOCK_NAMESPACE}:turn"
DEFAULT_BATCH_SIZE = 2000
DEFAULT_WRITERS = 2
# Batches a run writes before it lets a run of another source take a turn.
BATCHES_PER_TURN = 50
BATCHES_PER_COLLECTION = 10

log = logging.getLogger("omnimediatrak.ingest")

# Losing the last commits in a crash is harmless: the job row commits with its batch, so a resume
# redoes exactly what was lost. A larger GIN pending list makes bulk inserts much cheaper.
BATCH_SETTINGS = text(
    "SELECT set_config('synchronous_commit', 'off', true), set_config('gin_pending_list_limit', '65536', true)"
)


class IngestError(Exception):
    """The run cannot start or continue (unknown job, changed file, ...)."""


class SourceBusy(IngestError):
    """Another run holds this source's lock."""


class EarlierBatchFailed(IngestError):
    """A batch gave up because the batch before it did not commit."""


@dataclass
class Progress:
    lines_done: int
    lines_total: int
    counts: Counts
    resumed_after_line: int = 0


@dataclass(frozen=True)
class ConflictSummary:
    line: int | None
    kind: str | None
    key: str
    existing_media_id: str | None
    incoming_media_id: str | None
    reason: str | None


@dataclass
class JobSummary:
    job_id: int
    source: str
    status: str
    dry_run: bool
    lines: int
    counts: Counts
    errors: list[tuple[int | None, str]]
    pending_relations: int
    conflicts: list[ConflictSummary]

    @property
    def clean(self) -> bool:
        return self.status == "succeeded" and self.counts.failed == 0 and self.counts.conflicts == 0


BeforeCommit = Callable[[int], Awaitable[None]]
ProgressCallback = Callable[[Progress], None]


async def _start_job(
    conn: AsyncConnection,
    path: Path,
    sha256: str,
    source: str | None,
    batch_size: int | None,
    dry_run: bool,
    resume_job: int | None,
) -> tuple[int, str, int, bool, int, Counts]:
    """(job id, source, batch size, dry run, first line to read after, counts so far)."""
    if resume_job is None:
        name = source or path.stem
        await conn.execute(
            text("INSERT INTO ingest.sources (name) VALUES (:name) ON CONFLICT (name) DO NOTHING"),
            {"name": name},
        )
        size = batch_size or DEFAULT_BATCH_SIZE
        job_id = (
            await conn.execute(
                text(
                    "INSERT INTO ingest.import_jobs (source_id, file_name, file_sha256, dry_run, batch_size) "
                    "SELECT id, :file_name, :sha256, :dry_run, :batch_size FROM ingest.sources WHERE name = :name "
                    "RETURNING id"
                ),
                {
                    "file_name": str(path),
                    "sha256": sha256,
                    "dry_run": dry_run,
                    "batch_size": size,
                    "name": name,
                },
            )
        ).scalar_one()
        return int(job_id), name, size, dry_run, 0, Counts()
    job = (
        await conn.execute(
            text(
                "SELECT j.*, s.name AS source FROM ingest.import_jobs j JOIN ingest.sources s ON s.id = j.source_id "
                "WHERE j.id = :id"
            ),
            {"id": resume_job},
        )
    ).first()
    if job is None:
        raise IngestError(f"there is no import job {resume_job}")
    if source is not None and source != job.source:
        raise IngestError(f"job {resume_job} ingests source {job.source}, not {source}")
    if job.status == "succeeded":
        raise IngestError(f"job {resume_job} already succeeded; nothing to resume")
    if job.file_sha256 != sha256:
        raise IngestError(f"{path} is not the file job {resume_job} started with (its SHA-256 differs)")
    conflicts = (
        await conn.execute(text("SELECT count(*) FROM ingest.conflicts WHERE job_id = :id"), {"id": job.id})
    ).scalar_one()
    counts = Counts(
        job.inserted,
        job.updated,
        job.unchanged,
        job.failed,
        conflicts,
        Counter(job.changed_fields),
        Counter(job.kept_fields),
    )
    return job.id, job.source, batch_size or job.batch_size, job.dry_run, job.last_committed_line, counts


async def _acquire_source_lock(conn: AsyncConnection, source: str) -> None:
    async with conn.begin():
        acquired = (
            await conn.execute(
                text("SELECT pg_try_advisory_lock(hashtextextended(:name, 0))"),
                {"name": f"{LOCK_NAMESPACE}:{source}"},
            )
        ).scalar_one()
    if not acquired:
        raise SourceBusy(f"another ingestion of source {source!r} is running")


async def _release_source_lock(conn: AsyncConnection, source: str) -> None:
    async with conn.begin():
        await conn.execute(
            text("SELECT pg_advisory_unlock(hashtextextended(:name, 0))"),
            {"name": f"{LOCK_NAMESPACE}:{source}"},
        )


async def _finish_job(conn: AsyncConnection, job_id: int, status: str) -> None:
    """Best effort: after a lost connection the job simply stays `running`, which resume accepts.
    The run's key claims are kept until it succeeds: a resumed run needs them."""
    try:
        async with conn.begin():
            await conn.execute(
                text("UPDATE ingest.import_jobs SET status = :status, finished_at = now() WHERE id = :id"),
                {"status": status, "id": job_id},
            )
            if status == "succeeded":
                await conn.execute(text("DELETE FROM ingest.job_keys WHERE job_id = :id"), {"id": job_id})
    except Exception:
        log.warning("could not record the end of job %d (status %s)", job_id, status, exc_info=True)


async def _job_source(conn: AsyncConnection, job_id: int) -> str | None:
    async with conn.begin():
        return (
            await conn.execute(
                text(
                    "SELECT s.name FROM ingest.import_jobs j JOIN ingest.sources s ON s.id = j.source_id "
                    "WHERE j.id = :id"
                ),
                {"id": job_id},
            )
        ).scalar_one_or_none()


@contextmanager
def _collections_between_batches() -> Iterator[None]:
    """Python's automatic collections cost a third of the parsing process's CPU here: every batch
    allocates tens of thousands of objects, and the generations holding the whole program get
    scanned again and again. Instead, what exists before the run is frozen (never scanned) and the
    objects of the run are collected every few batches, which keeps memory flat."""
    was_enabled = gc.isenabled()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.unfreeze()
        if was_enabled:
            gc.enable()


async def _take_turn(conn: AsyncConnection) -> None:
    async with conn.begin():
        await conn.execute(text("SELECT pg_advisory_lock(hashtextextended(:name, 0))"), {"name": TURN_LOCK})


async def _pass_turn(conn: AsyncConnection) -> None:
    async with conn.begin():
        await conn.execute(text("SELECT pg_advisory_unlock(hashtextextended(:name, 0))"), {"name": TURN_LOCK})


async def ingest_file(
    engine: AsyncEngine,
    path: Path,
    source: str | None = None,
    batch_size: int | None = None,
    dry_run: bool = False,
    resume_job: int | None = None,
    progress: ProgressCallback | None = None,
    before_commit: BeforeCommit | None = None,
    writers: int = DEFAULT_WRITERS,
    precedence: Precedence | None = None,
) -> JobSummary:
    """Run (or resume) one import job on `writers` + 1 connections of the engine. `precedence`
    ranks the feeds that may take over each other's fields (db/provenance.py).
    `before_commit(batch_number)` runs inside each batch's transaction just before it commits:
    tests use it to break a run at a precise point."""
    if writers < 1:
        raise IngestError("at least one writer connection is needed")
    sha256, total_lines = await asyncio.to_thread(scan_file, path)
    async with AsyncExitStack() as stack:
        conn = await stack.enter_async_context(engine.connect())
        lock_source = source or path.stem
        if resume_job is not None:
            lock_source = await _job_source(conn, resume_job) or lock_source
        await _acquire_source_lock(conn, lock_source)
        try:
            writer_connections = [await stack.enter_async_context(engine.connect()) for _ in range(writers)]
            stack.enter_context(_collections_between_batches())
            return await _run(
                conn,
                writer_connections,
                path,
                sha256,
                total_lines,
                source,
                batch_size,
                dry_run,
                resume_job,
                progress,
                before_commit,
                precedence or Precedence(),
            )
        finally:
            try:
                await _release_source_lock(conn, lock_source)
            except Exception:
                # The lock belongs to the session: it is gone with a broken connection.
                await conn.invalidate()
    raise AssertionError("unreachable")  # pragma: no cover  (mypy: the stack may swallow exceptions)


@dataclass
class _InFlight:
    writing: "asyncio.Task[Counts]"
    batch: Batch
    writer: AsyncConnection


async def _run(
    conn: AsyncConnection,
    writers: list[AsyncConnection],
    path: Path,
    sha256: str,
    total_lines: int,
    source: str | None,
    batch_size: int | None,
    dry_run: bool,
    resume_job: int | None,
    progress: ProgressCallback | None,
    before_commit: BeforeCommit | None,
    precedence: Precedence,
) -> JobSummary:
    async with conn.begin():
        job_id, source_name, size, dry_run, skip_lines, counts = await _start_job(
            conn, path, sha256, source, batch_size, dry_run, resume_job
        )
        await conn.execute(
            text("UPDATE ingest.import_jobs SET status = 'running', finished_at = NULL WHERE id = :id"),
            {"id": job_id},
        )
    feed_run = Feed(job_id, source_name, precedence, dry_run)
    status = "failed"
    lines_done = skip_lines
    log.info(
        "job %d (%s) %s at line %d of %s",
        job_id,
        source_name,
        "resumed" if resume_job else "started",
        skip_lines + 1,
        path,
    )
    in_flight: deque[_InFlight] = deque()
    idle = list(writers)
    settled = 0

    async def settle_oldest() -> None:
        nonlocal lines_done, settled
        oldest = in_flight.popleft()
        try:
            counts.add(await oldest.writing)
        finally:
            idle.append(oldest.writer)
        lines_done = oldest.batch.last_line
        settled += 1
        if settled % BATCHES_PER_COLLECTION == 0:
            gc.collect()
        if progress is not None:
            progress(Progress(lines_done, total_lines, counts, skip_lines))

    try:
        await _take_turn(conn)
        number = 0
        batches_this_turn = 0
        for batch in read_batches(path, size, skip_lines):
            if batch is None:
                await asyncio.sleep(0)
                continue
            while in_flight and (not idle or any(batch.keys & other.batch.keys for other in in_flight)):
                await settle_oldest()
            if batches_this_turn == BATCHES_PER_TURN:
                while in_flight:
                    await settle_oldest()
                await _pass_turn(conn)
                await _take_turn(conn)
                batches_this_turn = 0
            number += 1
            batches_this_turn += 1
            writer = idle.pop()
            earlier = in_flight[-1].writing if in_flight else None
            writing = asyncio.create_task(
                _write_batch(writer, feed_run, number, batch, before_commit, earlier)
            )
            in_flight.append(_InFlight(writing, batch, writer))
        while in_flight:
            await settle_oldest()
        status = "succeeded"
    except (asyncio.CancelledError, KeyboardInterrupt):
        status = "interrupted"
        log.error("job %d interrupted after line %d; resume it with --resume %d", job_id, lines_done, job_id)
        raise
    except Exception:
        log.exception("job %d failed after line %d; resume it with --resume %d", job_id, lines_done, job_id)
        raise
    finally:
        # Batches still in flight commit in order or give up once an earlier one has failed.
        if in_flight:
            await asyncio.wait([item.writing for item in in_flight])
            for item in in_flight:
                if not item.writing.cancelled():
                    item.writing.exception()  # retrieved: the first failure was raised above
        await _finish_job(conn, job_id, status)
        try:
            await _pass_turn(conn)
        except Exception:
            await conn.invalidate()
    return await _summary(conn, job_id, source_name, status, dry_run, lines_done, counts)


async def _write_batch(
    conn: AsyncConnection,
    feed_run: Feed,
    number: int,
    batch: Batch,
    before_commit: BeforeCommit | None,
    earlier: "asyncio.Task[Counts] | None",
) -> Counts:
    async def wait_for_earlier_batches() -> None:
        if earlier is None:
            return
        try:
            # shield: a batch that stops waiting must not cancel the one before it.
            await asyncio.shield(earlier)
        except BaseException as exc:
            if not earlier.done():
                raise
            raise EarlierBatchFailed(f"batch {number - 1} did not commit") from exc

    async with conn.begin():
        await conn.execute(BATCH_SETTINGS)
        if feed_run.dry_run:
            shared = await claim_keys(conn, feed_run.job_id, batch)
            savepoint = await conn.begin_nested()
            outcome = await apply_batch(conn, feed_run, batch, wait_for_earlier_batches, shared)
            await savepoint.rollback()
            # What would have changed survives the rollback, with the bad lines and the conflicts.
            await log_bad_lines(
                conn,
                feed_run.job_id,
                sorted(batch.bad_lines + outcome.field_notes, key=lambda note: note.line),
            )
            if outcome.conflicts:
                await record_conflicts(conn, feed_run.job_id, outcome.conflicts_without_new_items())
        else:
            outcome = await apply_batch(conn, feed_run, batch, wait_for_earlier_batches)
        counts = outcome.counts
        await wait_for_earlier_batches()
        await conn.execute(
            ADVANCE_JOB,
            {
                "job_id": feed_run.job_id,
                "line": batch.last_line,
                "inserted": counts.inserted,
                "updated": counts.updated,
                "unchanged": counts.unchanged,
                "failed": counts.failed,
                "changed_fields": orjson.dumps(counts.changed_fields).decode(),
                "kept_fields": orjson.dumps(counts.kept_fields).decode(),
            },
        )
        if before_commit is not None:
            await before_commit(number)
    return counts


async def _summary(
    conn: AsyncConnection, job_id: int, source: str, status: str, dry_run: bool, lines: int, counts: Counts
) -> JobSummary:
    async with conn.begin():
        errors = (
            await conn.execute(
                text(
                    "SELECT line_number, message FROM ingest.import_logs WHERE job_id = :id AND level = 'error' "
                    "ORDER BY line_number"
                ),
                {"id": job_id},
            )
        ).all()
        pending = (await conn.execute(text("SELECT count(*) FROM ingest.pending_relations"))).scalar_one()
        conflicts = (
            await conn.execute(
                text(
                    "SELECT line_number, kind, source_name || ':' || external_key AS key, existing_media_id, "
                    "incoming_media_id, details ->> 'reason' AS reason FROM ingest.conflicts WHERE job_id = :id "
                    "ORDER BY line_number, id"
                ),
                {"id": job_id},
            )
        ).all()
    return JobSummary(
        job_id,
        source,
        status,
        dry_run,
        lines,
        counts,
        [(row.line_number, row.message) for row in errors],
        pending,
        [
            ConflictSummary(
                row.line_number,
                row.kind,
                row.key,
                None if row.existing_media_id is None else str(row.existing_media_id),
                None if row.incoming_media_id is None else str(row.incoming_media_id),
                row.reason,
            )
            for row in conflicts
        ],
    )


async def catalog_is_empty(engine: AsyncEngine) -> bool:
    async with engine.connect() as conn:
        return (await conn.execute(select(Media.id).limit(1))).first() is None
