"""Subscriptions: delay from commit to delivery, and memory per idle connection, for one process.

    .venv/bin/python -m bench.subscriptions                     # ≈ 1 min
    .venv/bin/python -m bench.subscriptions --idle 2000 --writes 1000

Starts `omnimediatrak serve --workers 1` (one process: the figures are per process) on a freshly
migrated scratch database (DATABASE_URL's server, else the embedded bench cluster), then:

1. delay: one client subscribed to `libraryChanged`; a writer commits one entry at a time with plain
   SQL (so no HTTP time counts) and waits for its event before the next; the delay is from the
   moment COMMIT returned to the writer to the moment the event's frame was read by the client
   (same process, monotonic clock). p50 and p99 over `--writes` commits.
2. memory: the server's RSS before and after opening `--idle` connections, each signed in as its
   own user with one `libraryChanged` subscription (live: each answered the pong after subscribe);
   the difference divided by the connections. A tenth as many connections are opened first and not
   counted: they pay for what all later ones share.
3. the delay again, with those idle connections open.
4. fan-out: `--fanout` connections of one user subscribed; per commit, the delay until the last of
   them has its event.
5. what publishing costs the writers: 20,000 entries inserted in transactions of 2,000 (as a library
   import writes them), and 20,000 catalog items updated in statements of 2,000 (as ingestion does),
   with the notifying triggers on and off (ALTER TABLE ... DISABLE TRIGGER), alternating, 3 rounds.
"""

import argparse
import asyncio
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import psutil  # type: ignore[import-untyped]
from sqlalchemy import text
from websockets.asyncio.client import ClientConnection, connect

from bench.ingest_run import scratch_database
from db.accounts import create_session, create_user
from db.change_feed import listener_dsn
from db.engine import make_engine

DATABASE = "omt_bench_subscriptions"
PORT = int(os.environ.get("OMT_BENCH_PORT", "8150"))
SUBSCRIBE = "subscription { libraryChanged { kind mediaId entry { status } } }"


async def make_users(url: str, count: int, prefix: str = "sub") -> list[tuple[uuid.UUID, str]]:
    engine = make_engine(url)
    users = []
    try:
        async with engine.begin() as conn:
            for n in range(count):
                user = await create_user(
                    conn, f"{prefix}{n}@example.test", f"{prefix}{n}", "not-a-password-hash"
                )
                assert user is not None
                token, _ = await create_session(conn, user.id, dt.timedelta(days=1))
                users.append((user.id, token))
    finally:
        await engine.dispose()
    return users


async def make_media(url: str, count: int, prefix: str = "bench") -> list[uuid.UUID]:
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            rows = await conn.execute(
                text(
                    "INSERT INTO media.media (title, media_type, media_class, external_id) "
                    "SELECT 'Bench ' || n, 'book', 'written.book.novel', :prefix || ':' || n "
                    "FROM generate_series(1, :count) AS n RETURNING id"
                ),
                {"count": count, "prefix": prefix},
            )
            return [row.id for row in rows]
    finally:
        await engine.dispose()


async def subscribed(token: str) -> ClientConnection:
    ws = await connect(
        f"ws://127.0.0.1:{PORT}/graphql",
        subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        max_queue=None,
    )
    await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
    assert json.loads(await ws.recv())["type"] == "connection_ack"
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE}}))
    await ws.send(json.dumps({"type": "ping"}))
    assert json.loads(await ws.recv()) == {"type": "pong"}
    return ws


async def measure_delay(
    url: str, user_id: uuid.UUID, clients: list[ClientConnection], media: list[uuid.UUID]
) -> list[float]:
    """Per commit: seconds from COMMIT returning to the last client reading its event."""
    conn = await asyncpg.connect(listener_dsn(url))
    delays = []
    try:
        for media_id in media:
            async with conn.transaction():
                await conn.execute(
                    "INSERT INTO interaction.user_media (user_id, media_id) VALUES ($1, $2)",
                    user_id,
                    media_id,
                )
            committed = time.perf_counter()
            for ws in clients:
                message = json.loads(await asyncio.wait_for(ws.recv(), 10))
                assert message["type"] == "next", message
            delays.append(time.perf_counter() - committed)
    finally:
        await conn.close()
    return delays


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def report(name: str, delays: list[float]) -> None:
    print(
        f"{name}: p50 {percentile(delays, 0.5) * 1000:.2f} ms, p99 {percentile(delays, 0.99) * 1000:.2f} ms, "
        f"mean {statistics.fmean(delays) * 1000:.2f} ms ({len(delays)} commits)"
    )


def wait_until_healthy(server: subprocess.Popen[bytes]) -> None:
    for _ in range(600):
        assert server.poll() is None, "the server exited"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the server did not start")


