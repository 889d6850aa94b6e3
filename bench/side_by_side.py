"""Our server and PostGraphile 4.14.1 side by side on the bench catalog, in one run.

    .venv/bin/python -m bench.side_by_side            # everything: catalog, tools, check, rounds
    .venv/bin/python -m bench.side_by_side --seconds 5 --rounds 1 --queries point,traversal

1. Builds the bench catalog with bench/generate.py unless the data dir has one, then (re)creates
   the bench users: each with 200 tracking entries and 5 static lists of 20 items, and a session.
2. Installs PostGraphile and autocannon from npm into bench/.tools (ignored by git; benchmark tools,
   not dependencies of the product).
3. Starts both servers on the same database of the embedded cluster: ours as `omnimediatrak serve`
   with its defaults (one worker per core; production mode, warnings-only log and the rate limit off
   so neither measures what the other does not do), PostGraphile as its CLI with its defaults (one
   Node process, query log off) connected as a read-only role (bench/postgraphile.sql).
4. Sends each query's sample requests to both and checks that they return the same rows.
5. Alternates rounds of both servers for every query at concurrency 1 and 8 (autocannon, one
   connection per client) and prints req/s, p50, p99, errors, and CPU ms per request of each
   server's processes and of the PostgreSQL backends, with the ratio of req/s ours / PostGraphile
   and the CPU ratio: PostGraphile's CPU per request (its process plus PostgreSQL) over ours, which
   other jobs on a shared machine disturb less than req/s.
"""

import argparse
import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import psutil  # type: ignore[import-untyped]

from bench.generate import ADJECTIVES, NOUNS
from db.accounts import hash_secret
from db.cluster import DATABASE_NAME, EmbeddedCluster
from db.media_search import COUNT_BOUND, SEARCH_COUNT_BOUND
from db.migrate import upgrade
from db.models import TRACKING_STATUSES
from gql.relay import from_global_id, to_global_id

BENCH_DIR = Path(__file__).resolve().parent
TOOLS_DIR = BENCH_DIR / ".tools"
NPM_PACKAGES = ("postgraphile@4.14.1", "autocannon@8.0.0")
JWT_SECRET = "side-by-side-benchmark-only"
USERS = 20
ENTRIES_PER_USER = 200
LISTS_PER_USER = 5
ITEMS_PER_LIST = 20
VARIANTS = 200
CHECKED_VARIANTS = 25
MEDIA_TYPES = ("book", "comic", "manga", "anime", "film", "series", "game", "podcast", "audiobook", "music")


# ---------------------------------------------------------------------------------------------
# The queries: ours and PostGraphile's, and how to compare their answers.


@dataclass
class Fixture:
    media_ids: list[uuid.UUID]
    roots: list[uuid.UUID]
    searches: list[str]
    user_ids: list[uuid.UUID]
    sessions: list[str]
    jwts: list[str] = field(default_factory=list)


@dataclass
class Request:
    ours: dict[str, Any]
    theirs: dict[str, Any]
    user: int | None = None


@dataclass
class Query:
    name: str
    ours: str
    theirs: str
    variables: Callable[[random.Random, Fixture], Request]
    normalize_ours: Callable[[dict[str, Any]], Any]
    normalize_theirs: Callable[[dict[str, Any]], Any]


def _gid(media_id: uuid.UUID) -> str:
    return str(to_global_id("Media", media_id))


def _uuid(global_id: str) -> str:
    decoded = from_global_id(global_id, "Media")
    assert decoded is not None
    return str(decoded[1])


def _point(data: dict[str, Any], key: str) -> Any:
    item = data[key]
    return item and {**item, "mediaType": item["mediaType"].lower()}


POINT = Query(
    "point lookup, 5 fields",
    "query($id: ID!) { media(id: $id) { title mediaType releaseDate creators collectionPath } }",
    "query($id: UUID!) { mediaById(id: $id) { title mediaType releaseDate creators collectionPath } }",
    lambda rng, f: (lambda m: Request({"id": _gid(m)}, {"id": str(m)}))(rng.choice(f.media_ids)),
    lambda data: _point(data, "media"),
    lambda data: _point(data, "mediaById"),
)

