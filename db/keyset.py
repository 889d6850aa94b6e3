"""Keyset pages over several sort keys: cursors carry the typed sort values of the last row."""

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, SQLColumnExpression

from db.pagination import InvalidCursor, LazyCursors, Page, after_condition, decode_cursor, encode_cursor
from db.storable import is_finite_number, is_int32, is_int64, unstorable_text, utc_instant


@dataclass(frozen=True)
class SortKey:
    """One non-null sort expression; `parse` turns its JSON cursor value back into a SQL value."""

    expression: SQLColumnExpression[Any]
    descending: bool
    parse: Callable[[Any], Any]


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
    """Rows strictly after `values` in the order of `keys`."""
    return after_condition(
        [(cast(ColumnElement[Any], key.expression), key.descending) for key in keys], values
    )


def keyset_values(keys: Sequence[SortKey], kind: str, after: str) -> list[Any]:
    """The typed sort values of a cursor of `kind`; InvalidCursor when it is not one."""
    raw = decode_cursor(after, kind, len(keys))
    try:
        return [key.parse(value) for key, value in zip(keys, raw, strict=True)]
    except (TypeError, ValueError) as exc:
        raise InvalidCursor("The cursor is not valid") from exc


def _label(index: int) -> str:
    return f"sort_key_{index}"


def keyset_select(
    query: Select[*tuple[Any, ...]], keys: Sequence[SortKey], kind: str, first: int, after: str | None
) -> Select[*tuple[Any, ...]]:
    """`query` ordered by `keys`, starting after the cursor, one row more than `first` (has-next probe)."""
    query = query.add_columns(*(key.expression.label(_label(i)) for i, key in enumerate(keys)))
    if after is not None:
        values = keyset_values(keys, kind, after)
        query = query.where(
            after_condition(
                [(cast(ColumnElement[Any], key.expression), key.descending) for key in keys], values
            )
        )
    order = [key.expression.desc() if key.descending else key.expression.asc() for key in keys]
    return query.order_by(*order).limit(first + 1)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.date | uuid.UUID):
        return value.isoformat() if isinstance(value, dt.date) else str(value)
    return value


def cursor_of(row: Any, key_count: int, kind: str) -> str:
    return encode_cursor(kind, [_jsonable(getattr(row, _label(i))) for i in range(key_count)])


def keyset_page(rows: Sequence[Any], keys: Sequence[SortKey], kind: str, first: int) -> Page[Any]:
    kept = list(rows[:first])
    return Page(
        rows=kept,
        has_next_page=len(rows) > first,
        cursors=LazyCursors(kept, lambda row: cursor_of(row, len(keys), kind)),
    )
