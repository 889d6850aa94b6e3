"""What PostgreSQL can store, checked before a value reaches SQL: text without NUL or unpaired
surrogates (neither has a UTF-8 form PostgreSQL accepts, in text or in jsonb), integers within their
column types, timestamps whose UTC value is a representable instant."""

import datetime as dt
import math
import re
from typing import Any

UNSTORABLE_CHARACTERS = re.compile("[\x00\ud800-\udfff]")
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# Nesting of JSON inputs (API variables, ingested records): real ones stay under 6 levels; deeper
# values only cost memory and recursion further in.
MAX_INPUT_DEPTH = 20


def unstorable_text(text: str) -> str | None:
    """Why PostgreSQL cannot store `text`, or None when it can."""
    found = UNSTORABLE_CHARACTERS.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return "must not contain NUL (U+0000)"
    return f"must not contain an unpaired surrogate (U+{ord(found.group()):04X})"


def is_int32(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and INT32_MIN <= value <= INT32_MAX


def is_int64(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and INT64_MIN <= value <= INT64_MAX


def is_finite_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def utc_instant(value: dt.datetime) -> dt.datetime:
    """`value` in UTC (naive values are UTC); ValueError when that falls outside years 1-9999."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    try:
        return value.astimezone(dt.UTC)
    except OverflowError as exc:
        raise ValueError("is outside the representable range (years 1 to 9999 in UTC)") from exc


def value_problem(value: Any, max_depth: int = MAX_INPUT_DEPTH) -> tuple[list[str | int], str] | None:
    """The path and reason of the first part of a JSON value that cannot be accepted, else None."""
    stack: list[tuple[Any, list[str | int]]] = [(value, [])]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            reason = unstorable_text(item)
            if reason is not None:
                return path, reason
        elif isinstance(item, float) and not is_finite_number(item):
            return path, "must be a finite number"
        elif isinstance(item, dict | list):
            if len(path) >= max_depth:
                return path, f"is nested deeper than {max_depth} levels"
            if isinstance(item, dict):
                for key, member in item.items():
                    reason = unstorable_text(key) if isinstance(key, str) else None
                    if reason is not None:
                        return [*path, key], f"key {reason}"
                    stack.append((member, [*path, key]))
            else:
                stack.extend((member, [*path, index]) for index, member in enumerate(item))
    return None