OURS_TRAVERSAL = """query($id: ID!) { media(id: $id) { title relations { node { title
  externalLinks { sourceName } relations { node { title relations { node { title } } } } } } } }"""
THEIRS_TRAVERSAL = """query($id: UUID!) { mediaById(id: $id) { title ...L1 } }
fragment L1 on Media {
  out: relationshipsByMediaId { nodes { node: mediaByRelatedMediaId { title ...L2
    externalLinksByMediaId { nodes { sourceName } } } } }
  in: relationshipsByRelatedMediaId { nodes { node: mediaByMediaId { title ...L2
    externalLinksByMediaId { nodes { sourceName } } } } } }
fragment L2 on Media {
  out: relationshipsByMediaId { nodes { node: mediaByRelatedMediaId { title ...L3 } } }
  in: relationshipsByRelatedMediaId { nodes { node: mediaByMediaId { title ...L3 } } } }
fragment L3 on Media {
  out: relationshipsByMediaId { nodes { node: mediaByRelatedMediaId { title } } }
  in: relationshipsByRelatedMediaId { nodes { node: mediaByMediaId { title } } } }"""


def _tree(node: dict[str, Any], children: Callable[[dict[str, Any]], list[dict[str, Any]]]) -> Any:
    """A node as (title, links, sorted subtrees): the same graph whatever order each side lists it in."""
    links = node.get("externalLinks") or (node.get("externalLinksByMediaId") or {}).get("nodes")
    subtrees = sorted(json.dumps(_tree(child, children), sort_keys=True) for child in children(node))
    return [node["title"], sorted(link["sourceName"] for link in links or []), subtrees]


