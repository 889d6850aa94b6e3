"""A database that is gone, or a pool that runs dry, is a 503 with Retry-After and a typed
SERVICE_UNAVAILABLE error, logged once per outage, never a masked 500 with a traceback per request."""

import asyncio
import logging
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import PoolSettings, make_engine
from gql.app import create_app
from gql.config import Settings
from tests.client import Result, asgi_client
from tests.factories import make_user

SEARCH = "{ searchMedia { totalCount } }"


def assert_unavailable(result: Result) -> None:
    assert result.response.status_code == 503, result.response.text
    assert int(result.response.headers["retry-after"]) > 0
    assert [error["extensions"]["code"] for error in result.errors] == ["SERVICE_UNAVAILABLE"]


async def test_a_database_that_is_gone_answers_503(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    nowhere = make_engine(f"postgresql+asyncpg://postgres@/omnimediatrak?host={tmp_path / 'no-server'}")
    app = create_app(Settings(environment="development"), "unused", engine=nowhere)
    with caplog.at_level(logging.INFO):
        async with app.router.lifespan_context(app), asgi_client(app) as client:
            ready = await client.http.get("/readyz")
            anonymous = [await client(SEARCH) for _ in range(3)]
            with_token = await client("{ viewer { id } }", token="omts_whatever")
            by_get = Result(await client.http.get("/graphql", params={"query": SEARCH}))
    assert ready.status_code == 503
    assert ready.json() == {"status": "unavailable", "reason": "database unreachable"}
    for result in [*anonymous, with_token, by_get]:
        assert_unavailable(result)
    outage_lines = [r for r in caplog.records if r.name == "omnimediatrak.outage"]
    assert [r.getMessage().split(" (")[0] for r in outage_lines] == ["database unavailable"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    await nowhere.dispose()


async def test_an_exhausted_pool_answers_503_and_recovers(
    engine: AsyncEngine, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    _, token = await make_user(engine)
    small = make_engine(database_url, PoolSettings(size=1, overflow=0, timeout_seconds=0.2))
    app = create_app(Settings(environment="development"), database_url, engine=small)
    with caplog.at_level(logging.INFO):
        async with app.router.lifespan_context(app), asgi_client(app) as client:
            async with small.connect() as held:
                exhausted = [await client(SEARCH), await client("{ viewer { id } }", token=token)]
                assert held is not None
            for result in exhausted:
                assert_unavailable(result)
            for _ in range(100):
                if not any("available again" in r.getMessage() for r in caplog.records):
                    await asyncio.sleep(0.1)
            recovered = await client(SEARCH)
            assert recovered.data == {"searchMedia": {"totalCount": 0}}
    outage_lines = [r.getMessage() for r in caplog.records if r.name == "omnimediatrak.outage"]
    assert len(outage_lines) == 2, outage_lines
    assert outage_lines[0].startswith("database unavailable")
    assert outage_lines[1].startswith("database available again")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    await small.dispose()
