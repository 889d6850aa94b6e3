"""Measure requests/second and p50/p99 latency on loopback against a generated catalog.

    .venv/bin/python -m bench.load --data-dir .data/bench --seconds 20 --concurrency 8

Starts `omnimediatrak serve` (production mode, its default worker processes) on the bench data dir in a
subprocess, then runs each scenario with a fixed number of concurrent clients.
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
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bench.generate import ADJECTIVES, NOUNS
from gql.relay import to_global_id

SEARCH = """query($q: String!) { searchMedia(filter: {search: $q}, first: 20) {
  totalCount edges { node { id title mediaType releaseDate } } } }"""
TRAVERSAL = """query($id: ID!) { media(id: $id) { title relations { node { title
  externalLinks { sourceName } relations { node { title relations { node { title } } } } } } } }"""
GRAPH = """query($id: ID!) { media(id: $id) { graph(depth: 3) {
  nodes { id title mediaType releaseDate } edges { from to relationType } } } }"""


def scenarios(samples: dict[str, Any]) -> dict[str, Callable[[random.Random], dict[str, Any]]]:
    roots = [to_global_id("Media", uuid.UUID(root)) for root in samples["roots"]]
    return {
        "search page of 20, two-word title query": lambda rng: {
            "query": SEARCH,
            "variables": {"q": f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}"},
        },
        "search page of 20, one common word (~4% of the catalog)": lambda rng: {
            "query": SEARCH,
            "variables": {"q": rng.choice(NOUNS)},
        },
        "depth-3 traversal": lambda rng: {"query": TRAVERSAL, "variables": {"id": rng.choice(roots)}},
        "graph(depth: 3)": lambda rng: {"query": GRAPH, "variables": {"id": rng.choice(roots)}},
    }


async def run(
    url: str, make_body: Callable[[random.Random], dict[str, Any]], seconds: float, concurrency: int
) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def client(n: int) -> None:
        nonlocal errors
        rng = random.Random(n)
        async with httpx.AsyncClient(timeout=30) as http:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await http.post(url, json=make_body(rng))
                elapsed = time.perf_counter() - started
                if response.status_code != 200 or response.json().get("errors"):
                    errors += 1
                else:
                    latencies.append(elapsed)

    started = time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(concurrency)))
    wall = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / wall,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))],
    }


def start_server(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = dict(
        os.environ,
        OMT_ENV="production",
        OMT_LOG_LEVEL="WARNING",
        OMT_RATE_LIMIT_PER_MINUTE="100000000",
        OMT_DB_POOL_SIZE="10",
    )
    command = [sys.executable, "-m", "gql.cli", "serve", "--no-demo", "--data-dir", str(data_dir)]
    return subprocess.Popen([*command, "--port", str(port)], env=env)  # noqa: S603 - our own CLI


async def wait_ready(base: str, within_seconds: float = 60) -> None:
    deadline = time.perf_counter() + within_seconds
    async with httpx.AsyncClient() as http:
        while time.perf_counter() < deadline:
            try:
                if (await http.get(f"{base}/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.5)
    raise RuntimeError("server did not become ready")


async def bench(args: argparse.Namespace) -> None:
    samples = json.loads((args.data_dir / "samples.json").read_text())
    base = f"http://127.0.0.1:{args.port}"
    await wait_ready(base)
    print("| scenario | concurrency | requests | req/s | p50 ms | p99 ms | errors |")
    print("|---|---|---|---|---|---|---|")
    for name, make_body in scenarios(samples).items():
        await run(f"{base}/graphql", make_body, args.warmup, args.concurrency)
        result = await run(f"{base}/graphql", make_body, args.seconds, args.concurrency)
        print(
            f"| {name} | {args.concurrency} | {result['requests']:.0f} | {result['rps']:.1f} | "
            f"{result['p50_ms']:.1f} | {result['p99_ms']:.1f} | {result['errors']:.0f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=Path(".data/bench"))
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    server = start_server(args.data_dir, args.port)
    try:
        asyncio.run(bench(args))
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
