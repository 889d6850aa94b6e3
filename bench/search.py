"""Search and catalog latency: median and p95 of sequential requests, production mode.

    .venv/bin/python -m bench.search --data-dir .data/bench1m [--requests 60] [--relevance] [--prewarm]

Starts `omnimediatrak serve` (production mode, one worker) on a catalog made by bench.generate (and
bench.tracking for Media.stats), then sends each scenario's requests one after another, after a few
for warm-up. A scenario the server refuses (a field it does not have) is reported as n/a, so the
same command measures an older build. `--relevance` first ingests the demo catalog and the
relevance set's trackers (data/search_relevance.json) into the bench catalog and reports the set's
hit rate among a million generated items.
"""

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx

from bench.generate import ADJECTIVES, NOUNS
from bench.load import start_server, wait_ready
from db.cluster import DATABASE_NAME, EmbeddedCluster
from db.engine import make_engine
from db.ingest import ingest_file
from db.keyset import keyset_cursor
from db.media_filters import MediaFilter
from db.media_search import MediaSort, _cursor_kind, _sort_keys
from gql.relay import to_global_id

ROOT = Path(__file__).resolve().parent.parent
PAGE = "totalCount edges { node { id title mediaType releaseDate } }"
SEARCH = f"""query($q: String!) {{ searchMedia(filter: {{search: $q}}, first: 20) {{ {PAGE} }} }}"""
SEARCH_FILTERED = f"""query($q: String!) {{ searchMedia(
  filter: {{search: $q, mediaTypes: [FILM, SERIES, ANIME], genresAny: ["science fiction", "drama"]}},
  sort: [{{field: RELEASE_DATE, direction: DESC}}], first: 20) {{ {PAGE} }} }}"""
SEARCH_POPULAR = f"""query($q: String!) {{ searchMedia(filter: {{search: $q, releasedAfter: "1990-01-01"}},
  sort: [{{field: POPULARITY}}], first: 20) {{ {PAGE} }} }}"""
CATALOG = f"""query($after: String) {{ searchMedia(filter: {{mediaTypes: [BOOK]}}, first: 20, after: $after)
  {{ {PAGE} pageInfo {{ endCursor }} }} }}"""
MEDIA_TYPES = "{ mediaTypes { mediaType count } }"
MEDIA_CLASSES = "{ mediaClasses { mediaClass count } }"
GENRES = "{ genres { name count } }"
STATS = "query($id: ID!) { media(id: $id) { stats { trackers meanRating byStatus { status count } } } }"
RELEVANCE = """query($q: String!) { searchMedia(filter: {search: $q}, first: 1) {
  edges { node { title mediaType } } } }"""


def misspell(rng: random.Random, word: str) -> str:
    """A typo no title contains: two neighbouring letters swapped, or one letter dropped."""
    i = rng.randrange(1, len(word) - 1)
    if rng.random() < 0.5:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    return word[:i] + word[i + 1 :]


async def samples(socket_dir: str) -> dict[str, Any]:
    conn = await asyncpg.connect(host=socket_dir, user="postgres", database=DATABASE_NAME)
    try:
        popular = await conn.fetch("SELECT id FROM media.media ORDER BY tracker_count DESC LIMIT 50")
        books = int(await conn.fetchval("SELECT count(*) FROM media.media WHERE media_type = 'book'"))
        deep = []
        for fraction in (0.25, 0.5, 0.9):
            row = await conn.fetchrow(
                "SELECT title, id FROM media.media WHERE media_type = 'book' ORDER BY title, id "
                "OFFSET $1 LIMIT 1",
                int(books * fraction),
            )
            deep.append((row["title"], str(row["id"])))
    finally:
        await conn.close()
    book_filter = MediaFilter(media_types=("book",))
    keys = _sort_keys(book_filter, [MediaSort("title")])
    kind = _cursor_kind("search", book_filter, keys)
    return {
        "popular": [to_global_id("Media", row["id"]) for row in popular],
        "deep_cursors": [keyset_cursor(kind, list(values)) for values in deep],
        "books": books,
    }


