from typing import Any

from sqlalchemy.types import UserDefinedType


class Ltree(UserDefinedType[str]):
    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "LTREE"


class TsVector(UserDefinedType[str]):
    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "TSVECTOR"


def register_reflection() -> None:
    """Let reflection (the drift check) recognise ltree columns."""
    from sqlalchemy.dialects.postgresql.base import ischema_names

    ischema_names.setdefault("ltree", Ltree)


register_reflection()
