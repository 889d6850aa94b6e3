"""Batch statements are built once, at import: the keys of a batch travel as one array parameter
(`column = ANY(:keys)`), so one statement text serves every batch size. SQLAlchemy then compiles it
once (its cache key is memoised on the module-level construct) and asyncpg prepares it once per
connection, where `IN (...)` expanded to a new text, compile and prepare per number of keys."""

from typing import Any

from sqlalchemy import ARRAY, BindParameter, Text, Uuid, bindparam, union_all


def uuid_keys(name: str = "keys") -> BindParameter[Any]:
    return bindparam(name, type_=ARRAY(Uuid(as_uuid=True)))


def text_keys(name: str = "keys") -> BindParameter[Any]:
    return bindparam(name, type_=ARRAY(Text))


def union_of(parts: list[Any]) -> Any:
    """One statement of the parts of a batch (UNION ALL when more than one); None when there are none."""
    if len(parts) > 1:
        return union_all(*parts)
    return parts[0] if parts else None