async def run(url: str, server_pid: int, writes: int, idle: int, fanout: int) -> None:
    users = await make_users(url, idle + idle // 10 + 2)
    media = await make_media(url, 3 * writes)
    (writer_id, writer_token), (fan_id, fan_token) = users[0], users[1]
    process = psutil.Process(server_pid)

    client = await subscribed(writer_token)
    await measure_delay(url, writer_id, [client], media[:20])  # warm-up
    report("delay, 1 subscriber", await measure_delay(url, writer_id, [client], media[20:writes]))

    # The first connections pay for what every later one shares (code paths run once, buffers).
    warm = max(1, idle // 10)
    idle_clients = [await subscribed(token) for _, token in users[2 : 2 + warm]]
    before = process.memory_info().rss
    for _, token in users[2 + warm :]:
        idle_clients.append(await subscribed(token))
    after = process.memory_info().rss
    print(
        f"memory: {idle} idle connections with 1 subscription each: RSS {before / 2**20:.1f} MiB -> "
        f"{after / 2**20:.1f} MiB, {(after - before) / idle / 1024:.1f} KiB per connection"
    )
    report(
        f"delay, 1 subscriber beside {idle + warm} idle connections",
        await measure_delay(url, writer_id, [client], media[writes : 2 * writes]),
    )

    fans = [await subscribed(fan_token) for _ in range(fanout)]
    report(
        f"delay to the last of {fanout} connections of one user",
        await measure_delay(url, fan_id, fans, media[2 * writes : 2 * writes + writes // 2]),
    )
    for ws in [client, *idle_clients, *fans]:
        await ws.close()


WRITE_COST_ROWS = 20_000
WRITE_COST_BATCH = 2_000


async def timed_batches(conn: Any, statement: str, *args: Any, ids: list[uuid.UUID]) -> float:
    started = time.perf_counter()
    for start in range(0, len(ids), WRITE_COST_BATCH):
        async with conn.transaction():
            await conn.execute(statement, *args, ids[start : start + WRITE_COST_BATCH])
    return time.perf_counter() - started


async def write_cost(url: str, rounds: int = 3) -> None:
    media = await make_media(url, WRITE_COST_ROWS, prefix="write-cost")
    (user_id, _), *_ = await make_users(url, 1, prefix="writer")
    conn = await asyncpg.connect(listener_dsn(url))
    timings: dict[tuple[str, bool], list[float]] = {}
    try:
        for _ in range(rounds):
            for notify in (True, False):
                action = "ENABLE" if notify else "DISABLE"
                for event in ("insert", "update", "delete"):
                    await conn.execute(
                        f"ALTER TABLE interaction.user_media {action} TRIGGER trg_user_media_notify_{event}"
                    )
                await conn.execute(f"ALTER TABLE media.media {action} TRIGGER trg_media_notify_update")
                inserted = await timed_batches(
                    conn,
                    "INSERT INTO interaction.user_media (user_id, media_id) SELECT $1, unnest($2::uuid[])",
                    user_id,
                    ids=media,
                )
                updated = await timed_batches(
                    conn, "UPDATE media.media SET updated_at = now() WHERE id = ANY($1::uuid[])", ids=media
                )
                await conn.execute("DELETE FROM interaction.user_media WHERE user_id = $1", user_id)
                timings.setdefault(("entries inserted", notify), []).append(inserted)
                timings.setdefault(("items updated", notify), []).append(updated)
        for what in ("entries inserted", "items updated"):
            on = statistics.median(timings[(what, True)])
            off = statistics.median(timings[(what, False)])
            print(
                f"{what}: {WRITE_COST_ROWS / on:,.0f}/s with notifications, {WRITE_COST_ROWS / off:,.0f}/s "
                f"without (median of {rounds}); {on / off:.2f}x the time"
            )
    finally:
        for event in ("insert", "update", "delete"):
            await conn.execute(
                f"ALTER TABLE interaction.user_media ENABLE TRIGGER trg_user_media_notify_{event}"
            )
        await conn.execute("ALTER TABLE media.media ENABLE TRIGGER trg_media_notify_update")
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--writes", type=int, default=500)
    parser.add_argument("--idle", type=int, default=1000)
    parser.add_argument("--fanout", type=int, default=20)
    args = parser.parse_args()
    with scratch_database(DATABASE) as url:
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "OMT_PORT": str(PORT),
            "OMT_ENV": "production",
            "OMT_LOG_LEVEL": "WARNING",
            "OMT_RATE_LIMIT_PER_MINUTE": "0",
            "OMT_WS_CONNECTIONS_PER_CLIENT": str(max(20, args.fanout)),
        }
        server = subprocess.Popen(
            [sys.executable, "-m", "gql.cli", "serve", "--no-demo", "--workers", "1"], env=env
        )
        try:
            wait_until_healthy(server)
            asyncio.run(run(url, server.pid, args.writes, args.idle, args.fanout))
            asyncio.run(write_cost(url))
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
