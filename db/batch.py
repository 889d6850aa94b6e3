"""Batch statements are built once, at import: the keys of a batch travel as one array parameter
(`column = ANY(:keys)`), so one statement text serves every batch size. SQLAlchemy then compiles it
once (its cache key is memoised on the module-level construct) and asyncpg prepares it once per
connection, where `IN (...)` expanded to a new text, compile and prepare per number of keys."""

from typing import Any

from sqlalchemy import ARRAY, BindParameter, Text, Uuid, bindparam


def uuid_keys(name: str = "keys") -> BindParameter[Any]:
    return bindparam(name, type_=ARRAY(Uuid(as_uuid=True)))


def text_keys(name: str = "keys") -> BindParameter[Any]:
    return bindparam(name, type_=ARRAY(Text))
