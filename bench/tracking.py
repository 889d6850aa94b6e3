"""Add users and tracking entries to a generated bench catalog, for Media.stats and library reads.

    .venv/bin/python -m bench.tracking --data-dir .data/bench1m --rows 10000000

Every item gets `multiplier` x its tracker_count entries, rounded up (the multiplier is chosen so
the total is about `--rows`), from distinct users, with statuses and ratings spread evenly; the heavy tail of
tracker_count makes a few items tracked by tens of thousands. Written in SQL with triggers off
(session_replication_role = replica), then the counters the triggers keep are rebuilt from the rows.
tracker_count is left as generated, so Media.stats counts `multiplier` x tracker_count trackers.
"""

import argparse
import asyncio
import time
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]

from db.cluster import DATABASE_NAME, EmbeddedCluster
from db.counters import REBUILD_MEDIA_STATS

USERS = """
INSERT INTO users.users (email, username, password_hash, settings)
SELECT 'bench' || n || '@example.test', 'bench' || n, 'not-a-password-hash', '{"profile_visibility": "public"}'
FROM generate_series(1, $1::int) AS n
ON CONFLICT DO NOTHING
"""
ENTRIES = """
INSERT INTO interaction.user_media (user_id, media_id, status, rating)
SELECT u.id, m.id,
       (ARRAY['planned', 'in-progress', 'completed', 'dropped', 'paused'])[1 + (m.seq * 31 + j) % 5],
       CASE WHEN (m.seq + j) % 3 = 0 THEN NULL ELSE 1 + (m.seq * 7 + j) % 10 END
FROM (
    SELECT id, tracker_count, row_number() OVER (ORDER BY id) AS seq
    FROM media.media WHERE tracker_count > 0
) AS m,
LATERAL generate_series(0, least(ceil(m.tracker_count * $1::float8)::int, $2::int) - 1) AS j,
bench_users AS u
WHERE u.seq = (m.seq * 7919 + j) % $2::int
"""


async def add_tracking(socket_dir: str, rows: int) -> None:
    conn = await asyncpg.connect(host=socket_dir, user="postgres", database=DATABASE_NAME)
    try:
        trackers = int(await conn.fetchval("SELECT sum(tracker_count) FROM media.media"))
        top = int(await conn.fetchval("SELECT max(tracker_count) FROM media.media"))
        multiplier = rows / trackers
        users = max(200_000, round(top * multiplier) + 1)
        print(f"tracker_count sum {trackers:,}, max {top:,}: x{multiplier:.2f}, {users:,} users")
        async with conn.transaction():
            await conn.execute("SET LOCAL session_replication_role = replica")
            await conn.execute("TRUNCATE interaction.user_media")
            await conn.execute(USERS, users)
            await conn.execute(
                "CREATE TEMP TABLE bench_users AS SELECT id, row_number() OVER (ORDER BY id) - 1 AS seq "
                "FROM users.users WHERE username LIKE 'bench%'"
            )
            await conn.execute("CREATE UNIQUE INDEX ON bench_users (seq)")
            started = time.perf_counter()
            status = await conn.execute(ENTRIES, multiplier, users)
            print(f"{status} in {time.perf_counter() - started:.0f}s")
            if await conn.fetchval("SELECT to_regclass('interaction.media_stats') IS NOT NULL"):
                for statement in REBUILD_MEDIA_STATS:
                    await conn.execute(statement)
        await conn.execute("VACUUM ANALYZE interaction.user_media")
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=Path(".data/bench"))
    parser.add_argument("--rows", type=int, default=10_000_000)
    args = parser.parse_args()
    cluster = EmbeddedCluster(args.data_dir.resolve(), allow_root=True)
    cluster.start()
    try:
        asyncio.run(add_tracking(cluster.socket_dir, args.rows))
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
