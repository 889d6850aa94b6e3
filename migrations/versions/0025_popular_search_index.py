"""a full-text index of the popular items (tracked by at least 10 people)

Revision ID: 0025
Revises: 0023

The ranked window of a search is its 100 most popular matches. When the words are not common
enough for a walk of the popularity index, every match was read through idx_media_search_vector and
sorted: at a million items 2,500 matches of two words, whose posting lists (4 % of the catalog
each) cost more than the matches. When the popular items alone hold 101 matches, those are the
most popular ones: db.media_walks reads them through this index, a seventh of the catalog.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "idx_media_search_popular",
        "media",
        ["search_vector"],
        unique=False,
        schema="media",
        postgresql_using="gin",
        postgresql_where=sa.text("tracker_count >= 10"),
    )


def downgrade() -> None:
    op.drop_index("idx_media_search_popular", table_name="media", schema="media")
