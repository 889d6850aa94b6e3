"""Media.from_row computes fields from the row on first read (gql/media.py, _ROW_FIELDS): a plain field
is the row's column of the same name unless converted, so a field added to Media without a column
(or a conversion) in the read path fails here rather than on every item."""

import dataclasses
import datetime as dt

from sqlalchemy.ext.asyncio import AsyncEngine

from db import media as media_queries
from gql.enums import DatePrecision, MediaType
from gql.media import _CONVERTED_FROM_ROW, Media
from gql.relay import to_global_id
from tests.factories import make_media

PLAIN_FIELDS = {
    field.name for field in dataclasses.fields(Media) if getattr(field, "base_resolver", None) is None
}


def test_every_conversion_is_of_a_plain_field() -> None:
    assert set(_CONVERTED_FROM_ROW) <= PLAIN_FIELDS


async def test_every_plain_media_field_reads_from_a_stored_row(engine: AsyncEngine) -> None:
    media_id = await make_media(
        engine, title="Dune", release_date="1965-08-01", creators=["Frank Herbert"], collection_path="dune"
    )
    async with engine.connect() as conn:
        [row] = await media_queries.media_by_ids(conn, [media_id])
    assert row is not None
    media = Media.from_row(row)
    values = {name: getattr(media, name) for name in PLAIN_FIELDS}
    assert values["id"] == to_global_id("Media", media_id)
    assert values["raw_id"] == media_id
    assert values["title"] == "Dune"
    assert values["media_type"] is MediaType.BOOK
    assert values["release_date"] == dt.date(1965, 8, 1)
    assert values["release_date_precision"] is DatePrecision.DAY
    assert values["creators"] == ["Frank Herbert"]
    assert values["collection_path"] == "dune"
