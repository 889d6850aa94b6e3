"""`omnimediatrak ingest`: run an import job, show progress, print bad lines, exit with a status."""

import asyncio
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from db.engine import PoolSettings, make_engine
from db.ingest import DEFAULT_WRITERS, IngestError, JobSummary, Progress, SourceBusy, ingest_file
from db.provenance import Precedence

log = logging.getLogger("omnimediatrak.ingest")

EXIT_OK = 0
EXIT_BAD_LINES = 1
EXIT_FAILED = 2
EXIT_BUSY = 3
PRINTED_ERRORS = 50
MAX_WRITERS = 16


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


class ProgressReport:
    """A bar with rate and ETA on a terminal; a plain log line every few seconds otherwise."""

    def __init__(self, stream: TextIO, interval_seconds: float = 5.0) -> None:
        self.stream = stream
        self.is_terminal = stream.isatty()
        self.interval = interval_seconds
        self.started = time.monotonic()
        self.last_report = 0.0

    def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        elapsed = max(now - self.started, 1e-6)
        rate = (progress.lines_done - progress.resumed_after_line) / elapsed
        remaining = max(progress.lines_total - progress.lines_done, 0)
        eta = _duration(remaining / rate) if rate > 0 else "?"
        share = progress.lines_done / progress.lines_total if progress.lines_total else 1.0
        counts = progress.counts
        if self.is_terminal:
            filled = int(share * 30)
            self.stream.write(
                f"\r[{'#' * filled}{'.' * (30 - filled)}] {progress.lines_done:,}/{progress.lines_total:,} "
                f"{share:6.1%}  {rate:,.0f} lines/s  ETA {eta}  "
                f"+{counts.inserted:,} ~{counts.updated:,} ={counts.unchanged:,} !{counts.failed:,} "
            )
            self.stream.flush()
        elif now - self.last_report >= self.interval or progress.lines_done >= progress.lines_total:
            self.last_report = now
            log.info(
                "line %d of %d (%.1f%%), %.0f lines/s, ETA %s: inserted %d, updated %d, unchanged %d, failed %d",
                progress.lines_done,
                progress.lines_total,
                share * 100,
                rate,
                eta,
                counts.inserted,
                counts.updated,
                counts.unchanged,
                counts.failed,
            )

    def close(self) -> None:
        if self.is_terminal:
            self.stream.write("\n")
            self.stream.flush()


def print_summary(summary: JobSummary, seconds: float, out: TextIO) -> None:
    counts = summary.counts
    mode = " (dry run: nothing was written)" if summary.dry_run else ""
    status = summary.status
    if status == "succeeded" and counts.failed:
        status = f"finished, but {counts.failed} {'line' if counts.failed == 1 else 'lines'} failed and {'was' if counts.failed == 1 else 'were'} skipped"
    out.write(
        f"job {summary.job_id} ({summary.source}) {status}{mode} in {seconds:.1f}s: "
        f"{counts.inserted} inserted, {counts.updated} updated, {counts.unchanged} unchanged, "
        f"{counts.failed} failed, {counts.conflicts} conflicts, "
        f"{summary.pending_relations} relations waiting for their target\n"
    )
    for line, message in summary.errors[:PRINTED_ERRORS]:
        out.write(f"line {line}: {message}\n")
    if len(summary.errors) > PRINTED_ERRORS:
        out.write(
            f"... {len(summary.errors) - PRINTED_ERRORS} more in ingest.import_logs (job {summary.job_id})\n"
        )
    for name in sorted(counts.changed_fields.keys() | counts.kept_fields.keys()):
        verb = "would change" if summary.dry_run else "changed"
        out.write(
            f"field {name}: {counts.changed_fields[name]} {verb}, "
            f"{counts.kept_fields[name]} kept (set by a source that takes precedence)\n"
        )
    if summary.dry_run and (counts.changed_fields or counts.kept_fields):
        out.write(f"each field change is listed in ingest.import_logs (job {summary.job_id})\n")
    for conflict in summary.conflicts[:PRINTED_ERRORS]:
        # A dry run names no item it would have created.
        items = [f"item {item}" for item in (conflict.existing_media_id, conflict.incoming_media_id) if item]
        out.write(
            f"line {conflict.line}: conflict ({conflict.kind}) on {conflict.key}: {conflict.reason}"
            + (f" [{', '.join(items)}]" if items else "")
            + "\n"
        )
    if len(summary.conflicts) > PRINTED_ERRORS:
        out.write(
            f"... {len(summary.conflicts) - PRINTED_ERRORS} more conflicts in ingest.conflicts (job {summary.job_id})\n"
        )


@dataclass(frozen=True)
class IngestRequest:
    """What `omnimediatrak ingest` was asked to do (docs/ingestion.md, options)."""

    path: Path
    source: str | None = None
    batch_size: int | None = None
    dry_run: bool = False
    resume: int | None = None
    writers: int = DEFAULT_WRITERS
    precedence: tuple[str, ...] = ()


async def _ingest(url: str, request: IngestRequest) -> int:
    engine = make_engine(
        url, PoolSettings(size=request.writers + 1, overflow=0, statement_timeout_ms=600_000)
    )
    report = ProgressReport(sys.stderr)
    started = time.monotonic()
    try:
        summary = await ingest_file(
            engine,
            request.path,
            request.source,
            request.batch_size,
            request.dry_run,
            request.resume,
            progress=report,
            writers=request.writers,
            precedence=Precedence(request.precedence),
        )
    except SourceBusy as exc:
        report.close()
        log.error("%s; try again when it has finished", exc)
        return EXIT_BUSY
    except IngestError as exc:
        report.close()
        log.error("%s", exc)
        return EXIT_FAILED
    except Exception:
        report.close()
        log.exception("ingestion stopped; committed batches are kept and the job can be resumed")
        return EXIT_FAILED
    finally:
        await engine.dispose()
    report.close()
    print_summary(summary, time.monotonic() - started, sys.stdout)
    return EXIT_OK if summary.clean else EXIT_BAD_LINES


def request_problem(request: IngestRequest) -> str | None:
    """What is wrong with the arguments, checked before any database is started or touched."""
    if not request.path.is_file():
        return f"{request.path} is not a file"
    if not os.access(request.path, os.R_OK):
        return f"{request.path} is not readable"
    if request.batch_size is not None and not 1 <= request.batch_size <= 50_000:
        return "--batch-size must be between 1 and 50000"
    if not 1 <= request.writers <= MAX_WRITERS:
        return f"--writers must be between 1 and {MAX_WRITERS}"
    if request.resume is not None and request.resume < 1:
        return "--resume takes the id of an import job (a positive number)"
    return None


def run_ingest(url: str, request: IngestRequest) -> int:
    problem = request_problem(request)
    if problem is not None:
        log.error("%s", problem)
        return EXIT_FAILED
    try:
        return asyncio.run(_ingest(url, request))
    except KeyboardInterrupt:
        log.error("interrupted; resume with --resume and the job id printed above or in ingest.import_jobs")
        return EXIT_FAILED
