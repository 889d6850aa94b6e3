"""users' library imports and the rows of them that wrote nothing; tracker counts kept per statement

media.tracker_count was kept by a row trigger: one UPDATE of a media row per entry inserted or
deleted. A bulk import of 2,000 entries ran 2,000 of them; statement triggers with transition tables
update each touched item once per statement, with the same result.

Revision ID: 0012
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


STATEMENT_TRIGGERS = (
    """
CREATE FUNCTION interaction.count_new_trackers() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE media.media m SET tracker_count = m.tracker_count + added.n
    FROM (SELECT media_id, count(*) AS n FROM new_entries GROUP BY media_id) AS added
    WHERE m.id = added.media_id;
    RETURN NULL;
END;
$$
""",
    """
CREATE FUNCTION interaction.count_gone_trackers() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE media.media m SET tracker_count = m.tracker_count - gone.n
    FROM (SELECT media_id, count(*) AS n FROM old_entries GROUP BY media_id) AS gone
    WHERE m.id = gone.media_id;
    RETURN NULL;
END;
$$
""",
    """
CREATE TRIGGER trg_user_media_count_new_trackers
    AFTER INSERT ON interaction.user_media REFERENCING NEW TABLE AS new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION interaction.count_new_trackers()
""",
    """
CREATE TRIGGER trg_user_media_count_gone_trackers
    AFTER DELETE ON interaction.user_media REFERENCING OLD TABLE AS old_entries
    FOR EACH STATEMENT EXECUTE FUNCTION interaction.count_gone_trackers()
""",
)
ROW_TRIGGER = """
CREATE TRIGGER trg_user_media_tracker_count
    AFTER INSERT OR DELETE ON interaction.user_media
    FOR EACH ROW EXECUTE FUNCTION interaction.maintain_tracker_count();
"""


def _count(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.Integer(), server_default=sa.text("0"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "library_imports",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("format", sa.Text(), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("merge_policy", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'queued'"), nullable=False),
        *(
            _count(name)
            for name in (
                "total",
                "processed",
                "matched",
                "created",
                "updated",
                "unchanged",
                "unmatched",
                "failed",
                "lists_created",
            )
        ),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed', 'interrupted')",
            name=op.f("ck_library_imports_status"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.users.id"], name=op.f("fk_library_imports_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_library_imports")),
        schema="interaction",
    )
    op.create_index(
        "idx_library_imports_user_created",
        "library_imports",
        ["user_id", "created_at", "id"],
        unique=False,
        schema="interaction",
    )
    op.create_table(
        "library_import_problems",
        sa.Column("job_id", sa.UUID(), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column(
            "external_ids", sa.ARRAY(sa.Text()), server_default=sa.text("'{}'::text[]"), nullable=False
        ),
        sa.CheckConstraint(
            "reason IN ('not-found', 'ambiguous', 'invalid')", name=op.f("ck_library_import_problems_reason")
        ),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["interaction.library_imports.id"],
            name=op.f("fk_library_import_problems_job_id_library_imports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("job_id", "row_number", name=op.f("pk_library_import_problems")),
        schema="interaction",
    )
    op.execute("DROP TRIGGER trg_user_media_tracker_count ON interaction.user_media")
    for statement in STATEMENT_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TRIGGER trg_user_media_count_new_trackers ON interaction.user_media")
    op.execute("DROP TRIGGER trg_user_media_count_gone_trackers ON interaction.user_media")
    op.execute("DROP FUNCTION interaction.count_new_trackers()")
    op.execute("DROP FUNCTION interaction.count_gone_trackers()")
    op.execute(ROW_TRIGGER)
    op.drop_table("library_import_problems", schema="interaction")
    op.drop_index("idx_library_imports_user_created", table_name="library_imports", schema="interaction")
    op.drop_table("library_imports", schema="interaction")
