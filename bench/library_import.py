"""Import a generated 100,000-entry MyAnimeList export into a scratch database, twice, and compare with
the only way there was before: aliased `trackMedia` mutations through the GraphQL app, in the same run.

    .venv/bin/python -m bench.library_import [--entries 100000] [--baseline 3000] [--batch-size 2000]

Uses the server of DATABASE_URL, else the embedded cluster in .data/bench; the scratch database
`omt_bench_library_import` is dropped and re-created first. The catalog is 100,000 anime items with a
`mal-anime` link each (built in SQL); the export names every one of them plus 1% ids the catalog lacks.
"""

import argparse
import asyncio
import datetime as dt
import os
import time
import uuid

from httpx import ASGITransport, AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.ingest_run import backend_cpu_seconds, backend_pids, scratch_database
from db.accounts import create_session
from db.engine import PoolSettings, make_engine
from db.library_import.run import claim_job, run_job
from gql.app import create_app
from gql.config import Limits, Settings
from gql.relay import to_global_id

DATABASE = "omt_bench_library_import"
STATUSES = ("Completed", "Watching", "On-Hold", "Dropped", "Plan to Watch")
CATALOG_SQL = """
INSERT INTO media.media (external_id, media_type, media_class, title, release_date, attributes)
SELECT 'bench:' || n, 'anime', 'visual.animation.anime', 'Bench Anime ' || n,
       date '1990-01-01' + (n % 12000), jsonb_build_object('episodes', 12 + n % 40)
FROM generate_series(1, :count) AS n
"""
LINKS_SQL = """
INSERT INTO media.external_links (media_id, source_name, external_key)
SELECT id, 'mal-anime', substring(external_id FROM 7) FROM media.media WHERE external_id LIKE 'bench:%'
"""


def mal_export(entries: int, first_id: int = 1) -> bytes:
    missing = entries // 100
    parts = [
        '<?xml version="1.0" encoding="UTF-8" ?>\n<myanimelist>\n<myinfo><user_export_type>1</user_export_type></myinfo>\n'
    ]
    for n in range(first_id, first_id + entries):
        media_id = n if n < first_id + entries - missing else 10_000_000 + n
        status = STATUSES[n % len(STATUSES)]
        finished = (
            f"20{10 + n % 14:02d}-{1 + n % 12:02d}-{1 + n % 28:02d}"
            if status == "Completed"
            else "0000-00-00"
        )
        parts.append(
            f"<anime><series_animedb_id>{media_id}</series_animedb_id>"
            f"<series_title><![CDATA[Bench Anime {n}]]></series_title>"
            f"<my_watched_episodes>{n % 12}</my_watched_episodes>"
            f"<my_start_date>2009-0{1 + n % 9}-01</my_start_date><my_finish_date>{finished}</my_finish_date>"
            f"<my_score>{n % 11}</my_score><my_status>{status}</my_status>"
            f"<my_comments><![CDATA[{'note ' + str(n) if n % 5 == 0 else ''}]]></my_comments>"
            f"<my_times_watched>{n % 3}</my_times_watched></anime>\n"
        )
    parts.append("</myanimelist>\n")
    return "".join(parts).encode()


async def make_user(engine: AsyncEngine, name: str) -> tuple[uuid.UUID, str]:
    async with engine.begin() as conn:
        user_id = (
            await conn.execute(
                text(
                    "INSERT INTO users.users (email, username, password_hash) "
                    "VALUES (:email, :name, 'x') RETURNING id"
                ),
                {"email": f"{name}@bench.test", "name": name},
            )
        ).scalar_one()
        token, _ = await create_session(conn, user_id, dt.timedelta(days=1))
    return user_id, token


