"""Library imports: problem rows of list items (a list's position and name beside the row number),
counts of list items not added, and at most one unfinished import per user

Revision ID: 0022
Revises: 0013
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNFINISHED = "status IN ('queued', 'running')"


def upgrade() -> None:
    op.add_column(
        "library_import_problems",
        sa.Column("list_position", sa.Integer(), server_default=sa.text("0"), nullable=False),
        schema="interaction",
    )
    op.add_column("library_import_problems", sa.Column("list_name", sa.Text()), schema="interaction")
    op.drop_constraint("pk_library_import_problems", "library_import_problems", schema="interaction")
    op.create_primary_key(
        "pk_library_import_problems",
        "library_import_problems",
        ["job_id", "list_position", "row_number"],
        schema="interaction",
    )
    for name in ("list_items_unmatched", "list_items_failed"):
        op.add_column(
            "library_imports",
            sa.Column(name, sa.Integer(), server_default=sa.text("0"), nullable=False),
            schema="interaction",
        )
    # Jobs left unfinished before this revision have no owner that could still be running them.
    op.execute(
        "UPDATE interaction.library_imports SET status = 'interrupted', finished_at = now(), "
        f"error = 'the server stopped during the import' WHERE {UNFINISHED}"
    )
    op.create_index(
        "uq_library_imports_one_unfinished_per_user",
        "library_imports",
        ["user_id"],
        unique=True,
        schema="interaction",
        postgresql_where=sa.text(UNFINISHED),
    )


def downgrade() -> None:
    op.drop_index(
        "uq_library_imports_one_unfinished_per_user", table_name="library_imports", schema="interaction"
    )
    for name in ("list_items_failed", "list_items_unmatched"):
        op.drop_column("library_imports", name, schema="interaction")
    op.execute("DELETE FROM interaction.library_import_problems WHERE list_position > 0")
    op.drop_constraint("pk_library_import_problems", "library_import_problems", schema="interaction")
    op.create_primary_key(
        "pk_library_import_problems",
        "library_import_problems",
        ["job_id", "row_number"],
        schema="interaction",
    )
    op.drop_column("library_import_problems", "list_name", schema="interaction")
    op.drop_column("library_import_problems", "list_position", schema="interaction")
