"""Two users importing the same items at the same time: their batches touch the same catalog
counters (media.tracker_count, interaction.media_stats) and must not deadlock."""

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from db.library_import.run import claim_job, run_job
from tests.factories import make_user

ITEMS = 800
CATALOG = """
INSERT INTO media.media (external_id, media_type, media_class, title, release_date)
SELECT 'test:shared-' || n, 'anime', 'visual.animation.anime', 'Shared Anime ' || n, date '2000-01-01'
FROM generate_series(1, :count) AS n;
INSERT INTO media.external_links (media_id, source_name, external_key)
SELECT id, 'mal-anime', substring(external_id FROM 13) FROM media.media WHERE external_id LIKE 'test:shared-%%'
"""


def mal_list(ids: list[int], status: str) -> bytes:
    rows = "".join(
        f"<anime><series_animedb_id>{n}</series_animedb_id><series_title>Shared Anime {n}</series_title>"
        f"<my_status>{status}</my_status><my_score>{1 + n % 10}</my_score></anime>"
        for n in ids
    )
    return f"<myanimelist>{rows}</myanimelist>".encode()


@pytest.mark.parametrize(
    "second_status",
    # The same status: both lock the same media_stats rows. Another: they share only the items' rows.
    ["Completed", "Plan to Watch"],
)
async def test_two_public_users_importing_the_same_items_in_opposite_orders_both_succeed(
    engine: AsyncEngine, second_status: str
) -> None:
    async with engine.begin() as conn:
        for statement in CATALOG.split(";"):
            await conn.execute(text(statement), {"count": ITEMS})
    users = [(await make_user(engine, profile_visibility="public"))[0] for _ in range(2)]
    ids = list(range(1, ITEMS + 1))
    files = [mal_list(ids, "Completed"), mal_list(ids[::-1], second_status)]
    claimed = [await claim_job(engine, user, "mal", "animelist.xml", "newer") for user in users]
    jobs = await asyncio.gather(
        *(run_job(job, data, batch_size=ITEMS) for job, data in zip(claimed, files, strict=True))
    )
    assert [(job.status, job.error, job.created) for job in jobs] == [("succeeded", None, ITEMS)] * 2
    async with engine.connect() as conn:
        counts = await conn.execute(
            text("SELECT DISTINCT tracker_count FROM media.media WHERE external_id LIKE 'test:shared-%'")
        )
        assert [row.tracker_count for row in counts] == [2]


async def test_a_batch_rolled_back_to_break_a_deadlock_runs_again(engine: AsyncEngine) -> None:
    """Whatever the lock order of the counters' triggers, PostgreSQL may pick an import's batch as the
    victim of a deadlock: the batch runs again instead of failing the job. Here another transaction
    holds the importing user's row and then writes an entry the batch has written: a deadlock, which
    PostgreSQL breaks by rolling the batch back (the other side waits longer before it checks)."""
    count = 20
    async with engine.begin() as conn:
        for statement in CATALOG.split(";"):
            await conn.execute(text(statement), {"count": count})
    user, _ = await make_user(engine, profile_visibility="public")
    claimed = await claim_job(engine, user, "mal", "animelist.xml", "newer")
    async with engine.connect() as blocker, engine.connect() as watcher:
        transaction = await blocker.begin()
        await blocker.execute(text("SET LOCAL deadlock_timeout = '60s'"))
        await blocker.execute(text("SELECT 1 FROM users.users WHERE id = :id FOR UPDATE"), {"id": user})
        blocker_pid = (await blocker.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        importing = asyncio.create_task(run_job(claimed, mal_list(list(range(1, count + 1)), "Completed")))
        waiting = text("SELECT count(*) FROM pg_locks WHERE NOT granted AND pid <> :blocker")
        while not (await watcher.execute(waiting, {"blocker": blocker_pid})).scalar_one():
            assert not importing.done(), importing.result()
            await asyncio.sleep(0.02)
        await blocker.execute(
            text(
                "INSERT INTO interaction.user_media (user_id, media_id, status) "
                "SELECT :user, id, 'completed' FROM media.media WHERE external_id = 'test:shared-1'"
            ),
            {"user": user},
        )
        await transaction.rollback()
    job = await importing
    assert (job.status, job.error, job.created) == ("succeeded", None, count)