async def import_twice(engine: AsyncEngine, data: bytes, batch_size: int) -> None:
    user_id, _ = await make_user(engine, "importer")
    for label in ("first import (all new)", "second import (same file)"):
        claimed = await claim_job(engine, user_id, "mal", "bench.xml", "newer")
        before = {pid: backend_cpu_seconds([pid]) for pid in await backend_pids(engine)}
        started = time.perf_counter()
        cpu_started = time.process_time()
        job = await run_job(claimed, data, batch_size=batch_size)
        seconds = time.perf_counter() - started
        python_cpu = time.process_time() - cpu_started
        backend_cpu = sum(
            backend_cpu_seconds([pid]) - before.get(pid, 0.0) for pid in await backend_pids(engine)
        )
        # The job is one pipeline (parse, then batch after batch), so on an idle machine its time is
        # about the CPU it used; on a shared one the wall time also holds the wait for a core.
        print(
            f"{label}: {job.total:,} entries in {seconds:.2f}s = {job.total / seconds:,.0f} entries/s "
            f"({job.status}; created {job.created:,}, updated {job.updated:,}, unchanged {job.unchanged:,}, "
            f"unmatched {job.unmatched:,}, failed {job.failed:,}); CPU: Python {python_cpu:.1f}s + "
            f"PostgreSQL backends {backend_cpu:.1f}s = {job.total / (python_cpu + backend_cpu):,.0f} entries "
            f"per CPU-second; load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )


async def track_media_baseline(engine: AsyncEngine, url: str, entries: int) -> None:
    """The path before this import existed: 30 aliased trackMedia per request (the alias limit)."""
    if entries <= 0:
        return
    _, token = await make_user(engine, "baseline")
    async with engine.connect() as conn:
        media_ids = list(
            (
                await conn.execute(text("SELECT id FROM media.media ORDER BY id LIMIT :n"), {"n": entries})
            ).scalars()
        )
    settings = Settings(environment="production", limits=Limits(rate_limit_per_minute=0))
    app = create_app(settings, url, engine=engine)
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    before = {pid: backend_cpu_seconds([pid]) for pid in await backend_pids(engine)}
    cpu_started = time.process_time()
    started = time.perf_counter()
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://bench") as http:
        for start in range(0, len(media_ids), 30):
            chunk = media_ids[start : start + 30]
            fields = " ".join(
                f'm{i}: trackMedia(input: {{mediaId: "{to_global_id("Media", media_id)}", status: COMPLETED, '
                f"rating: {1 + i % 10}}}) {{ userErrors {{ code }} }}"
                for i, media_id in enumerate(chunk)
            )
            response = await http.post(
                "/graphql", json={"query": f"mutation {{ {fields} }}"}, headers=headers
            )
            assert response.status_code == 200, response.text[:300]
            assert "errors" not in response.json(), response.text[:300]
    seconds = time.perf_counter() - started
    python_cpu = time.process_time() - cpu_started
    backend_cpu = sum(backend_cpu_seconds([pid]) - before.get(pid, 0.0) for pid in await backend_pids(engine))
    print(
        f"baseline, 30 aliased trackMedia per request: {len(media_ids):,} entries in {seconds:.2f}s = "
        f"{len(media_ids) / seconds:,.0f} entries/s; CPU: Python (client and server) {python_cpu:.1f}s + "
        f"PostgreSQL backends {backend_cpu:.1f}s = {len(media_ids) / (python_cpu + backend_cpu):,.0f} entries "
        f"per CPU-second",
        flush=True,
    )


async def run(url: str, entries: int, baseline: int, batch_size: int) -> None:
    # The pool keeps every backend alive, so their CPU time can be read after each run.
    engine = make_engine(url, PoolSettings(size=4, overflow=0, statement_timeout_ms=600_000))
    try:
        async with engine.begin() as conn:
            await conn.execute(text(CATALOG_SQL), {"count": entries})
            await conn.execute(text(LINKS_SQL))
            await conn.execute(text("ANALYZE"))
        data = mal_export(entries)
        print(f"catalog {entries:,} anime; export {len(data) / 1e6:.1f} MB, {entries:,} entries", flush=True)
        await track_media_baseline(engine, url, baseline)
        await import_twice(engine, data, batch_size)
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument(
        "--baseline", type=int, default=3_000, help="entries written through trackMedia (0: skip)"
    )
    parser.add_argument("--batch-size", type=int, default=2000)
    args = parser.parse_args()
    with scratch_database(DATABASE) as url:
        asyncio.run(run(url, args.entries, args.baseline, args.batch_size))


if __name__ == "__main__":
    main()
