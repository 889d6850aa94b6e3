"""One description of a catalog field (db/media_fields.py): a field added to the model but missed in
that table, the ingestion statements, the GraphQL type, the admin inputs or the docs fails here."""

import json
import re
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.types.base import get_object_definition

from db.ingest import ingest_file
from db.ingest_batch import INSERT_MEDIA, UPDATE_MEDIA
from db.ingest_format import RECORD_FIELDS
from db.media import media_columns
from db.media_fields import (
    BOOKKEEPING_COLUMNS,
    CATALOG_FIELDS,
    MEDIA_FIELDS,
    RECORD_MEDIA_FIELDS,
    validate_media_fields,
)
from db.models import Media
from gql.admin import CreateMediaInput, UpdateMediaInput
from gql.media import Media as MediaType

DOCS = Path(__file__).resolve().parent.parent / "docs" / "ingestion.md"

# A value for every field a feed gives, none of them the field's empty value.
EVERY_FIELD_RECORD: dict[str, Any] = {
    "media_type": "book",
    "media_class": "written.book.novel",
    "title": "Dune",
    "alternative_titles": ["Dyuna", {"title": "デューン", "language": "ja"}],
    "release_date": "1965-08",
    "country_of_origin": "us",
    "creators": ["Frank Herbert"],
    "cover_url": "https://example.org/dune.jpg",
    "description": "A desert planet.",
    "attributes": {"page_count": 412, "genres": ["Sci-Fi"]},
    "collection_path": "dune.novels",
}


def _python_names(strawberry_type: type) -> set[str]:
    definition = get_object_definition(strawberry_type, strict=True)
    return {field.python_name for field in definition.fields}


def test_every_media_column_is_a_catalog_field_or_bookkeeping() -> None:
    assert set(Media.__table__.columns.keys()) == set(MEDIA_FIELDS) | BOOKKEEPING_COLUMNS
    assert not set(MEDIA_FIELDS) & BOOKKEEPING_COLUMNS


def test_the_ingestion_statements_write_every_catalog_field() -> None:
    written = {"external_id", *MEDIA_FIELDS, "field_sources"}
    for statement in (INSERT_MEDIA.text, UPDATE_MEDIA.text):
        match = re.search(r"json_to_recordset\(CAST\(:rows AS json\)\) AS r\(([^)]*)\)", statement)
        assert match is not None
        recordset = {column.split()[0] for column in match.group(1).split(", ")}
        assert recordset == {"id", *written}
    match = re.search(r"INSERT INTO media\.media \(([^)]*)\)", INSERT_MEDIA.text)
    assert match is not None
    assert set(match.group(1).split(", ")) == {"id", *written}


def test_the_read_path_selects_every_stored_column() -> None:
    assert {column.key for column in media_columns} == set(MEDIA_FIELDS) | BOOKKEEPING_COLUMNS - {
        "search_vector",
        "search_titles",
    }


def test_a_record_may_give_every_field_but_the_derived_ones() -> None:
    assert set(RECORD_MEDIA_FIELDS) <= RECORD_FIELDS
    assert set(MEDIA_FIELDS) - set(RECORD_MEDIA_FIELDS) == {
        field.name for field in CATALOG_FIELDS if field.derived
    }
    assert set(EVERY_FIELD_RECORD) == set(RECORD_MEDIA_FIELDS)


def test_the_media_type_shows_every_catalog_field() -> None:
    assert set(MEDIA_FIELDS) <= _python_names(MediaType)


def test_admins_may_set_every_catalog_field() -> None:
    for input_type in (CreateMediaInput, UpdateMediaInput):
        assert set(MEDIA_FIELDS) <= _python_names(input_type), input_type.__name__


def test_the_ingestion_docs_describe_every_record_field() -> None:
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", DOCS.read_text(encoding="utf-8"), re.MULTILINE))
    assert set(RECORD_MEDIA_FIELDS) <= documented


async def test_a_record_giving_every_field_stores_each_as_validated(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    record = {"external_id": "wikidata:Q190192", **EVERY_FIELD_RECORD}
    path = tmp_path / "every-field.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    summary = await ingest_file(engine, path)
    assert summary.counts.inserted == 1
    expected, errors = validate_media_fields(EVERY_FIELD_RECORD, require_all=True)
    assert errors == []
    async with engine.connect() as conn:
        row = (await conn.execute(select(*(getattr(Media, name) for name in MEDIA_FIELDS)))).one()
    stored = dict(row._mapping)
    for catalog_field in CATALOG_FIELDS:
        assert stored[catalog_field.name] == expected[catalog_field.name], catalog_field.name
        assert stored[catalog_field.name] != catalog_field.empty, catalog_field.name
