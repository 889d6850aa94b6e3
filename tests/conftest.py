"""Tests run against a real PostgreSQL built by the project's migrations: the embedded cluster
(started once per run in .data/test, or as root in the system temp dir), or the server of
TEST_DATABASE_URL / DATABASE_URL, where a fresh database is created and dropped. Every test starts
from empty tables."""

import asyncio
import hashlib
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

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


@pytest.fixture(autouse=True)
async def _clean_tables(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    yield
    if "engine" in request.fixturenames:
        engine: AsyncEngine = request.getfixturevalue("engine")
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings(environment="development")


@pytest.fixture
async def client(engine: AsyncEngine, settings: Settings, database_url: str) -> AsyncIterator[GraphQLClient]:
    app = create_app(settings, database_url, engine=engine)
    transport = ASGITransport(app=app, client=(f"10.0.{uuid.uuid4().int % 250}.1", 1234))
    async with AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield GraphQLClient(http)
