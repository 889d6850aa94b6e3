"""Media.from_row computes fields from the row on first read (gql/media.py, _ROW_FIELDS): a field
added to Media without a resolver and without an entry there would be missing on every item."""

import dataclasses

from gql.media import _ROW_FIELDS, Media


def test_every_plain_media_field_is_computed_from_the_row() -> None:
    plain = {
        field.name for field in dataclasses.fields(Media) if getattr(field, "base_resolver", None) is None
    }
    assert plain == set(_ROW_FIELDS)
