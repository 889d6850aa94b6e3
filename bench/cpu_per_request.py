"""CPU milliseconds per request of our server, per query, and the statements and round trips each costs.

    .venv/bin/python -m bench.cpu_per_request                      # 6 queries, 3 rounds of 200 requests
    .venv/bin/python -m bench.cpu_per_request --queries lists,traversal --requests 300 --rounds 4
    .venv/bin/python -m bench.cpu_per_request --baseline ../other-checkout   # the same, side by side

Uses the bench catalog and bench users of bench/side_by_side.py (built or reused in --data-dir) and
its queries. Starts `omnimediatrak serve` with one worker process (production mode, the rate limit
off, warnings-only log), sends the requests one after another (c=1), and reads the CPU time of the
server's processes before and after each round: CPU ms per request, which the machine's load
barely moves, unlike req/s. With --baseline, a second server runs the code of another checkout of
this repository on the same database, and the rounds alternate between the two: the ratio is the
figure to trust on a shared machine. Then a development-mode server (which reports `extensions.db`
on every response) gives the statements and round trips to PostgreSQL of each query.
"""

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil  # type: ignore[import-untyped]

from bench.side_by_side import (
    QUERIES,
    Fixture,
    Server,
    body_and_headers,
    cpu_since,
    process_tree_cpu,
    seed,
    wait_ready,
)
from db.cluster import DATABASE_NAME, EmbeddedCluster
from db.migrate import upgrade

WARMUP_REQUESTS = 50
COUNTED_REQUESTS = 20


def start_server(tree: Path, database_url: str, port: int, environment: str) -> Server:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "OMT_ENV": environment,
        "OMT_LOG_LEVEL": "WARNING",
        "OMT_RATE_LIMIT_PER_MINUTE": "0",
        "OMT_WORKERS": "1",
    }
    command = [
        sys.executable,
        "-m",
        "gql.cli",
        "serve",
        "--no-demo",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    # `-m` puts the working directory first on sys.path: the server runs that checkout's code.
    process = subprocess.Popen(command, env=env, cwd=tree)  # noqa: S603 - our own CLI
    return Server(str(tree), f"http://127.0.0.1:{port}/graphql", process)


def send(
    http: httpx.Client, server: Server, key: str, fixture: Fixture, rng: random.Random
) -> dict[str, object]:
    query = QUERIES[key]
    body, headers = body_and_headers(query, query.variables(rng, fixture), fixture, True)
    response = http.post(server.url, json=body, headers=headers)
    payload: dict[str, object] = response.json()
    if response.status_code != 200 or payload.get("errors") or payload.get("data") is None:
        raise SystemExit(f"{server.name}, {query.name}: {response.status_code} {payload}")
    return payload


@dataclass
class Tally:
    requests: int = 0
    cpu_seconds: float = 0.0

    def ms(self) -> float:
        return 1000 * self.cpu_seconds / self.requests if self.requests else float("nan")


def measure_round(server: Server, key: str, fixture: Fixture, requests: int, seed_text: str) -> float:
    rng = random.Random(seed_text)
    root = psutil.Process(server.process.pid)
    with httpx.Client(timeout=60) as http:
        before = process_tree_cpu(root)
        for _ in range(requests):
            send(http, server, key, fixture, rng)
        return cpu_since(before, process_tree_cpu(root))


def counts(server: Server, key: str, fixture: Fixture) -> tuple[list[int], list[int]]:
    rng = random.Random(f"counts {key}")
    statements, trips = set(), set()
    with httpx.Client(timeout=60) as http:
        for _ in range(COUNTED_REQUESTS):
            extensions = send(http, server, key, fixture, rng).get("extensions")
            assert isinstance(extensions, dict), "a development-mode server reports extensions.db"
            statements.add(extensions["db"]["queries"])
            trips.add(extensions["db"]["roundTrips"])
    return sorted(statements), sorted(trips)


def run(args: argparse.Namespace) -> None:
    data_dir: Path = args.data_dir.resolve()
    if not (data_dir / "samples.json").exists():
        subprocess.run(  # noqa: S603 - our own generator
            [sys.executable, "-m", "bench.generate", "--data-dir", str(data_dir)], check=True
        )
    this_tree = Path(__file__).resolve().parent.parent
    trees = {"this checkout": this_tree}
    if args.baseline:
        trees = {"baseline": args.baseline.resolve(), **trees}
    chosen = [key.strip() for key in args.queries.split(",")]
    cluster = EmbeddedCluster(data_dir, allow_root=True)
    cluster.start()
    servers: dict[str, Server] = {}
    try:
        cluster.ensure_database(DATABASE_NAME)
        upgrade(cluster.url(DATABASE_NAME))
        fixture = asyncio.run(seed(cluster.socket_dir, json.loads((data_dir / "samples.json").read_text())))
        for offset, (label, tree) in enumerate(trees.items()):
            servers[label] = start_server(tree, cluster.url(DATABASE_NAME), args.port + offset, "production")
        for server in servers.values():
            wait_ready(server)
        tallies = {(label, key): Tally() for label in servers for key in chosen}
        for key in chosen:
            for server in servers.values():
                measure_round(server, key, fixture, WARMUP_REQUESTS, f"warm-up {key}")
            for round_number in range(args.rounds):
                labels = list(servers) if round_number % 2 == 0 else list(reversed(servers))
                for label in labels:
                    seconds = measure_round(
                        servers[label], key, fixture, args.requests, f"{key} {round_number}"
                    )
                    tally = tallies[label, key]
                    tally.requests += args.requests
                    tally.cpu_seconds += seconds
                    print(
                        f"{QUERIES[key].name}, round {round_number + 1}, {label}: "
                        f"{1000 * seconds / args.requests:.2f} CPU ms/request",
                        flush=True,
                    )
        for server in servers.values():
            server.stop()
        servers = {}
        statements = {}
        for label, tree in trees.items():
            server = start_server(tree, cluster.url(DATABASE_NAME), args.port + 10, "development")
            servers[label] = server
            wait_ready(server)
            for key in chosen:
                statements[label, key] = counts(server, key, fixture)
            server.stop()
            del servers[label]
        print(f"\nload average after the run: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        print(
            f"{args.rounds} rounds x {args.requests} requests per query and server, c=1, one worker process\n"
        )
        header = "| query | " + " | ".join(f"{label} CPU ms/req" for label in trees)
        header += " | ratio |" if args.baseline else " |"
        header += " statements | round trips |"
        print(header)
        print("|---" * (header.count("|") - 1) + "|")
        for key in chosen:
            cells = [f"{tallies[label, key].ms():.2f}" for label in trees]
            if args.baseline:
                cells.append(f"{tallies['this checkout', key].ms() / tallies['baseline', key].ms():.2f}")
            mine = statements["this checkout", key]
            cells += ["/".join(map(str, mine[0])), "/".join(map(str, mine[1]))]
            print(f"| {QUERIES[key].name} | " + " | ".join(cells) + " |")
        if args.baseline:
            for key in chosen:
                if statements["baseline", key] != statements["this checkout", key]:
                    print(f"statements/round trips differ for {key}: baseline {statements['baseline', key]}")
    finally:
        for server in servers.values():
            server.stop()
        cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=Path(".data/bench"))
    parser.add_argument(
        "--port", type=int, default=18300, help="this checkout; a baseline gets the next port"
    )
    parser.add_argument("--requests", type=int, default=200, help="requests per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per server, alternating")
    parser.add_argument("--queries", default=",".join(QUERIES), help=f"any of {','.join(QUERIES)}")
    parser.add_argument("--baseline", type=Path, help="another checkout of this repository to compare with")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
