"""The embedded cluster's memory settings follow the machine (a quarter of its memory for shared
buffers, at most 2 GB) or OMT_EMBEDDED_SHARED_BUFFERS, on a new data dir and on every later start."""

import os
import shutil

import pytest
from sqlalchemy import text

from db.cluster import EmbeddedCluster, available_memory, memory_settings
from db.engine import make_engine
from gql.config import Settings
from tests.conftest import embedded_base_dir

GB = 1024**3


def test_shared_buffers_is_a_quarter_of_the_memory_between_a_floor_and_a_cap() -> None:
    assert memory_settings(4 * GB)["shared_buffers"] == "1024MB"
    assert memory_settings(64 * GB)["shared_buffers"] == "2048MB"
    assert memory_settings(GB // 8)["shared_buffers"] == "32MB"
    assert memory_settings(8 * GB)["effective_cache_size"] == "4096MB"


def test_an_explicit_shared_buffers_wins() -> None:
    assert memory_settings(64 * GB, "256MB")["shared_buffers"] == "256MB"


def test_a_shared_buffers_that_is_not_a_size_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMT_EMBEDDED_SHARED_BUFFERS", "lots")
    with pytest.raises(ValueError, match="OMT_EMBEDDED_SHARED_BUFFERS"):
        Settings.from_env()
    monkeypatch.setenv("OMT_EMBEDDED_SHARED_BUFFERS", "512MB")
    assert Settings.from_env().embedded_shared_buffers == "512MB"


async def _shared_buffers_is(url: str, size: str) -> bool:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            statement = "SELECT pg_size_bytes(current_setting('shared_buffers')) = pg_size_bytes(:size)"
            return bool((await conn.execute(text(statement), {"size": size})).scalar_one())
    finally:
        await engine.dispose()


async def test_the_test_cluster_runs_with_the_machines_settings(database_url: str) -> None:
    if os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL"):
        pytest.skip("a PostgreSQL of one's own is tuned by its owner")
    assert await _shared_buffers_is(database_url, memory_settings(available_memory())["shared_buffers"])


async def test_the_settings_apply_to_a_new_data_dir_and_again_on_a_later_start() -> None:
    data_dir = embedded_base_dir() / f"memory-{os.getpid()}"
    try:
        cluster = EmbeddedCluster(data_dir, allow_root=True, shared_buffers="40MB")
        cluster.start()
        try:
            assert await _shared_buffers_is(cluster.url("postgres"), "40MB")
        finally:
            cluster.stop()
        cluster = EmbeddedCluster(data_dir, allow_root=True, shared_buffers="48MB")
        cluster.start()
        try:
            assert await _shared_buffers_is(cluster.url("postgres"), "48MB")
        finally:
            cluster.stop()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
