"""Database objects alembic's autogenerate cannot see, shared by migrations and the drift check."""

from typing import Any

SCHEMAS = ("media", "users", "interaction", "auth", "ingest")


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Hide the hash partitions of interaction.user_media: they are created by the migration, not modelled."""
    if type_ == "table" and name is not None and name.startswith("user_media_p"):
        return False
    return not (type_ == "table" and name == "alembic_version")