def scenarios(found: dict[str, Any]) -> dict[str, Callable[[random.Random], dict[str, Any]]]:
    def body(query: str, **variables: Any) -> dict[str, Any]:
        return {"query": query, "variables": variables}

    return {
        "search: two-word title": lambda r: body(SEARCH, q=f"{r.choice(ADJECTIVES)} {r.choice(NOUNS)}"),
        "search: one common word (~4% of items)": lambda r: body(SEARCH, q=r.choice(NOUNS)),
        "search: a misspelt common word (typo tier)": lambda r: body(SEARCH, q=misspell(r, r.choice(NOUNS))),
        "search: a misspelt word + a word": lambda r: body(
            SEARCH, q=f"{r.choice(ADJECTIVES)} {misspell(r, r.choice(NOUNS))}"
        ),
        "search + types + genres, by release date": lambda r: body(SEARCH_FILTERED, q=r.choice(NOUNS)),
        "search + released after, by popularity": lambda r: body(SEARCH_POPULAR, q=r.choice(NOUNS)),
        "catalog: books by title, first page": lambda r: body(CATALOG, after=None),
        "catalog: books by title, deep pages (25/50/90 %)": lambda r: body(
            CATALOG, after=r.choice(found["deep_cursors"])
        ),
        "mediaTypes": lambda r: body(MEDIA_TYPES),
        "mediaClasses": lambda r: body(MEDIA_CLASSES),
        "genres": lambda r: body(GENRES),
        "Media.stats of a popular item": lambda r: body(STATS, id=r.choice(found["popular"])),
    }


async def measure(
    http: httpx.AsyncClient, url: str, make_body: Callable[[random.Random], dict[str, Any]], count: int
) -> dict[str, float] | None:
    rng = random.Random(7)
    latencies = []
    for n in range(count + 5):
        payload = make_body(rng)
        started = time.perf_counter()
        response = await http.post(url, json=payload)
        elapsed = time.perf_counter() - started
        if response.status_code != 200 or response.json().get("errors"):
            return None
        if n >= 5:
            latencies.append(1000 * elapsed)
    latencies.sort()
    return {
        "median": statistics.median(latencies),
        "p95": latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))],
    }


async def relevance_hit_rate(http: httpx.AsyncClient, url: str) -> tuple[int, int, list[str]]:
    relevance_set = json.loads((ROOT / "data" / "search_relevance.json").read_text(encoding="utf-8"))
    misses = []
    for case in relevance_set["cases"]:
        response = await http.post(url, json={"query": RELEVANCE, "variables": {"q": case["query"]}})
        edges = response.json()["data"]["searchMedia"]["edges"]
        got = (edges[0]["node"]["title"], edges[0]["node"]["mediaType"].lower()) if edges else None
        if got != (case["title"], case["media_type"]):
            misses.append(f"{case['query']!r} -> {got}")
    return len(relevance_set["cases"]) - len(misses), len(relevance_set["cases"]), misses


async def add_demo_catalog(cluster: EmbeddedCluster) -> None:
    """The demo catalog and the relevance set's trackers, once (ingestion makes a second run a no-op)."""
    relevance_set = json.loads((ROOT / "data" / "search_relevance.json").read_text(encoding="utf-8"))
    engine = make_engine(cluster.url(DATABASE_NAME))
    try:
        await ingest_file(engine, ROOT / "data" / "demo_catalog.jsonl", source="demo")
    finally:
        await engine.dispose()
    conn = await asyncpg.connect(host=cluster.socket_dir, user="postgres", database=DATABASE_NAME)
    try:
        for item, trackers in relevance_set["popularity"].items():
            title, media_type = item.split("|")
            media_id = await conn.fetchval(
                "SELECT id FROM media.media WHERE title = $1 AND media_type = $2 AND external_id NOT LIKE 'bench:%'",
                title,
                media_type,
            )
            await conn.execute(
                "INSERT INTO interaction.user_media (user_id, media_id) "
                "SELECT id, $1 FROM users.users ORDER BY id LIMIT $2 ON CONFLICT DO NOTHING",
                media_id,
                trackers,
            )
    finally:
        await conn.close()


