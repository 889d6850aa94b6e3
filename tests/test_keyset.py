"""The one keyset module's cursors: the wire format of the cursors handed out before every connection
used it (base64url of JSON [kind, values], unpadded) is still read, and what is not one of ours is
InvalidCursor (the client's mistake: BAD_USER_INPUT), never a defect."""

import base64
import datetime as dt
import json
import uuid

import pytest

from db.keyset import InvalidCursor, SortKey, keyset_cursor, keyset_values, parse_date, parse_int, parse_uuid
from db.lists import ITEM_KEYS, LIST_KEYS
from db.models import Media

MEDIA_ID = uuid.UUID("6e4d3fc0-ba6d-4769-95fa-69e4b94b754d")
BY_RELEASE = [
    SortKey(Media.release_date, True, parse_date, "release_date", nullable=True),
    SortKey(Media.id, True, parse_uuid, "id"),
]


def written_before(kind: str, values: list[object]) -> str:
    """A cursor as the connections wrote them before they shared this module."""
    payload = json.dumps([kind, values], separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def test_cursors_written_before_are_read() -> None:
    created = dt.datetime(2026, 12, 4, 20, 0, tzinfo=dt.UTC)
    lists_cursor = written_before("lists", [created.isoformat(), str(MEDIA_ID)])
    assert keyset_values(LIST_KEYS, "lists", lists_cursor) == [created, MEDIA_ID]
    item_cursor = written_before("list", [3072, str(MEDIA_ID), 7])
    assert keyset_values(ITEM_KEYS, "list", item_cursor, trailing=(parse_int,)) == [3072, MEDIA_ID, 7]
    assert keyset_cursor("lists", [created, MEDIA_ID]) == lists_cursor


def test_a_nullable_key_reads_null_and_another_key_refuses_it() -> None:
    undated = keyset_cursor("search", [None, MEDIA_ID])
    assert keyset_values(BY_RELEASE, "search", undated) == [None, MEDIA_ID]
    with pytest.raises(InvalidCursor):
        keyset_values(BY_RELEASE, "search", keyset_cursor("search", [None, None]))


@pytest.mark.parametrize(
    "cursor",
    [
        written_before("franchise", ["2001-01-01", str(MEDIA_ID)]),  # another query
        written_before("search", ["2001-01-01"]),  # too few values
        written_before("search", ["not a date", str(MEDIA_ID)]),
        written_before("search", ["2001-01-01", str(MEDIA_ID), 7]),  # a trailing value not asked for
        "not base64 at all!",
        "x" * 9000,
    ],
)
def test_what_is_not_a_cursor_of_this_query_is_invalid(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        keyset_values(BY_RELEASE, "search", cursor)
