"""Date and DateTime as strawberry spells them, but with errors that say what is wrong and where:
a parse failure is a ValueError, which graphql-core reports with the value's location (inline) or the
variable's path; DateTime also refuses instants outside what can be stored."""

import datetime as dt
from typing import Any

from strawberry.schema.types.base_scalars import DateDefinition, DateTimeDefinition
from strawberry.types.scalar import ScalarDefinition

from db.storable import utc_instant


def parse_date(value: Any) -> dt.date:
    if not isinstance(value, str):
        raise TypeError("a Date is a string YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(
            f"not a calendar date YYYY-MM-DD between 0001-01-01 and 9999-12-31 ({exc})"
        ) from None


def parse_datetime(value: Any) -> dt.datetime:
    if not isinstance(value, str):
        raise TypeError("a DateTime is an ISO 8601 string such as 2024-05-01T18:30:00Z")
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"not an ISO 8601 date and time such as 2024-05-01T18:30:00Z ({exc})") from None
    try:
        utc_instant(parsed)
    except ValueError as exc:
        raise ValueError(f"the instant {exc}") from None
    return parsed


DATE = ScalarDefinition(
    name=DateDefinition.name,
    description=DateDefinition.description,
    specified_by_url=None,
    serialize=DateDefinition.serialize,
    parse_value=parse_date,
    parse_literal=None,
    origin=dt.date,
)
DATE_TIME = ScalarDefinition(
    name=DateTimeDefinition.name,
    description=DateTimeDefinition.description,
    specified_by_url=None,
    serialize=DateTimeDefinition.serialize,
    parse_value=parse_datetime,
    parse_literal=None,
    origin=dt.datetime,
)
SCALAR_OVERRIDES: dict[object, ScalarDefinition] = {dt.date: DATE, dt.datetime: DATE_TIME}
