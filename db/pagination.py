"""Keyset pagination: opaque cursors carrying the sort key of the last row, never OFFSET."""

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, overload

from sqlalchemy import ColumnElement, and_, false, or_, true

RowT = TypeVar("RowT")

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


# Our cursors carry a few sort values (a title of at most 1,000 characters at most); anything far longer
# was not made by us.
MAX_CURSOR_LENGTH = 8192


class InvalidCursor(ValueError):
    pass


class InvalidPageSize(ValueError):
    pass


def check_page_size(first: int | None, maximum: int = MAX_PAGE_SIZE) -> int:
    if first is None:
        return DEFAULT_PAGE_SIZE
    if first < 0 or first > maximum:
        raise InvalidPageSize(f"`first` must be between 0 and {maximum}, got {first}")
    return first


def encode_cursor(kind: str, values: Sequence[Any]) -> str:
    payload = json.dumps([kind, list(values)], separators=(",", ":"), default=str)
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, kind: str, arity: int) -> list[Any]:
    """Decode a cursor made by `encode_cursor` for the same `kind` (query and sort order)."""
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise InvalidCursor("The cursor is not valid")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        decoded = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
    except (binascii.Error, UnicodeError, RecursionError, ValueError) as exc:
        raise InvalidCursor("The cursor is not valid") from exc
    if not (isinstance(decoded, list) and len(decoded) == 2 and isinstance(decoded[1], list)):
        raise InvalidCursor("The cursor is not valid")
    if decoded[0] != kind:
        raise InvalidCursor("The cursor belongs to another query or sort order")
    if len(decoded[1]) != arity:
        raise InvalidCursor("The cursor is not valid")
    return decoded[1]


def after_condition(
    keys: Sequence[tuple[ColumnElement[Any], bool]], values: Sequence[Any]
) -> ColumnElement[bool]:
    """Rows strictly after `values` in the order given by `keys` ((expression, descending) pairs).

    Key expressions must be non-null (wrap nullable columns with COALESCE to a sentinel).
    """
    condition: ColumnElement[bool] = false()
    equal_prefix: ColumnElement[bool] = true()
    for (expression, descending), value in zip(keys, values, strict=True):
        beyond = expression < value if descending else expression > value
        condition = or_(condition, and_(equal_prefix, beyond))
        equal_prefix = and_(equal_prefix, expression == value)
    return condition


class LazyCursors(Sequence[str]):
    """The cursors of a page's rows, each encoded when first read: most screens ask for none, or
    only for pageInfo's last one."""

    def __init__(self, rows: Sequence[Any], encode: Callable[[Any], str]) -> None:
        self._rows = rows
        self._encode = encode
        self._encoded: dict[int, str] = {}

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...

    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        cursor = self._encoded.get(index)
        if cursor is None:
            cursor = self._encoded[index] = self._encode(self._rows[index])
        return cursor


@dataclass(frozen=True)
class BoundedCount:
    """A number of matches counted up to a bound: exact below it; above it `count` is the bound."""

    count: int
    exact: bool


@dataclass
class Page(Generic[RowT]):
    rows: list[RowT]
    has_next_page: bool
    cursors: Sequence[str]
    # The matches across all pages, when reading the page counted them anyway.
    total: BoundedCount | None = None
