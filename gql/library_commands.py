"""`omnimediatrak import-library` and `export-library`: a user's library from and to a file, on the
machine that runs the server (the same code paths as importLibrary and GET /export/library.*)."""

import asyncio
import datetime as dt
import sys
from pathlib import Path
from typing import Any, TextIO

import orjson

from db import accounts as account_queries
from db.engine import make_engine
from db.library_export import export_csv, export_for_username
from db.library_import.entry import DEFAULT_MERGE_POLICY
from db.library_import.jobs import ImportInProgress
from db.library_import.run import claim_job, run_job

BAR_WIDTH = 30


def progress_bar(out: TextIO) -> Any:
    def show(done: int, total: int) -> None:
        filled = BAR_WIDTH * done // max(total, 1)
        out.write(f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{total} rows")
        out.flush()

    return show


async def _import(url: str, username: str, file_format: str, path: Path, merge_policy: str) -> int:
    engine = make_engine(url)
    try:
        user_id = await account_queries.find_user_id(engine, username)
        if user_id is None:
            print(f"import-library: no user {username!r}", file=sys.stderr)
            return 1
        try:
            claimed = await claim_job(engine, user_id, file_format, path.name, merge_policy)
        except ImportInProgress as exc:
            print(f"import-library: {username}'s import {exc.job_id} is still running", file=sys.stderr)
            return 1
        data = await asyncio.to_thread(path.read_bytes)
        job = await run_job(claimed, data, progress=progress_bar(sys.stderr))
    finally:
        await engine.dispose()
    print(file=sys.stderr)
    print(
        f"import {job.id}: {job.status}; {job.total} rows: {job.matched} matched ({job.created} created, "
        f"{job.updated} updated, {job.unchanged} unchanged), {job.unmatched} unmatched, {job.failed} failed"
        + (f"; {job.lists_created} lists created" if job.lists_created else "")
        + (f"; {job.list_items_unmatched} list items unmatched" if job.list_items_unmatched else "")
        + (f"; {job.list_items_failed} list items failed" if job.list_items_failed else "")
        + (f"; {job.error}" if job.error else "")
    )
    return 0 if job.status == "succeeded" else 1


def import_library(url: str, username: str, file_format: str, path: Path, merge_policy: str | None) -> int:
    if not path.is_file():
        print(f"import-library: no file {path}", file=sys.stderr)
        return 1
    return asyncio.run(_import(url, username, file_format, path, merge_policy or DEFAULT_MERGE_POLICY))


async def _export(url: str, username: str) -> dict[str, Any] | None:
    engine = make_engine(url)
    try:
        return await export_for_username(engine, username, dt.datetime.now(dt.UTC))
    finally:
        await engine.dispose()


def export_library(url: str, username: str, file_format: str, out: Path | None) -> int:
    document = asyncio.run(_export(url, username))
    if document is None:
        print(f"export-library: no user {username!r}", file=sys.stderr)
        return 1
    body = (
        orjson.dumps(document, option=orjson.OPT_INDENT_2)
        if file_format == "json"
        else export_csv(document).encode()
    )
    if out is None:
        sys.stdout.buffer.write(body)
    else:
        out.write_bytes(body)
        print(
            f"exported {len(document['entries'])} entries and {len(document['lists'])} lists to {out}",
            file=sys.stderr,
        )
    return 0
