"""The one description of a catalog field: what admins and feeds may set on an item.

Adding a field means a column on `db.models.Media` (with its migration), a row in `CATALOG_FIELDS`
(its check and its empty value), the GraphQL field with its admin inputs, and its line in
docs/ingestion.md. Everything else is derived from here and the model: validation, the ingestion
record format and its `json_to_recordset` definition, revision snapshots, a new item's values.
tests/test_media_fields.py fails when one of those places is missed.
"""

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.sql.elements import KeyedColumnElement
from sqlalchemy.types import ARRAY

from db import media_validation as check
from db.media_validation import FieldError, InvalidValue, class_misfit, start_of_period
from db.models import Media
from db.types import Ltree


@dataclass(frozen=True)
class CatalogField:
    name: str
    check: Callable[[Any], Any]
    # What an item holds when the field is not set, and what null stands for unless `required`.
    empty: Any = None
    # Required on a new item, never null.
    required: bool = False
    # Set with another field rather than on its own (a feed gives it as the form of its date).
    derived: bool = False

    def empty_value(self) -> Any:
        return copy.copy(self.empty)

    @property
    def column(self) -> KeyedColumnElement[Any]:
        return Media.__table__.c[self.name]


CATALOG_FIELDS = (
    CatalogField("media_type", check.media_type, required=True),
    CatalogField("media_class", check.ltree_path, required=True),
    CatalogField("title", check.title, required=True),
    CatalogField("alternative_titles", check.alternative_titles, empty=[]),
    CatalogField("release_date", check.partial_date),
    CatalogField("release_date_precision", check.date_precision, empty="day", required=True, derived=True),
    CatalogField("country_of_origin", check.country),
    CatalogField("creators", check.string_list, empty=[]),
    CatalogField("cover_url", check.http_url),
    CatalogField("description", check.text),
    CatalogField("attributes", check.attributes, empty={}),
    CatalogField("collection_path", check.ltree_path),
)
MEDIA_FIELDS = tuple(field.name for field in CATALOG_FIELDS)
# The catalog fields a feed gives on its own (docs/ingestion.md).
RECORD_MEDIA_FIELDS = tuple(field.name for field in CATALOG_FIELDS if not field.derived)
# Columns of media.media that are not catalog fields: identity, provenance and what the database keeps.
BOOKKEEPING_COLUMNS = frozenset(
    {
        "id",
        "external_id",
        "field_sources",
        "tracker_count",
        "created_at",
        "updated_at",
        "search_vector",
        "search_titles",
    }
)


def new_item() -> dict[str, Any]:
    """What an item holds before its first record is applied (an insert fills every field from here)."""
    return {field.name: field.empty_value() for field in CATALOG_FIELDS}


POSTGRESQL = PGDialect()  # type: ignore[no-untyped-call]


def recordset_type(column: KeyedColumnElement[Any]) -> str:
    """The type `json_to_recordset` reads a column's JSON value as: ltree comes as text and is cast."""
    if isinstance(column.type, Ltree):
        return "text"
    return str(column.type.compile(dialect=POSTGRESQL)).lower()


def stored_value(column: KeyedColumnElement[Any], row: str = "r") -> str:
    """The SQL that stores a column's value from recordset row `row`."""
    if isinstance(column.type, Ltree):
        return f"CAST({row}.{column.key} AS ltree)"
    if isinstance(column.type, ARRAY):
        return f"coalesce({row}.{column.key}, '{{}}')"
    return f"{row}.{column.key}"


def validate_media_fields(
    fields: Mapping[str, Any], require_all: bool
) -> tuple[dict[str, Any], list[FieldError]]:
    """Check the catalog fields present in `fields` (other keys are ignored); `require_all` for a
    new item (title, type, class). `release_date` comes out as a date with its precision in
    `release_date_precision`; a precision given with it (admin mutations) wins and moves the date
    to the first day of the period."""
    clean: dict[str, Any] = {}
    errors: list[FieldError] = []
    for field in CATALOG_FIELDS:
        name = field.name
        if name not in fields:
            if require_all and field.required and not field.derived:
                errors.append(FieldError((name,), "is required"))
            continue
        value = fields[name]
        if value is None:
            if field.required:
                errors.append(FieldError((name,), "must not be null"))
            else:
                clean[name] = field.empty_value()
            continue
        try:
            clean[name] = field.check(value)
        except InvalidValue as exc:
            errors.append(FieldError((name, *exc.subfield), str(exc)))
    if "media_type" in clean and clean.get("media_class") is not None:
        misfit = class_misfit(clean["media_type"], clean["media_class"])
        if misfit is not None:
            errors.append(FieldError(("media_class",), misfit))
    _settle_release_date(clean, errors)
    return clean, errors


def _settle_release_date(clean: dict[str, Any], errors: list[FieldError]) -> None:
    given_precision = clean.pop("release_date_precision", None)
    if "release_date" not in clean:
        if given_precision is not None:
            errors.append(FieldError(("release_date_precision",), "must be given with release_date"))
        return
    if clean["release_date"] is None:
        clean["release_date_precision"] = "day"
        return
    date, precision = clean["release_date"]
    precision = given_precision or precision
    clean["release_date"] = start_of_period(date, precision)
    clean["release_date_precision"] = precision
