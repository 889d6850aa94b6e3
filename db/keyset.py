"""Keyset pagination, the one implementation every connection uses: opaque cursors carrying the sort
values of the last row (never OFFSET), the condition "after the cursor", the order, and pages whose
cursors are encoded only when read.

A cursor is base64url of the JSON `[kind, [values...]]`: `kind` names the query and its order, so a
cursor of another query, order or filter is refused (InvalidCursor: the client's mistake)."""

import base64
import binascii
import datetime as dt
import json
import typing
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast, overload

from sqlalchemy import BindParameter, ColumnElement, Select, and_, false, literal, or_, true, tuple_

from db.storable import is_finite_number, is_int32, is_int64, unstorable_text, utc_instant

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


@dataclass(frozen=True)
class SortKey:
    """One sort expression; `parse` turns its JSON cursor value back into a SQL value. A nullable
    key sorts its NULLs last in either direction. A named key labels its value `sort_<name>` in the
    rows of a page (`label`)."""

    expression: Any
    descending: bool
    parse: Callable[[Any], Any]
    name: str = ""
    nullable: bool = False


def parse_datetime(value: Any) -> dt.datetime:
    if not isinstance(value, str):
        raise TypeError("expected a string")
    parsed = dt.datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("expected a time zone")
    utc_instant(parsed)
    return parsed


def parse_date(value: Any) -> dt.date:
    if not isinstance(value, str):
        raise TypeError("expected a string")
    return dt.date.fromisoformat(value)


def parse_int(value: Any) -> int:
    """For a bigint sort key."""
    if not is_int64(value):
        raise TypeError("expected a 64-bit integer")
    return cast(int, value)


def parse_int32(value: Any) -> int:
    """For an integer (int4) sort key."""
    if not is_int32(value):
        raise TypeError("expected a 32-bit integer")
    return cast(int, value)


def parse_float(value: Any) -> float:
    if not is_finite_number(value):
        raise TypeError("expected a finite number")
    return float(value)


def parse_text(value: Any) -> str:
    if not isinstance(value, str) or unstorable_text(value) is not None:
        raise TypeError("expected a string PostgreSQL can store")
    return value


def parse_uuid(value: Any) -> uuid.UUID:
    if not isinstance(value, str):
        raise TypeError("expected a string")
    return uuid.UUID(value)


def keys_after(keys: Sequence[SortKey], values: Sequence[Any]) -> ColumnElement[bool]:
    """Rows strictly after `values` (plain values or bound parameters) in the order of `keys`.

    Keys of one direction and no NULL make a row comparison, which an index on those columns takes
    as its start (an index condition), so a deep page reads only its own rows."""
    if len({key.descending for key in keys}) == 1 and not any(
        key.nullable or value is None for key, value in zip(keys, values, strict=True)
    ):
        position = tuple_(*(key.expression for key in keys))
        bound = tuple_(
            *(
                value if isinstance(value, BindParameter) else literal(value, type_=key_type(key))
                for key, value in zip(keys, values, strict=True)
            )
        )
        return position < bound if keys[0].descending else position > bound
    condition: ColumnElement[bool] = false()
    equal_prefix: ColumnElement[bool] = true()
    for key, value in zip(keys, values, strict=True):
        expression = key.expression
        if value is None:
            beyond: ColumnElement[bool] = false()
            equal: ColumnElement[bool] = expression.is_(None)
        else:
            beyond = expression < value if key.descending else expression > value
            if key.nullable:
                beyond = or_(beyond, expression.is_(None))
            equal = expression == value
        condition = or_(condition, and_(equal_prefix, beyond))
        equal_prefix = and_(equal_prefix, equal)
    return condition


def key_type(key: SortKey) -> Any:
    return typing.cast(ColumnElement[Any], key.expression).type


def order_by(keys: Sequence[SortKey]) -> list[Any]:
    order = []
    for key in keys:
        ordered = key.expression.desc() if key.descending else key.expression.asc()
        order.append(ordered.nulls_last() if key.nullable else ordered)
    return order


def label(index: int, key: SortKey) -> str:
    """The name of a key's value among a page's columns."""
    return f"sort_{key.name}" if key.name else f"sort_key_{index}"


def labelled(keys: Sequence[SortKey]) -> list[Any]:
    return [key.expression.label(label(i, key)) for i, key in enumerate(keys)]


def keyset_values(
    keys: Sequence[SortKey], kind: str, after: str, trailing: Sequence[Callable[[Any], Any]] = ()
) -> list[Any]:
    """The typed sort values of a cursor of `kind` (NULL for a nullable key), then its `trailing`
    values (e.g. an item's ordinal); InvalidCursor when it is not one."""
    raw = decode_cursor(after, kind, len(keys) + len(trailing))
    try:
        values = [
            None if value is None and key.nullable else key.parse(value)
            for key, value in zip(keys, raw, strict=False)
        ]
        return values + [parse(value) for parse, value in zip(trailing, raw[len(keys) :], strict=True)]
    except (TypeError, ValueError) as exc:
        raise InvalidCursor("The cursor is not valid") from exc


def cursor_value(value: Any) -> Any:
    """A sort value as its cursor carries it."""
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def keyset_cursor(kind: str, values: Sequence[Any]) -> str:
    return encode_cursor(kind, [cursor_value(value) for value in values])


def cursor_of(row: Any, keys: Sequence[SortKey], kind: str) -> str:
    """The cursor of a row read with `labelled(keys)`."""
    return keyset_cursor(kind, [getattr(row, label(i, key)) for i, key in enumerate(keys)])


def keyset_select(
    query: Select[*tuple[Any, ...]], keys: Sequence[SortKey], kind: str, first: int, after: str | None
) -> Select[*tuple[Any, ...]]:
    """`query` ordered by `keys`, starting after the cursor, one row more than `first` (has-next probe)."""
    query = query.add_columns(*labelled(keys))
    if after is not None:
        query = query.where(keys_after(keys, keyset_values(keys, kind, after)))
    return query.order_by(*order_by(keys)).limit(first + 1)


def keyset_page(
    rows: Sequence[Any], keys: Sequence[SortKey], kind: str, first: int, total: BoundedCount | None = None
) -> Page[Any]:
    """The page of `first` rows of `rows` (read one row more: the has-next probe)."""
    kept = list(rows[:first])
    return Page(
        rows=kept,
        has_next_page=len(rows) > first,
        cursors=LazyCursors(kept, lambda row: cursor_of(row, keys, kind)),
        total=total,
    )
