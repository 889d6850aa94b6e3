"""Where PostgreSQL spends its time when ingesting new media (bench/README.md, "## Ingestion").

    .venv/bin/python -m bench.ingest_profile bench/out/catalog.jsonl [--records 40000]

Works on the scratch database of bench.ingest_run (dropped and re-created first). Part 1 applies the
first records batch after batch, one statement at a time and without the parse/write overlap, and
prints each statement's time per record. Part 2 inserts the same media rows into a copy of
media.media carrying one index at a time and prints what each index (and the generated tsvector)
adds per row.
"""

import argparse
import asyncio
import os
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncConnection

from bench.ingest_run import backend_cpu_seconds, scratch_database
from db.engine import PoolSettings, make_engine
from db.ingest import BATCH_SETTINGS
from db.ingest_batch import Feed, apply_batch
from db.ingest_format import Batch, read_batches

COPY_COLUMNS = (
    "id, external_id, media_type, media_class, title, release_date, country_of_origin, creators, "
    "cover_url, description, attributes, collection_path, tracker_count, created_at, updated_at"
)


async def statement_breakdown(url: str, path: Path, records: int, batch_size: int) -> None:
    engine = make_engine(url, PoolSettings(size=1, overflow=0, statement_timeout_ms=600_000))
    seconds: dict[str, float] = defaultdict(float)

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def started(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        conn.info["statement_started"] = time.perf_counter()

    @event.listens_for(engine.sync_engine, "after_cursor_execute")
    def finished(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seconds[" ".join(statement.split())[:60]] += time.perf_counter() - conn.info["statement_started"]

    batches: list[Batch] = []
    parse_started = time.process_time()
    for batch in read_batches(path, batch_size, 0):
        if batch is not None:
            batches.append(batch)
        if batches and batches[-1].last_line >= records:
            break
    parse_seconds = time.process_time() - parse_started
    done = sum(len(batch.records) for batch in batches)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO ingest.sources (name) VALUES ('profile')"))
            job_id = (
                await conn.execute(
                    text(
                        "INSERT INTO ingest.import_jobs (source_id, file_name, file_sha256, dry_run, batch_size) "
                        "SELECT id, :file, '', false, :size FROM ingest.sources WHERE name = 'profile' RETURNING id"
                    ),
                    {"file": str(path), "size": batch_size},
                )
            ).scalar_one()
            backend = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        seconds.clear()
        async with engine.connect() as conn:
            cpu_started, python_started = backend_cpu_seconds([backend]), time.process_time()
            for batch in batches:
                await _apply(conn, job_id, batch)
            backend_cpu = backend_cpu_seconds([backend]) - cpu_started
            python_cpu = time.process_time() - python_started
    finally:
        await engine.dispose()
    print(
        f"{done:,} records: parse {parse_seconds * 1e6 / done:.0f} µs/record (Python), writing "
        f"{python_cpu * 1e6 / done:.0f} µs/record (Python) and {backend_cpu * 1e6 / done:.0f} µs/record "
        f"(PostgreSQL backend); load average {os.getloadavg()[0]:.1f}"
    )
    for statement, spent in sorted(seconds.items(), key=lambda item: -item[1]):
        print(f"{spent * 1e6 / done:8.1f} µs/record  {statement}")


async def _apply(conn: AsyncConnection, job_id: int, batch: Batch) -> None:
    async with conn.begin():
        await conn.execute(BATCH_SETTINGS)
        await apply_batch(conn, Feed(job_id, "bench"), batch)


async def index_costs(url: str, rows: int) -> None:
    engine = make_engine(url, PoolSettings(size=1, overflow=0, statement_timeout_ms=600_000))
    try:
        async with engine.connect() as conn:
            indexes = (
                await conn.execute(
                    text(
                        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'media' "
                        "AND tablename = 'media' AND indexname <> 'pk_media' ORDER BY indexname"
                    )
                )
            ).all()
            await conn.execute(text("CREATE SCHEMA profile"))
            await conn.execute(text(f"CREATE TABLE profile.rows AS SELECT * FROM media.media LIMIT {rows}"))
            await conn.execute(
                text(
                    "CREATE TABLE profile.media (LIKE media.media INCLUDING DEFAULTS INCLUDING GENERATED "
                    "INCLUDING CONSTRAINTS)"
                )
            )
            await conn.commit()
            base = await _insert_seconds(conn, rows, None)
            print(f"{rows:,} media rows into a copy of media.media (best of 3, µs/row):")
            print(f"{base:8.1f}  heap and primary key, with the generated search_vector")
            for name, definition in indexes:
                added = await _insert_seconds(
                    conn,
                    rows,
                    definition.replace(f"INDEX {name} ON media.media", "INDEX profiled ON profile.media"),
                )
                print(f"{added - base:+8.1f}  {name}")
            await conn.execute(text("ALTER TABLE profile.media ALTER COLUMN search_vector DROP EXPRESSION"))
            await conn.commit()
            plain = await _insert_seconds(conn, rows, None)
            print(f"{plain - base:+8.1f}  without computing search_vector")
            await conn.execute(text("DROP SCHEMA profile CASCADE"))
            await conn.commit()
    finally:
        await engine.dispose()


async def _insert_seconds(conn: AsyncConnection, rows: int, index: str | None) -> float:
    best = float("inf")
    for _ in range(3):
        await conn.execute(text("TRUNCATE profile.media"))
        await conn.execute(text("DROP INDEX IF EXISTS profile.profiled"))
        if index is not None:
            await conn.execute(text(index))
        await conn.commit()
        async with conn.begin():
            await conn.execute(text("SET LOCAL gin_pending_list_limit = '64MB'"))
            started = time.perf_counter()
            await conn.execute(
                text(f"INSERT INTO profile.media ({COPY_COLUMNS}) SELECT {COPY_COLUMNS} FROM profile.rows")
            )
            best = min(best, time.perf_counter() - started)
    return best * 1e6 / rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("file", type=Path)
    parser.add_argument("--records", type=int, default=40_000)
    parser.add_argument("--batch-size", type=int, default=2000)
    args = parser.parse_args()
    with scratch_database() as url:
        asyncio.run(statement_breakdown(url, args.file, args.records, args.batch_size))
        asyncio.run(index_costs(url, min(args.records, 20_000)))


if __name__ == "__main__":
    main()