# What a search reads: the catalog's heap and the indexes of its matching and its orders (~920 MB at 1M).
PREWARMED = (
    "media.media",
    "media.idx_media_search_vector",
    "media.idx_media_search_popular",
    "media.idx_media_search_titles",
    "media.idx_media_tracker_count",
    "media.idx_media_type_tracker_count",
    "media.idx_media_release_date",
    "media.idx_media_type_release_date",
    "media.pk_media",
)


async def prewarm(data_dir: Path) -> None:
    """Load what searches read into shared buffers, as a server that has been running a while has it
    (a fresh start has none, and 40 requests fill too little of them to compare buffer sizes)."""
    socket_dir = (data_dir / "pg" / "postmaster.pid").read_text().splitlines()[4]
    conn = await asyncpg.connect(host=socket_dir, user="postgres", database=DATABASE_NAME)
    try:
        started = time.perf_counter()
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        for relation in PREWARMED:
            # to_regclass: a build that lacks an index (an older checkout) skips it.
            await conn.execute(
                "SELECT pg_prewarm(to_regclass($1)) WHERE to_regclass($1) IS NOT NULL", relation
            )
        buffers = await conn.fetchval("SHOW shared_buffers")
        print(
            f"prewarmed {len(PREWARMED)} relations in {time.perf_counter() - started:.1f} s (shared_buffers {buffers})"
        )
    finally:
        await conn.close()


async def bench(args: argparse.Namespace, found: dict[str, Any]) -> None:
    base = f"http://127.0.0.1:{args.port}"
    await wait_ready(base, within_seconds=300)
    if args.prewarm:
        await prewarm(args.data_dir.resolve())
    url = f"{base}/graphql"
    async with httpx.AsyncClient(timeout=60) as http:
        print(f"| {args.data_dir.name}: scenario | median ms | p95 ms |")
        print("|---|---|---|")
        for name, make_body in scenarios(found).items():
            if args.only not in name:
                continue
            result = await measure(http, url, make_body, args.requests)
            if result is None:
                print(f"| {name} | n/a | n/a |")
            else:
                print(f"| {name} | {result['median']:.1f} | {result['p95']:.1f} |")
        if args.relevance:
            hits, total, misses = await relevance_hit_rate(http, url)
            print(f"\nrelevance set: {hits}/{total} expected first ({100 * hits / total:.0f} %)")
            for miss in misses:
                print(f"  miss: {miss}")


def start_server_from(checkout: Path, data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    """`start_server`, but importing the project from `checkout` (its modules shadow the installed ones)."""
    command = [
        sys.executable,
        "-m",
        "gql.cli",
        "serve",
        "--no-demo",
        "--data-dir",
        str(data_dir),
        "--port",
        str(port),
    ]
    env = {
        "OMT_ENV": "production",
        "OMT_LOG_LEVEL": "WARNING",
        "OMT_RATE_LIMIT_PER_MINUTE": "100000000",
        "OMT_DB_POOL_SIZE": "10",
        "PYTHONPATH": str(checkout.resolve()),
    }
    return subprocess.Popen(command, env={**os.environ, **env}, cwd=checkout)  # noqa: S603 - our own CLI


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=Path(".data/bench"))
    parser.add_argument("--port", type=int, default=18510)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--relevance", action="store_true")
    parser.add_argument(
        "--prewarm",
        action="store_true",
        help="load the catalog's heap and search indexes into shared buffers first",
    )
    parser.add_argument("--only", default="", help="measure only the scenarios whose name contains this")
    parser.add_argument(
        "--server-checkout", type=Path, help="serve from this checkout instead (an older build, side by side)"
    )
    args = parser.parse_args()
    cluster = EmbeddedCluster(args.data_dir.resolve(), allow_root=True)
    cluster.start()
    try:
        found = asyncio.run(samples(cluster.socket_dir))
        if args.relevance:
            asyncio.run(add_demo_catalog(cluster))
    finally:
        cluster.stop()
    server = (
        start_server(args.data_dir, args.port)
        if args.server_checkout is None
        else start_server_from(args.server_checkout, args.data_dir.resolve(), args.port)
    )
    try:
        asyncio.run(bench(args, found))
    finally:
        server.terminate()
        server.wait(timeout=60)


if __name__ == "__main__":
    main()
