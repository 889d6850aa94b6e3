"""alternative titles, partial release dates, per-field provenance, feed revisions, media redirects

Revision ID: 0011
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# attributes.alternative_titles (strings or {title, language} objects) move to their own column.
MOVE_ALTERNATIVE_TITLES = """
UPDATE media.media m SET
    alternative_titles = coalesce((
        SELECT jsonb_agg(jsonb_build_object(
            'title', btrim(CASE jsonb_typeof(e) WHEN 'string' THEN e #>> '{}' ELSE e ->> 'title' END),
            'language', CASE WHEN jsonb_typeof(e -> 'language') = 'string' THEN e -> 'language' END
        ) ORDER BY n)
        FROM jsonb_array_elements(
            CASE jsonb_typeof(m.attributes -> 'alternative_titles')
                WHEN 'array' THEN m.attributes -> 'alternative_titles'
                ELSE jsonb_build_array(m.attributes -> 'alternative_titles')
            END
        ) WITH ORDINALITY AS t(e, n)
        WHERE btrim(CASE jsonb_typeof(e) WHEN 'string' THEN e #>> '{}'
                    WHEN 'object' THEN CASE WHEN jsonb_typeof(e -> 'title') = 'string' THEN e ->> 'title' END
                    END) <> ''
    ), '[]'::jsonb),
    attributes = m.attributes - 'alternative_titles'
WHERE m.attributes ? 'alternative_titles'
"""

# Fields that admins created or changed before provenance existed belong to the admins.
ADMIN_FIELDS_FROM_REVISIONS = """
UPDATE media.media m SET field_sources = m.field_sources || s.sources
FROM (
    SELECT r.media_id, jsonb_object_agg(f.name, 'admin') AS sources
    FROM media.revisions r
    CROSS JOIN LATERAL (
        SELECT '*' AS name WHERE r.action = 'create'
        UNION ALL
        SELECT k FROM jsonb_object_keys(CASE WHEN r.action = 'update' THEN r.changes -> 'after' END) AS k
        WHERE k <> 'attributes'
        UNION ALL
        SELECT 'attributes.' || k
        FROM jsonb_object_keys(
            CASE WHEN r.action = 'update' AND jsonb_typeof(r.changes -> 'after' -> 'attributes') = 'object'
            THEN coalesce(r.changes -> 'before' -> 'attributes', '{}'::jsonb) || (r.changes -> 'after' -> 'attributes')
            END
        ) AS k
        WHERE (r.changes -> 'before' -> 'attributes' -> k) IS DISTINCT FROM (r.changes -> 'after' -> 'attributes' -> k)
    ) AS f
    WHERE r.action IN ('create', 'update')
    GROUP BY r.media_id
) AS s
WHERE s.media_id = m.id
"""


def upgrade() -> None:
    op.add_column(
        "media",
        sa.Column(
            "alternative_titles",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        schema="media",
    )
    op.add_column(
        "media",
        sa.Column("release_date_precision", sa.Text(), server_default=sa.text("'day'"), nullable=False),
        schema="media",
    )
    op.create_check_constraint(
        op.f("ck_media_release_date_precision"),
        "media",
        "release_date_precision IN ('year', 'month', 'day')",
        schema="media",
    )
    op.add_column(
        "media",
        sa.Column(
            "field_sources",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        schema="media",
    )
    op.execute(MOVE_ALTERNATIVE_TITLES)
    op.execute(ADMIN_FIELDS_FROM_REVISIONS)

    op.add_column("revisions", sa.Column("job_id", sa.BigInteger(), nullable=True), schema="media")
    op.add_column("revisions", sa.Column("source", sa.Text(), nullable=True), schema="media")
    op.create_foreign_key(
        op.f("fk_revisions_job_id_import_jobs"),
        "revisions",
        "import_jobs",
        ["job_id"],
        ["id"],
        source_schema="media",
        referent_schema="ingest",
        ondelete="SET NULL",
    )

    op.create_table(
        "redirects",
        sa.Column("old_id", sa.UUID(), nullable=False),
        sa.Column("media_id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_id"], ["media.media.id"], name=op.f("fk_redirects_media_id_media"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("old_id", name=op.f("pk_redirects")),
        schema="media",
    )
    op.create_index("idx_redirects_media_id", "redirects", ["media_id"], unique=False, schema="media")

    for column in ("changed_fields", "kept_fields"):
        op.add_column(
            "import_jobs",
            sa.Column(
                column,
                postgresql.JSONB(astext_type=sa.Text()),
                server_default=sa.text("'{}'::jsonb"),
                nullable=False,
            ),
            schema="ingest",
        )
    op.add_column("conflicts", sa.Column("kind", sa.Text(), nullable=True), schema="ingest")


def downgrade() -> None:
    op.drop_column("conflicts", "kind", schema="ingest")
    op.drop_column("import_jobs", "kept_fields", schema="ingest")
    op.drop_column("import_jobs", "changed_fields", schema="ingest")
    op.drop_index("idx_redirects_media_id", table_name="redirects", schema="media")
    op.drop_table("redirects", schema="media")
    op.drop_constraint(
        op.f("fk_revisions_job_id_import_jobs"), "revisions", schema="media", type_="foreignkey"
    )
    op.drop_column("revisions", "source", schema="media")
    op.drop_column("revisions", "job_id", schema="media")
    op.execute(
        "UPDATE media.media SET attributes = attributes || jsonb_build_object('alternative_titles', alternative_titles) "
        "WHERE alternative_titles <> '[]'::jsonb"
    )
    op.drop_column("media", "field_sources", schema="media")
    op.drop_constraint(op.f("ck_media_release_date_precision"), "media", schema="media", type_="check")
    op.drop_column("media", "release_date_precision", schema="media")
    op.drop_column("media", "alternative_titles", schema="media")
