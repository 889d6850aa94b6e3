"""an index of each media type's items by release date

Revision ID: 0023
Revises: 0024

A text search filtered by media types and sorted by release date walks each type's items in release
order and merges the walks (db.media_walks), as it already did by popularity through
idx_media_type_tracker_count. Through idx_media_release_date alone it walked every type: at a
million items, 18,000 rows for a page of films and series sorted newest first, behind the announced
books and games with the latest dates.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0023"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "idx_media_type_release_date",
        "media",
        ["media_type", "release_date", "id"],
        unique=False,
        schema="media",
    )


def downgrade() -> None:
    op.drop_index("idx_media_type_release_date", table_name="media", schema="media")
