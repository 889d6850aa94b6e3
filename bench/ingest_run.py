"""Ingest a generated catalog into a scratch database twice and report the rates.

    .venv/bin/python -m bench.ingest_generate bench/out/catalog.jsonl --count 200000
    .venv/bin/python -m bench.ingest_run bench/out/catalog.jsonl [--batch-size 2000] [--writers 2]

Uses the server of DATABASE_URL, else an embedded cluster in .data/bench; the scratch database
`omt_bench_ingest` is dropped and re-created first.
"""

import argparse
import asyncio
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from db.cluster import EmbeddedCluster, asyncpg_url
from db.engine import PoolSettings, make_engine
from db.ingest import DEFAULT_WRITERS, ingest_file
from db.migrate import upgrade

DATABASE = "omt_bench_ingest"


async def recreate(server_url: str, database: str) -> str:
    admin = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        await conn.execute(text(f'CREATE DATABASE "{database}"'))
    await admin.dispose()
    return make_url(server_url).set(database=database).render_as_string(hide_password=False)


def backend_cpu_seconds(pids: list[int]) -> float:
    """CPU time of local PostgreSQL backends (0 when the server is not on this machine)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def busy_cpu_seconds() -> float:
    """CPU time the whole machine spent outside idle and I/O wait (all cores, every process)."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = (
        int(value) for value in Path("/proc/stat").read_text().split()[1:9]
    )
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


async def backend_pids(engine: AsyncEngine) -> list[int]:
    async with engine.connect() as conn:
        return list(
            (
                await conn.execute(
                    text(
                        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                        "AND backend_type = 'client backend'"
                    )
                )
            ).scalars()
        )


async def run(url: str, path: Path, batch_size: int, writers: int) -> None:
    # Enough connections for the run and the measuring one: the pool keeps every backend alive, so
    # their CPU time can be read after the run.
    engine = make_engine(url, PoolSettings(size=writers + 2, overflow=0, statement_timeout_ms=600_000))
    try:
        for label in ("first run (all new)", "second run (unchanged)"):
            before = {pid: backend_cpu_seconds([pid]) for pid in await backend_pids(engine)}
            busy_started = busy_cpu_seconds()
            started = time.perf_counter()
            python_started = time.process_time()
            summary = await ingest_file(engine, path, source="bench", batch_size=batch_size, writers=writers)
            seconds = time.perf_counter() - started
            python_cpu = time.process_time() - python_started
            busy = busy_cpu_seconds() - busy_started
            backend_cpu = sum(
                backend_cpu_seconds([pid]) - before.get(pid, 0.0) for pid in await backend_pids(engine)
            )
            counts = summary.counts
            done = counts.inserted + counts.updated + counts.unchanged
            print(
                f"{label}: {done:,} records in {seconds:.1f}s = {done / seconds:,.0f} records/s "
                f"(inserted {counts.inserted:,}, updated {counts.updated:,}, unchanged {counts.unchanged:,}, "
                f"failed {counts.failed:,}, pending relations {summary.pending_relations:,}); "
                f"CPU: Python {python_cpu:.1f}s, PostgreSQL backends {backend_cpu:.1f}s, "
                f"whole machine {busy / seconds:.2f} of {os.cpu_count()} cores busy; "
                f"load average {os.getloadavg()[0]:.1f}",
                flush=True,
            )
        async with engine.connect() as conn:
            relations = (await conn.execute(text("SELECT count(*) FROM media.relationships"))).scalar_one()
        print(f"relations stored: {relations:,}")
    finally:
        await engine.dispose()


@contextmanager
def scratch_database(database: str = DATABASE) -> Iterator[str]:
    """A freshly migrated `database` on DATABASE_URL's server, else on the embedded bench cluster."""
    given = os.environ.get("DATABASE_URL")
    cluster = None
    if given:
        server_url = asyncpg_url(given)
    else:
        cluster = EmbeddedCluster(Path(".data/bench").resolve(), allow_root=True)
        cluster.start()
        server_url = cluster.url("postgres")
    try:
        url = asyncio.run(recreate(server_url, database))
        upgrade(url)
        yield url
    finally:
        if cluster is not None:
            cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("file", type=Path)
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--writers", type=int, default=DEFAULT_WRITERS)
    args = parser.parse_args()
    with scratch_database() as url:
        asyncio.run(run(url, args.file, args.batch_size, args.writers))


if __name__ == "__main__":
    main()
