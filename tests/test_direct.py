"""db/direct.py: statements run by asyncpg on the pooled connection read the same rows as
SQLAlchemy's execution of the same construct, and are counted as statements and prepares."""

import uuid
from typing import Any

import pytest
from sqlalchemy import Uuid, any_, bindparam, literal_column, select
from sqlalchemy.ext.asyncio import AsyncEngine

from db import lists as list_queries
from db import relations
from db.availability import is_database_unavailable
from db.batch import uuid_keys
from db.direct import DirectStatement, pooled_connection
from db.engine import StatementStats, current_stats, reads_of
from db.media import MEDIA_BY_IDS, media_by_ids, media_read_columns
from db.models import Media
from tests.factories import link_media, make_media


async def test_a_direct_statement_reads_what_sqlalchemy_reads(engine: AsyncEngine) -> None:
    ids = [
        await make_media(
            engine,
            title="Dune",
            creators=["Frank Herbert"],
            release_date="1965-08-01",
            attributes={"isbn": "978-0441013593", "pages": 412},
        ),
        await make_media(engine, title="Solaris"),
    ]
    construct = select(*media_read_columns).where(Media.id == any_(uuid_keys()))
    async with reads_of(engine).connect() as conn:
        expected = {row.id: row._asdict() for row in await conn.execute(construct, {"keys": ids})}
        direct = await DirectStatement(construct).fetch(conn, {"keys": ids})
    assert {row.id: dict(row.items()) for row in direct} == expected
    assert {row.title for row in direct} == {"Dune", "Solaris"}
    assert [row.creators for row in direct if row.title == "Dune"] == [["Frank Herbert"]]
    with pytest.raises(AttributeError):
        _ = direct[0].no_such_column


async def test_direct_statements_are_counted_and_prepared_once_per_connection(engine: AsyncEngine) -> None:
    media_id = await make_media(engine)
    stats = StatementStats()
    token = current_stats.set(stats)
    try:
        async with reads_of(engine).connect() as conn:
            MEDIA_BY_IDS.prepared.clear()  # as on a fresh connection
            first = await media_by_ids(conn, [media_id])
            after_first = (stats.queries, stats.prepares)
            second = await media_by_ids(conn, [media_id])
    finally:
        current_stats.reset(token)
    assert first[0] is not None
    assert second[0] is not None
    assert first[0].id == second[0].id == media_id
    assert after_first[0] == 1
    assert after_first[1] == 1
    assert stats.queries == 2
    assert stats.prepares == 1, "the second run reuses the prepared statement"


async def test_static_list_pages_are_one_direct_statement_per_shape() -> None:
    def request(after: str | None) -> Any:
        return list_queries.ItemsRequest(
            list_id=uuid.uuid4(),
            smart=False,
            owner_id=uuid.uuid4(),
            definition=None,
            evaluate=True,
            first=20,
            after=after,
        )

    first, _, part_of = list_queries.items_query([request(None), request(None)])
    again, _, _ = list_queries.items_query([request(None)])
    assert isinstance(first, DirectStatement)
    assert first is again
    assert part_of == [0, 0]
    smart = list_queries.ItemsRequest(
        list_id=uuid.uuid4(),
        smart=True,
        owner_id=uuid.uuid4(),
        definition="{}",
        evaluate=True,
    )
    mixed, _, _ = list_queries.items_query([request(None), smart])
    assert not isinstance(mixed, DirectStatement)


async def test_json_columns_are_read_decoded(engine: AsyncEngine) -> None:
    """As SQLAlchemy reads them: rows of lists (filter_definition) and of users (settings) rely on it."""
    statement = DirectStatement(
        select(
            literal_column("""'{"a": [1, "b"]}'::jsonb""").label("document"),
            literal_column("""'"text"'::jsonb""").label("text"),
            literal_column("NULL::jsonb").label("missing"),
        )
    )
    async with reads_of(engine).connect() as conn:
        [row] = await statement.fetch(conn, {})
    assert row.document == {"a": [1, "b"]}
    assert row.text == "text"
    assert row.missing is None


async def test_every_column_is_an_attribute_even_one_named_like_a_record_method(engine: AsyncEngine) -> None:
    media_id = await make_media(engine, title="Ubik")
    statement = DirectStatement(
        select(literal_column("2").label("items"), literal_column("'y'").label("get"), Media.title).where(
            Media.id == bindparam("id", type_=Uuid)
        )
    )
    assert statement.columns == ("items", "get", "title")
    async with reads_of(engine).connect() as conn:
        [row] = await statement.fetch(conn, {"id": media_id})
    assert (row.items, row.get, row.title) == (2, "y", "Ubik")
    assert [row["items"], row["get"], row["title"]] == [2, "y", "Ubik"]


async def test_relations_read_directly_are_sqlalchemys_rows(engine: AsyncEngine) -> None:
    dune, messiah, film = (
        await make_media(engine, title="Dune"),
        await make_media(engine, title="Dune Messiah", release_date="1969-01-01"),
        await make_media(engine, title="Dune (film)", media_type="film", media_class="video.film"),
    )
    await link_media(engine, dune, messiah, "sequel", notes="book 2", weight=2)
    await link_media(engine, dune, film, "adaptation")
    async with reads_of(engine).connect() as conn:
        through_sqlalchemy = [
            row._asdict()
            for row in await conn.execute(relations._relations_query(), {"keys": [dune, messiah, film]})
        ]
        direct = [
            dict(row.items())
            for row in await relations.RELATIONS_BY_IDS.fetch(conn, {"keys": [dune, messiah, film]})
        ]
    assert direct == through_sqlalchemy
    assert {(row["title"], row["label"], row["direction"]) for row in direct} >= {
        ("Dune Messiah", "sequel", "outgoing")
    }
    assert len(direct) == 4


async def test_a_lost_pooled_connection_is_not_handed_out_again(engine: AsyncEngine) -> None:
    media_id = await make_media(engine)
    reads = reads_of(engine)

    async def read_after_its_backend_is_terminated() -> None:
        async with pooled_connection(reads) as conn:
            driver: Any = conn.driver_connection
            backend = await driver.fetchval("SELECT pg_backend_pid()")
            async with reads.connect() as other:  # another connection: this one is checked out
                # Waits (up to 5 s) until the backend is gone.
                await other.exec_driver_sql(f"SELECT pg_terminate_backend({int(backend)}, 5000)")
            await media_by_ids(conn, [media_id])

    with pytest.raises(Exception) as lost:  # noqa: PT011 - whichever error the driver raises
        await read_after_its_backend_is_terminated()
    assert is_database_unavailable(lost.value), repr(lost.value)
    # The pool hands out the connection returned last: had the lost one gone back, this would fail.
    async with pooled_connection(reads) as conn:
        assert (await media_by_ids(conn, [media_id]))[0] is not None