def _our_children(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [relation["node"] for relation in node.get("relations") or []]


def _their_children(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [edge["node"] for side in ("out", "in") if side in node for edge in node[side]["nodes"]]


TRAVERSAL = Query(
    "depth-3 relations traversal, both directions",
    OURS_TRAVERSAL,
    THEIRS_TRAVERSAL,
    lambda rng, f: (lambda m: Request({"id": _gid(m)}, {"id": str(m)}))(rng.choice(f.roots)),
    lambda data: _tree(data["media"], _our_children),
    lambda data: _tree(data["mediaById"], _their_children),
)

LISTS = Query(
    "a user's 5 lists x 20 items",
    "{ viewer { lists(first: 5) { edges { node { name items(first: 20) { edges { node { title } } } } } } } }",
    """{ viewer { userListsByUserId(first: 5, orderBy: [CREATED_AT_ASC, ID_ASC]) { nodes { name
  listItemsByListId(first: 20, orderBy: [POSITION_ASC, MEDIA_ID_ASC]) { nodes { mediaByMediaId { title } } } } } } }""",
    lambda rng, f: Request({}, {}, rng.randrange(len(f.user_ids))),
    lambda data: [
        [edge["node"]["name"], [item["node"]["title"] for item in edge["node"]["items"]["edges"]]]
        for edge in data["viewer"]["lists"]["edges"]
    ],
    lambda data: [
        [node["name"], [item["mediaByMediaId"]["title"] for item in node["listItemsByListId"]["nodes"]]]
        for node in data["viewer"]["userListsByUserId"]["nodes"]
    ],
)


def _bounded_count(count: int, exact: bool) -> str:
    """Our totalCount is exact up to COUNT_BOUND and says so (totalCountIsExact); PostGraphile's always is."""
    return str(count) if exact else f"at least {count}"


CATALOG = Query(
    "catalog page of one type by title + totalCount",
    """query($types: [MediaType!]) { searchMedia(filter: {mediaTypes: $types}, sort: [{field: TITLE}], first: 20) {
  totalCount totalCountIsExact edges { node { id title releaseDate } } } }""",
    """query($type: String!) { allMedia(condition: {mediaType: $type}, orderBy: [TITLE_ASC, ID_ASC], first: 20) {
  totalCount nodes { id title releaseDate } } }""",
    lambda rng, f: (lambda t: Request({"types": [t.upper()]}, {"type": t}))(rng.choice(MEDIA_TYPES)),
    lambda data: [
        _bounded_count(data["searchMedia"]["totalCount"], data["searchMedia"]["totalCountIsExact"]),
        [
            [_uuid(e["node"]["id"]), e["node"]["title"], e["node"]["releaseDate"]]
            for e in data["searchMedia"]["edges"]
        ],
    ],
    lambda data: [
        _bounded_count(
            min(data["allMedia"]["totalCount"], COUNT_BOUND), data["allMedia"]["totalCount"] < COUNT_BOUND
        ),
        [[n["id"], n["title"], n["releaseDate"]] for n in data["allMedia"]["nodes"]],
    ],
)

SEARCH = Query(
    "search page of 20, two words + totalCount",
    """query($q: String!) { searchMedia(filter: {search: $q}, first: 20) {
  totalCount totalCountIsExact edges { node { id title mediaType releaseDate } } } }""",
    """query($q: String!) { searchMedia(q: $q, first: 20) {
  totalCount nodes { id title mediaType releaseDate } } }""",
    lambda rng, f: (lambda q: Request({"q": q}, {"q": q}))(rng.choice(f.searches)),
    lambda data: [
        _bounded_count(data["searchMedia"]["totalCount"], data["searchMedia"]["totalCountIsExact"]),
        [
            [
                _uuid(e["node"]["id"]),
                e["node"]["title"],
                e["node"]["mediaType"].lower(),
                e["node"]["releaseDate"],
            ]
            for e in data["searchMedia"]["edges"]
        ],
    ],
    lambda data: [
        _bounded_count(
            min(data["searchMedia"]["totalCount"], SEARCH_COUNT_BOUND),
            data["searchMedia"]["totalCount"] < SEARCH_COUNT_BOUND,
        ),
        [[n["id"], n["title"], n["mediaType"], n["releaseDate"]] for n in data["searchMedia"]["nodes"]],
    ],
)

LIBRARY = Query(
    "the viewer's library page of 20 + totalCount",
    """{ viewer { library(first: 20) { totalCount edges { node { status progress rating
  media { title mediaType } } } } } }""",
    """{ viewer { libraryEntriesByUserId(first: 20, orderBy: [UPDATED_AT_DESC, MEDIA_ID_ASC]) { totalCount nodes {
  status progress rating mediaByMediaId { title mediaType } } } } }""",
    lambda rng, f: Request({}, {}, rng.randrange(len(f.user_ids))),
    lambda data: [
        data["viewer"]["library"]["totalCount"],
        [
            [
                e["node"]["status"].lower().replace("_", "-"),
                e["node"]["progress"],
                e["node"]["rating"],
                e["node"]["media"]["title"],
                e["node"]["media"]["mediaType"].lower(),
            ]
            for e in data["viewer"]["library"]["edges"]
        ],
    ],
    lambda data: [
        data["viewer"]["libraryEntriesByUserId"]["totalCount"],
        [
            [
                n["status"],
                n["progress"],
                n["rating"],
                n["mediaByMediaId"]["title"],
                n["mediaByMediaId"]["mediaType"],
            ]
            for n in data["viewer"]["libraryEntriesByUserId"]["nodes"]
        ],
    ],
)

QUERIES = {
    "point": POINT,
    "traversal": TRAVERSAL,
    "lists": LISTS,
    "catalog": CATALOG,
    "search": SEARCH,
    "library": LIBRARY,
}


# ---------------------------------------------------------------------------------------------
# Data: the catalog, the bench users, the tokens.


def jwt_for(user_id: uuid.UUID) -> str:
    def part(value: dict[str, Any]) -> bytes:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=")

    signing_input = (
        part({"alg": "HS256", "typ": "JWT"})
        + b"."
        + part({"user_id": str(user_id), "aud": "postgraphile", "exp": int(time.time()) + 86_400})
    )
    signature = hmac.new(JWT_SECRET.encode(), signing_input, hashlib.sha256).digest()
    return (signing_input + b"." + base64.urlsafe_b64encode(signature).rstrip(b"=")).decode()


async def seed(socket_dir: str, samples: dict[str, Any]) -> Fixture:
    """(Re)creates the bench users, their tracking entries, lists and sessions; deterministic."""
    rng = random.Random(11)
    conn = await asyncpg.connect(host=socket_dir, user="postgres", database=DATABASE_NAME)
    try:
        await conn.execute((BENCH_DIR / "postgraphile.sql").read_text())
        all_ids = sorted(row["id"] for row in await conn.fetch("SELECT id FROM media.media"))
        user_ids = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(USERS)]
        sessions = [f"bench-session-{n}-{user_id.hex}" for n, user_id in enumerate(user_ids)]
        now = dt.datetime.now(dt.UTC)
        async with conn.transaction():
            await conn.execute("DELETE FROM users.users WHERE username LIKE 'bench-user-%'")
            await conn.executemany(
                "INSERT INTO users.users (id, email, username, password_hash) VALUES ($1, $2, $3, '!')",
                [(u, f"bench-user-{n}@example.com", f"bench-user-{n}") for n, u in enumerate(user_ids)],
            )
            await conn.executemany(
                "INSERT INTO auth.sessions (user_id, token_hash, expires_at) VALUES ($1, $2, $3)",
                [
                    (u, hash_secret(s), now + dt.timedelta(days=30))
                    for u, s in zip(user_ids, sessions, strict=True)
                ],
            )
            entries, lists, items = [], [], []
            for user_id in user_ids:
                for n, media_id in enumerate(rng.sample(all_ids, ENTRIES_PER_USER)):
                    rating = rng.choice([None, *range(1, 11)])
                    updated = now - dt.timedelta(minutes=n * 7 + rng.randrange(5))
                    entries.append(
                        (user_id, media_id, rng.choice(TRACKING_STATUSES), rng.randrange(40), rating, updated)
                    )
                for n in range(LISTS_PER_USER):
                    list_id = uuid.UUID(int=rng.getrandbits(128), version=4)
                    created = now - dt.timedelta(hours=LISTS_PER_USER - n)
                    lists.append((list_id, user_id, f"List {n + 1}", rng.random() < 0.5, created))
                    for position, media_id in enumerate(rng.sample(all_ids, ITEMS_PER_LIST)):
                        items.append((list_id, media_id, position * 1024))
            await conn.executemany(
                "INSERT INTO interaction.user_media (user_id, media_id, status, progress, rating, updated_at)"
                " VALUES ($1, $2, $3, $4, $5, $6)",
                entries,
            )
            await conn.executemany(
                "INSERT INTO interaction.user_lists (id, user_id, name, is_public, list_type, created_at)"
                " VALUES ($1, $2, $3, $4, 'static', $5)",
                lists,
            )
            await conn.executemany(
                "INSERT INTO interaction.list_items (list_id, media_id, position) VALUES ($1, $2, $3)", items
            )
        await conn.execute("ANALYZE interaction.user_media, interaction.user_lists, interaction.list_items")
        candidates = [f"{adjective} {noun}" for adjective in ADJECTIVES for noun in NOUNS]
        matching = await conn.fetchval(
            "SELECT array_agg(q) FROM unnest($1::text[]) AS q WHERE EXISTS (SELECT FROM media.media"
            " WHERE search_vector @@ (websearch_to_tsquery('simple'::regconfig, q)"
            " || websearch_to_tsquery('english'::regconfig, q)))",
            rng.sample(candidates, 200),
        )
    finally:
        await conn.close()
    return Fixture(
        media_ids=rng.sample(all_ids, 2000),
        roots=[uuid.UUID(root) for root in samples["roots"]],
        searches=list(matching),
        user_ids=user_ids,
        sessions=sessions,
        jwts=[jwt_for(user_id) for user_id in user_ids],
    )


# ---------------------------------------------------------------------------------------------
# Processes: the tools, the servers, CPU accounting.


def install_tools() -> None:
    node_modules = TOOLS_DIR / "node_modules"
    wanted = {spec.rsplit("@", 1)[0]: spec.rsplit("@", 1)[1] for spec in NPM_PACKAGES}
    installed = {}
    for name in wanted:
        manifest = node_modules / name / "package.json"
        if manifest.exists():
            installed[name] = json.loads(manifest.read_text())["version"]
    if installed == wanted:
        return
    TOOLS_DIR.mkdir(exist_ok=True)
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("npm (Node.js >= 18) is needed to install PostGraphile and autocannon")
    print(f"installing {', '.join(NPM_PACKAGES)} into {TOOLS_DIR}", flush=True)
    subprocess.run(  # noqa: S603 - fixed arguments
        [npm, "install", "--no-audit", "--no-fund", "--prefix", str(TOOLS_DIR), *NPM_PACKAGES], check=True
    )


def process_tree_cpu(root: psutil.Process) -> dict[int, float]:
    """CPU seconds (user + system) of a process and its descendants, by pid."""
    cpu = {}
    for process in [root, *root.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        cpu[process.pid] = times.user + times.system
    return cpu


def cpu_since(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_ours(database_url: str, port: int, workers: int | None = None) -> Server:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "OMT_ENV": "production",
        "OMT_LOG_LEVEL": "WARNING",
        "OMT_RATE_LIMIT_PER_MINUTE": "0",
    }
    env.pop("OMT_WORKERS", None)
    if workers:
        env["OMT_WORKERS"] = str(workers)
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
    process = subprocess.Popen(command, env=env)  # noqa: S603 - our own CLI
    return Server("ours", f"http://127.0.0.1:{port}/graphql", process)


def start_postgraphile(socket_dir: str, port: int) -> Server:
    node = shutil.which("node")
    if node is None:
        raise SystemExit("node (Node.js >= 18) is needed to run PostGraphile")
    command = [
        node,
        str(TOOLS_DIR / "node_modules" / "postgraphile" / "cli.js"),
        "--connection",
        f"postgres://omt_bench_reader@/{DATABASE_NAME}?host={socket_dir}",
        "--schema",
        "media,users,interaction,omt_pg_bench",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--jwt-secret",
        JWT_SECRET,
        "--disable-query-log",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)  # noqa: S603 - fixed arguments
    return Server("PostGraphile", f"http://127.0.0.1:{port}/graphql", process)


def wait_ready(server: Server, within_seconds: float = 90) -> None:
    deadline = time.monotonic() + within_seconds
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise SystemExit(f"{server.name} exited with {server.process.returncode}")
        try:
            response = httpx.post(server.url, json={"query": "{ __typename }"}, timeout=5)
            if response.status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{server.name} did not become ready")


# ---------------------------------------------------------------------------------------------
# Checking and measuring.


def body_and_headers(
    query: Query, request: Request, fixture: Fixture, ours: bool
) -> tuple[dict[str, Any], dict[str, str]]:
    headers = {}
    if request.user is not None:
        token = fixture.sessions[request.user] if ours else fixture.jwts[request.user]
        headers["authorization"] = f"Bearer {token}"
    variables = request.ours if ours else request.theirs
    return {"query": query.ours if ours else query.theirs, "variables": variables}, headers


class RowsDiffer(Exception):
    pass


def check_same_rows(query: Query, fixture: Fixture, ours: Server, theirs: Server) -> int:
    """Sends CHECKED_VARIANTS requests to both; raises on the first difference; returns rows compared."""
    rng = random.Random(f"check {query.name}")
    compared = 0
    with httpx.Client(timeout=60) as http:
        for _ in range(CHECKED_VARIANTS):
            request = query.variables(rng, fixture)
            answers = []
            for server, normalize in ((ours, query.normalize_ours), (theirs, query.normalize_theirs)):
                body, headers = body_and_headers(query, request, fixture, server is ours)
                response = http.post(server.url, json=body, headers=headers)
                payload = response.json()
                if response.status_code != 200 or payload.get("errors") or payload.get("data") is None:
                    raise SystemExit(f"{server.name}, {query.name}: {response.status_code} {payload}")
                answers.append(normalize(payload["data"]))
            if answers[0] != answers[1] or not answers[0]:
                raise RowsDiffer(
                    f"{query.name}: the servers disagree for {request}:\n ours {answers[0]}\n theirs {answers[1]}"
                )
            compared += len(json.dumps(answers[0]))
    return compared


@dataclass
class Measured:
    seconds: float = 0.0
    requests: int = 0
    errors: int = 0
    server_cpu: float = 0.0
    postgres_cpu: float = 0.0
    latencies: list[float] = field(default_factory=list)
    first_error: str | None = None

    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")

    def cpu_ms(self, seconds: float) -> float:
        return 1000 * seconds / self.requests if self.requests else float("nan")


def write_requests(query: Query, fixture: Fixture, ours: bool, directory: Path) -> Path:
    rng = random.Random(f"load {query.name}")
    prepared = []
    for _ in range(VARIANTS):
        body, headers = body_and_headers(query, query.variables(rng, fixture), fixture, ours)
        prepared.append({"body": json.dumps(body), "headers": headers})
    path = directory / f"{'ours' if ours else 'theirs'}-{query.name[:20].replace(' ', '_')}.json"
    path.write_text(json.dumps(prepared))
    return path


def load_round(
    server: Server, requests_file: Path, connections: int, seconds: float, postmaster: psutil.Process
) -> dict[str, Any]:
    node = shutil.which("node") or "node"
    root = psutil.Process(server.process.pid)
    server_before, postgres_before = process_tree_cpu(root), process_tree_cpu(postmaster)
    command = [node, str(BENCH_DIR / "autocannon_run.js"), str(TOOLS_DIR), server.url, str(requests_file)]
    completed = subprocess.run(  # noqa: S603 - fixed arguments
        [*command, str(connections), str(seconds)], check=True, capture_output=True, text=True
    )
    result: dict[str, Any] = json.loads(completed.stdout)
    result["server_cpu"] = cpu_since(server_before, process_tree_cpu(root))
    result["postgres_cpu"] = cpu_since(postgres_before, process_tree_cpu(postmaster))
    return result


def add_round(total: Measured, result: dict[str, Any]) -> None:
    total.seconds += result["seconds"]
    total.requests += len(result["latencies"])
    total.errors += result["errors"]
    total.first_error = total.first_error or result["firstError"]
    total.latencies += result["latencies"]
    total.server_cpu += result["server_cpu"]
    total.postgres_cpu += result["postgres_cpu"]


TARGETS = {
    # (query key, concurrency): least req/s ratio ours / PostGraphile, from issue #11.
    ("traversal", 8): 0.5,
    ("traversal", 1): 0.35,
    ("lists", 8): 0.5,
    ("lists", 1): 0.35,
    ("point", 8): 0.3,
    ("catalog", 8): 0.3,
}


def report(rows: list[tuple[str, str, int, Measured, Measured]]) -> None:
    print()
    print(
        "| query | c | ours req/s | PG req/s | ratio | target | ours p50 / p99 ms | PG p50 / p99 ms "
        "| ours p99/p50 | errors ours / PG | ours CPU ms/req | PG CPU ms/req | PostgreSQL CPU ms/req (ours / PG) "
        "| CPU ratio |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for key, name, concurrency, ours, theirs in rows:
        ratio = ours.rps() / theirs.rps() if theirs.rps() else float("nan")
        target = TARGETS.get((key, concurrency))
        verdict = "" if target is None else f"≥ {target} {'met' if ratio >= target else 'NOT met'}"
        p50, p99 = ours.percentile(0.5), ours.percentile(0.99)
        spread = (
            f"{p99 / p50:.1f}" + (" (≤ 3 met)" if p99 <= 3 * p50 else " (≤ 3 NOT met)")
            if concurrency == 1
            else f"{p99 / p50:.1f}"
        )
        print(
            f"| {name} | {concurrency} | {ours.rps():.1f} | {theirs.rps():.1f} | **{ratio:.2f}** | {verdict} "
            f"| {p50:.1f} / {p99:.1f} | {theirs.percentile(0.5):.1f} / {theirs.percentile(0.99):.1f} | {spread} "
            f"| {ours.errors} / {theirs.errors} | {ours.cpu_ms(ours.server_cpu):.2f} | {theirs.cpu_ms(theirs.server_cpu):.2f} "
            f"| {ours.cpu_ms(ours.postgres_cpu):.2f} / {theirs.cpu_ms(theirs.postgres_cpu):.2f} "
            f"| {theirs.cpu_ms(theirs.server_cpu + theirs.postgres_cpu) / ours.cpu_ms(ours.server_cpu + ours.postgres_cpu):.2f} |"
        )
    for _key, name, concurrency, ours, theirs in rows:
        for side, measured in (("ours", ours), ("PostGraphile", theirs)):
            if measured.first_error:
                print(f"first error, {side}, {name}, c={concurrency}: {measured.first_error}")


def run(args: argparse.Namespace) -> None:
    data_dir: Path = args.data_dir
    if not (data_dir / "samples.json").exists():
        subprocess.run(  # noqa: S603 - our own generator
            [sys.executable, "-m", "bench.generate", "--data-dir", str(data_dir)], check=True
        )
    install_tools()
    cluster = EmbeddedCluster(data_dir.resolve(), allow_root=True)
    cluster.start()
    servers: list[Server] = []
    try:
        cluster.ensure_database(DATABASE_NAME)
        upgrade(cluster.url(DATABASE_NAME))
        samples = json.loads((data_dir / "samples.json").read_text())
        fixture = asyncio.run(seed(cluster.socket_dir, samples))
        postmaster = psutil.Process(
            int((data_dir.resolve() / "pg" / "postmaster.pid").read_text().split()[0])
        )
        ours = start_ours(cluster.url(DATABASE_NAME), args.port, args.workers)
        servers.append(ours)
        theirs = start_postgraphile(cluster.socket_dir, args.port + 1)
        servers.append(theirs)
        wait_ready(ours)
        wait_ready(theirs)
        workers = [
            child
            for child in psutil.Process(ours.process.pid).children()
            if any("spawn_main" in part for part in child.cmdline())
        ]
        print(
            f"ours: {len(workers) or 1} worker processes; PostGraphile: 1 Node process; "
            f"{psutil.cpu_count()} cores",
            flush=True,
        )
        parent = psutil.Process(ours.process.pid)
        print(
            f"idle memory (RSS): ours parent {parent.memory_info().rss / 2**20:.0f} MB, workers "
            + ", ".join(f"{worker.memory_info().rss / 2**20:.0f} MB" for worker in workers)
            + f"; PostGraphile {psutil.Process(theirs.process.pid).memory_info().rss / 2**20:.0f} MB",
            flush=True,
        )
        chosen = []
        for key in (key.strip() for key in args.queries.split(",")):
            try:
                compared = check_same_rows(QUERIES[key], fixture, ours, theirs)
            except RowsDiffer as difference:
                print(f"NOT MEASURED, the rows differ: {difference}", flush=True)
                continue
            chosen.append(key)
            print(
                f"same rows: {QUERIES[key].name} ({CHECKED_VARIANTS} requests, {compared} bytes of rows)",
                flush=True,
            )
        rows = []
        with tempfile.TemporaryDirectory() as scratch:
            for key in chosen:
                query = QUERIES[key]
                files = {
                    ours.name: write_requests(query, fixture, True, Path(scratch)),
                    theirs.name: write_requests(query, fixture, False, Path(scratch)),
                }
                for concurrency in args.concurrency:
                    totals = {ours.name: Measured(), theirs.name: Measured()}
                    for server in (ours, theirs):
                        load_round(server, files[server.name], concurrency, args.warmup, postmaster)
                    for round_number in range(args.rounds):
                        order = (ours, theirs) if round_number % 2 == 0 else (theirs, ours)
                        for server in order:
                            result = load_round(
                                server, files[server.name], concurrency, args.seconds, postmaster
                            )
                            add_round(totals[server.name], result)
                    ours_total, theirs_total = totals[ours.name], totals[theirs.name]
                    print(
                        f"{query.name}, c={concurrency}: ours {ours_total.rps():.1f} req/s, PostGraphile "
                        f"{theirs_total.rps():.1f} req/s (ratio {ours_total.rps() / max(theirs_total.rps(), 1e-9):.2f})",
                        flush=True,
                    )
                    rows.append((key, query.name, concurrency, ours_total, theirs_total))
        print(f"\nload average after the run: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        report(rows)
    finally:
        for server in servers:
            server.stop()
        cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=Path(".data/bench"))
    parser.add_argument("--port", type=int, default=18200, help="ours; PostGraphile gets the next port")
    parser.add_argument("--seconds", type=float, default=10, help="length of one round")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per server, alternating")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of warm-up per server and query")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument(
        "--workers", type=int, help="our worker processes (default: the server's, one per core)"
    )
    parser.add_argument(
        "--queries", default=",".join(QUERIES), help=f"comma-separated, of {', '.join(QUERIES)}"
    )
    run(parser.parse_args())


if __name__ == "__main__":
    main()
