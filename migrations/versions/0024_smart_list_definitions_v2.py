"""Smart list definitions in the database's own form (version 2): snake_case keys and stored values
(`in-progress`, `book`, `updated_at`, `desc`) instead of the API's camelCase keys and GraphQL enum
names, and a "version" key

Revision ID: 0024
Revises: 0021
"""

import json
import re
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The rows' updated_at stays: the lists mean what they meant. No change notification either.
TRIGGER = "trg_user_lists_notify_update"


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def to_v2(definition: dict[str, Any]) -> dict[str, Any]:
    """A version 1 definition (as stored until now: canonical, so every part is known and valid)."""
    media = {_snake(key): value for key, value in (definition.get("media") or {}).items()}
    if "media_types" in media:
        media["media_types"] = [value.lower() for value in media["media_types"]]
    upgraded: dict[str, Any] = {"version": 2, "media": media}
    tracking = definition.get("tracking")
    if tracking is not None:
        upgraded["tracking"] = {_snake(key): value for key, value in tracking.items()}
        if "statuses" in tracking:
            upgraded["tracking"]["statuses"] = [
                value.lower().replace("_", "-") for value in tracking["statuses"]
            ]
    sort = definition.get("sort") or {}
    upgraded["sort"] = {
        "field": sort.get("field", "TITLE").lower(),
        "direction": sort.get("direction", "ASC").lower(),
    }
    return upgraded


def to_v1(definition: dict[str, Any]) -> dict[str, Any]:
    media = {_camel(key): value for key, value in (definition.get("media") or {}).items()}
    if "mediaTypes" in media:
        media["mediaTypes"] = [value.upper() for value in media["mediaTypes"]]
    downgraded: dict[str, Any] = {"media": media}
    tracking = definition.get("tracking")
    if tracking is not None:
        downgraded["tracking"] = {_camel(key): value for key, value in tracking.items()}
        if "statuses" in tracking:
            downgraded["tracking"]["statuses"] = [
                value.upper().replace("-", "_") for value in tracking["statuses"]
            ]
    sort = definition["sort"]
    downgraded["sort"] = {"field": sort["field"].upper(), "direction": sort["direction"].upper()}
    return downgraded


def _convert(where: str, convert: Any) -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(f"SELECT id, filter_definition FROM interaction.user_lists WHERE {where}")
    ).all()
    if not rows:
        return
    op.execute(f"ALTER TABLE interaction.user_lists DISABLE TRIGGER {TRIGGER}")
    bind.execute(
        sa.text(
            "UPDATE interaction.user_lists SET filter_definition = CAST(:definition AS jsonb) WHERE id = :id"
        ),
        [{"id": row.id, "definition": json.dumps(convert(row.filter_definition))} for row in rows],
    )
    op.execute(f"ALTER TABLE interaction.user_lists ENABLE TRIGGER {TRIGGER}")


def upgrade() -> None:
    _convert("filter_definition IS NOT NULL AND NOT filter_definition ? 'version'", to_v2)


def downgrade() -> None:
    _convert("filter_definition ? 'version'", to_v1)
