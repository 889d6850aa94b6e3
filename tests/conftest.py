"""Tests run against a real PostgreSQL built by the project's migrations: the embedded cluster
(started once per run in .data/test, or as root in the system temp dir), or the server of
TEST_DATABASE_URL / DATABASE_URL, where a fresh database is created and dropped. Every test starts
from empty tables."""

import asyncio
import hashlib
import itertools
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from starlette.applications import Starlette

from db.cluster import EmbeddedCluster, asyncpg_url
from db.engine import make_engine
from db.migrate import upgrade
from db.models import Base
from gql.app import create_app
from gql.config import Settings
from tests.client import GraphQLClient

CLONE = Path(__file__).resolve().parent.parent


def embedded_base_dir() -> Path:
    """Where the tests' embedded clusters live: the clone's .data; as root, a directory in the system
    temp dir (already traversable by all), so the wheel opens up none of the clone's parents."""
    if os.geteuid() != 0:
        return CLONE / ".data"
    base = (
        Path(tempfile.gettempdir()) / f"omnimediatrak-tests-{hashlib.sha256(bytes(CLONE)).hexdigest()[:12]}"
    )
    base.mkdir(mode=0o755, exist_ok=True)
    return base


TEST_DATA_DIR = embedded_base_dir() / "test"


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """URL of a maintenance database on the test server."""
    given = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if given:
        yield asyncpg_url(given)
        return
    cluster = EmbeddedCluster(TEST_DATA_DIR, allow_root=True)
    cluster.start()
    try:
        yield cluster.url("postgres")
    finally:
        cluster.stop()


async def _admin_execute(server_url: str, *statements: str) -> None:
    engine = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            for statement in statements:
                await conn.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
async def database_url(server_url: str) -> AsyncIterator[str]:
    name = f"omt_test_{os.getpid()}"
    await _admin_execute(server_url, f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"')
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    await asyncio.to_thread(upgrade, url)
    yield url
    await _admin_execute(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url)
    yield engine
    await engine.dispose()


TABLES = ", ".join(f"{table.schema}.{table.name}" for table in Base.metadata.sorted_tables)
# One round trip that empties every table: DELETE is several times faster than TRUNCATE on the small
# tables tests leave behind (TRUNCATE makes new files for each table, partition and index). With
# triggers and foreign-key actions off (replica role: the counters would otherwise update rows being
# deleted), and each identity sequence a test moved back at its start, as RESTART IDENTITY does.
EMPTY_TABLES = (
    "DO $$ BEGIN SET LOCAL session_replication_role = replica; "
    + " ".join(f"DELETE FROM {table.schema}.{table.name};" for table in Base.metadata.sorted_tables)
    + " PERFORM setval(format('%I.%I', schemaname, sequencename)::regclass, start_value, false)"
    " FROM pg_sequences WHERE last_value IS NOT NULL"
    " AND schemaname NOT IN ('pg_catalog', 'information_schema'); END $$"
)


_empty_tables_statement: dict[AsyncEngine, str] = {}


async def empty_tables(engine: AsyncEngine) -> None:
    """Replica mode needs a superuser; on a server given without one, TRUNCATE as before."""
    async with engine.begin() as conn:
        statement = _empty_tables_statement.get(engine)
        if statement is None:
            superuser = (
                await conn.execute(text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"))
            ).scalar()
            statement = EMPTY_TABLES if superuser else f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"
            _empty_tables_statement[engine] = statement
        await conn.execute(text(statement))


@pytest.fixture(autouse=True)
async def _clean_tables(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Every test leaves empty tables, except those marked `shared_data`: they only read (or are refused)
    what a module-scoped fixture wrote, and that fixture empties the tables when its module is done."""
    yield
    if "engine" in request.fixturenames and request.node.get_closest_marker("shared_data") is None:
        engine: AsyncEngine = request.getfixturevalue("engine")
        await empty_tables(engine)


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings(environment="development")


_client_numbers = itertools.count()


@asynccontextmanager
async def app_client(
    engine: AsyncEngine, settings: Settings, database_url: str, app: Starlette | None = None
) -> AsyncIterator[GraphQLClient]:
    app = app or create_app(settings, database_url, engine=engine)
    n = next(_client_numbers)
    transport = ASGITransport(app=app, client=(f"10.{n // 250 % 250}.{n % 250}.1", 1234))
    async with AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield GraphQLClient(http)


@pytest.fixture(scope="module")
def module_app(engine: AsyncEngine, settings: Settings, database_url: str) -> Starlette:
    """One app per module for `client`: building one (its schema above all) costs about 50 ms. A test
    that needs other settings, or counts what an app did, builds its own. What an app keeps between
    requests is caches and a rate limit per client address, and each test's client has its own address."""
    return create_app(settings, database_url, engine=engine)


@pytest.fixture
async def client(
    engine: AsyncEngine, settings: Settings, database_url: str, module_app: Starlette
) -> AsyncIterator[GraphQLClient]:
    async with app_client(engine, settings, database_url, module_app) as graphql_client:
        yield graphql_client
