"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22 03:19:44.692060
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import db.types

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMAS = ("media", "users", "interaction", "auth", "ingest")
RELATION_TYPE = postgresql.ENUM(
    "sequel",
    "prequel",
    "adaptation",
    "source",
    "spin-off",
    "shared-universe",
    "side-story",
    "parent-story",
    "alternative-version",
    "remake",
    "summary",
    "compilation",
    "crossover",
    "character",
    "other",
    name="relation_type",
    schema="media",
    create_type=False,
)
PARTITIONS = 16

TRACKER_COUNT_FUNCTION = """
CREATE FUNCTION interaction.maintain_tracker_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE media.media SET tracker_count = tracker_count + 1 WHERE id = NEW.media_id;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE media.media SET tracker_count = tracker_count - 1 WHERE id = OLD.media_id;
    END IF;
    RETURN NULL;
END;
$$
"""
TRACKER_COUNT_TRIGGER = """
CREATE TRIGGER trg_user_media_tracker_count
    AFTER INSERT OR DELETE ON interaction.user_media
    FOR EACH ROW EXECUTE FUNCTION interaction.maintain_tracker_count();
"""


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS ltree")
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for schema in SCHEMAS:
        op.execute(f"CREATE SCHEMA {schema}")
    RELATION_TYPE.create(op.get_bind())
    # array_to_string is only STABLE; the generated search_vector needs an IMMUTABLE expression.
    op.execute(
        "CREATE FUNCTION media.text_array_to_string(text[]) RETURNS text LANGUAGE sql IMMUTABLE "
        "AS $$ SELECT coalesce(array_to_string($1, ' '), '') $$"
    )
    op.create_table(
        "sources",
        sa.Column("id", sa.Integer(), sa.Identity(always=True), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sources")),
        sa.UniqueConstraint("name", name=op.f("uq_sources_name")),
        schema="ingest",
    )
    op.create_table(
        "media",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=True),
        sa.Column("media_type", sa.Text(), nullable=False),
        sa.Column("media_class", db.types.Ltree(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("release_date", sa.Date(), nullable=True),
        sa.Column("country_of_origin", sa.Text(), nullable=True),
        sa.Column(
            "creators", postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'::text[]"), nullable=False
        ),
        sa.Column("cover_url", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "attributes",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("collection_path", db.types.Ltree(), nullable=True),
        sa.Column(
            "search_vector",
            db.types.TsVector(),
            sa.Computed(
                "setweight(to_tsvector('simple'::regconfig, coalesce(title, '')), 'A') || setweight(to_tsvector('simple'::regconfig, media.text_array_to_string(creators)), 'B') || setweight(to_tsvector('english'::regconfig, coalesce(description, '')), 'C')",
                persisted=True,
            ),
            nullable=True,
        ),
        sa.Column("tracker_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media")),
        schema="media",
    )
    op.create_index(
        "idx_media_attr_genres",
        "media",
        [sa.literal_column("(attributes -> 'genres')")],
        unique=False,
        schema="media",
        postgresql_using="gin",
    )
    op.create_index(
        "idx_media_attr_isbn",
        "media",
        [sa.literal_column("(attributes ->> 'isbn')")],
        unique=False,
        schema="media",
    )
    op.create_index(
        "idx_media_attr_platforms",
        "media",
        [sa.literal_column("(attributes -> 'platforms')")],
        unique=False,
        schema="media",
        postgresql_using="gin",
    )
    op.create_index(
        "idx_media_attr_runtime_minutes",
        "media",
        [sa.literal_column("(attributes ->> 'runtime_minutes')")],
        unique=False,
        schema="media",
    )
    op.create_index(
        "idx_media_attributes", "media", ["attributes"], unique=False, schema="media", postgresql_using="gin"
    )
    op.create_index(
        "idx_media_collection_path",
        "media",
        ["collection_path"],
        unique=False,
        schema="media",
        postgresql_using="gist",
    )
    op.create_index("idx_media_created_at", "media", ["created_at", "id"], unique=False, schema="media")
    op.create_index(
        "idx_media_creators", "media", ["creators"], unique=False, schema="media", postgresql_using="gin"
    )
    op.create_index("idx_media_external_id_unique", "media", ["external_id"], unique=True, schema="media")
    op.create_index(
        "idx_media_media_class",
        "media",
        ["media_class"],
        unique=False,
        schema="media",
        postgresql_using="gist",
    )
    op.create_index("idx_media_media_type", "media", ["media_type"], unique=False, schema="media")
    op.create_index("idx_media_release_date", "media", ["release_date", "id"], unique=False, schema="media")
    op.create_index(
        "idx_media_search_vector",
        "media",
        ["search_vector"],
        unique=False,
        schema="media",
        postgresql_using="gin",
    )
    op.create_index("idx_media_title", "media", ["title"], unique=False, schema="media")
    op.create_index(
        "idx_media_title_trgm",
        "media",
        ["title"],
        unique=False,
        schema="media",
        postgresql_using="gin",
        postgresql_ops={"title": "gin_trgm_ops"},
    )
    op.create_index("idx_media_tracker_count", "media", ["tracker_count", "id"], unique=False, schema="media")
    op.create_table(
        "users",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("username", sa.Text(), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), server_default=sa.text("'user'"), nullable=False),
        sa.Column(
            "settings",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("role IN ('user', 'admin')", name=op.f("ck_users_role")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
        schema="users",
    )
    op.create_index(
        "idx_users_username_lower",
        "users",
        [sa.literal_column("lower(username)")],
        unique=True,
        schema="users",
    )
    op.create_table(
        "login_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=True),
        sa.Column("login", sa.Text(), nullable=True),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("ip", sa.Text(), nullable=True),
        sa.Column("user_agent", sa.Text(), nullable=True),
        sa.Column("event_time", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.users.id"], name=op.f("fk_login_events_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_events")),
        schema="auth",
    )
    op.create_index(
        "idx_login_events_ip_time", "login_events", ["ip", "event_time"], unique=False, schema="auth"
    )
    op.create_index(
        "idx_login_events_login_time", "login_events", ["login", "event_time"], unique=False, schema="auth"
    )
    op.create_index(
        "idx_login_events_user_id_time",
        "login_events",
        ["user_id", "event_time"],
        unique=False,
        schema="auth",
    )
    op.create_table(
        "sessions",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column(
            "last_seen_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ip", sa.Text(), nullable=True),
        sa.Column("user_agent", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.users.id"], name=op.f("fk_sessions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_sessions_token_hash")),
        schema="auth",
    )
    op.create_index("idx_sessions_user_id", "sessions", ["user_id"], unique=False, schema="auth")
    op.create_table(
        "tokens",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column("scopes", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.users.id"], name=op.f("fk_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_tokens_token_hash")),
        schema="auth",
    )
    op.create_index("idx_tokens_user_id", "tokens", ["user_id"], unique=False, schema="auth")
    op.create_table(
        "import_jobs",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("file_sha256", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), server_default=sa.text("'running'"), nullable=False),
        sa.Column("dry_run", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("batch_size", sa.Integer(), nullable=False),
        sa.Column("last_committed_line", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("inserted", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("updated", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("unchanged", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("failed", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('running', 'succeeded', 'failed', 'interrupted')", name=op.f("ck_import_jobs_status")
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["ingest.sources.id"],
            name=op.f("fk_import_jobs_source_id_sources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_jobs")),
        schema="ingest",
    )
    op.create_index(
        "idx_import_jobs_source_id", "import_jobs", ["source_id", "started_at"], unique=False, schema="ingest"
    )
    op.create_table(
        "pending_relations",
        sa.Column("media_id", sa.UUID(), nullable=False),
        sa.Column("target_source", sa.Text(), nullable=False),
        sa.Column("target_key", sa.Text(), nullable=False),
        sa.Column("relation_type", RELATION_TYPE, nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("weight", sa.SmallInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_id"],
            ["media.media.id"],
            name=op.f("fk_pending_relations_media_id_media"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "media_id", "target_source", "target_key", "relation_type", name=op.f("pk_pending_relations")
        ),
        schema="ingest",
    )
    op.create_index(
        "idx_pending_relations_target",
        "pending_relations",
        ["target_source", "target_key"],
        unique=False,
        schema="ingest",
    )
    op.create_table(
        "user_lists",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("is_public", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("list_type", sa.Text(), nullable=False),
        sa.Column("filter_definition", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("list_type IN ('static', 'smart')", name=op.f("ck_user_lists_list_type")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.users.id"], name=op.f("fk_user_lists_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_lists")),
        schema="interaction",
    )
    op.create_index(
        "idx_user_lists_user_id", "user_lists", ["user_id", "created_at"], unique=False, schema="interaction"
    )
    op.create_table(
        "user_media",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("media_id", sa.UUID(), nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'planned'"), nullable=False),
        sa.Column("progress", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("rating", sa.SmallInteger(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("repeat_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "meta_snapshot",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "status IN ('planned', 'in-progress', 'completed', 'dropped', 'paused')",
            name=op.f("ck_user_media_status"),
        ),
        sa.CheckConstraint("progress >= 0", name=op.f("ck_user_media_progress")),
        sa.CheckConstraint("rating >= 1 AND rating <= 10", name=op.f("ck_user_media_rating")),
        sa.CheckConstraint("repeat_count >= 0", name=op.f("ck_user_media_repeat_count")),
        sa.ForeignKeyConstraint(
            ["media_id"], ["media.media.id"], name=op.f("fk_user_media_media_id_media"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.users.id"], name=op.f("fk_user_media_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "media_id", name=op.f("pk_user_media")),
        schema="interaction",
        postgresql_partition_by="HASH (user_id)",
    )
    op.create_index("idx_user_media_media_id", "user_media", ["media_id"], unique=False, schema="interaction")
    op.create_index("idx_user_media_status", "user_media", ["status"], unique=False, schema="interaction")
    op.create_index("idx_user_media_user_id", "user_media", ["user_id"], unique=False, schema="interaction")
    op.create_index(
        "idx_user_media_user_status", "user_media", ["user_id", "status"], unique=False, schema="interaction"
    )
    op.create_index(
        "idx_user_media_user_updated",
        "user_media",
        ["user_id", "updated_at", "media_id"],
        unique=False,
        schema="interaction",
    )
    for n in range(PARTITIONS):
        op.execute(
            f"CREATE TABLE interaction.user_media_p{n:02d} PARTITION OF interaction.user_media "
            f"FOR VALUES WITH (MODULUS {PARTITIONS}, REMAINDER {n})"
        )
    op.execute(TRACKER_COUNT_FUNCTION)
    op.execute(TRACKER_COUNT_TRIGGER)
    op.create_table(
        "external_links",
        sa.Column("media_id", sa.UUID(), nullable=False),
        sa.Column("source_name", sa.Text(), nullable=False),
        sa.Column("external_key", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_id"],
            ["media.media.id"],
            name=op.f("fk_external_links_media_id_media"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("source_name", "external_key", name=op.f("pk_external_links")),
        schema="media",
    )
    op.create_index(
        "idx_external_links_media_id", "external_links", ["media_id"], unique=False, schema="media"
    )
    op.create_table(
        "relationships",
        sa.Column("media_id", sa.UUID(), nullable=False),
        sa.Column("related_media_id", sa.UUID(), nullable=False),
        sa.Column("relation_type", RELATION_TYPE, nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("weight", sa.SmallInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "relation_type NOT IN ('prequel', 'source', 'parent-story')",
            name=op.f("ck_relationships_canonical_direction"),
        ),
        sa.CheckConstraint("media_id <> related_media_id", name=op.f("ck_relationships_no_self_loop")),
        sa.ForeignKeyConstraint(
            ["media_id"], ["media.media.id"], name=op.f("fk_relationships_media_id_media"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["related_media_id"],
            ["media.media.id"],
            name=op.f("fk_relationships_related_media_id_media"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "media_id", "related_media_id", "relation_type", name=op.f("pk_relationships")
        ),
        schema="media",
    )
    op.create_index("idx_relationships_media_id", "relationships", ["media_id"], unique=False, schema="media")
    op.create_index(
        "idx_relationships_pair_unique",
        "relationships",
        [
            sa.literal_column("LEAST(media_id, related_media_id)"),
            sa.literal_column("GREATEST(media_id, related_media_id)"),
            "relation_type",
        ],
        unique=True,
        schema="media",
    )
    op.create_index(
        "idx_relationships_related_id", "relationships", ["related_media_id"], unique=False, schema="media"
    )
    op.create_index(
        "idx_relationships_type", "relationships", ["relation_type"], unique=False, schema="media"
    )
    op.create_table(
        "revisions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("media_id", sa.UUID(), nullable=False),
        sa.Column("actor_id", sa.UUID(), nullable=True),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column(
            "changes",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.users.id"], name=op.f("fk_revisions_actor_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revisions")),
        schema="media",
    )
    op.create_index(
        "idx_revisions_media_id_created",
        "revisions",
        ["media_id", "created_at"],
        unique=False,
        schema="media",
    )
    op.create_table(
        "conflicts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("job_id", sa.BigInteger(), nullable=False),
        sa.Column("line_number", sa.BigInteger(), nullable=True),
        sa.Column("source_name", sa.Text(), nullable=False),
        sa.Column("external_key", sa.Text(), nullable=False),
        sa.Column("existing_media_id", sa.UUID(), nullable=True),
        sa.Column("incoming_media_id", sa.UUID(), nullable=True),
        sa.Column(
            "details",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["ingest.import_jobs.id"],
            name=op.f("fk_conflicts_job_id_import_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conflicts")),
        schema="ingest",
    )
    op.create_index("idx_conflicts_job_id", "conflicts", ["job_id"], unique=False, schema="ingest")
    op.create_table(
        "import_logs",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("job_id", sa.BigInteger(), nullable=False),
        sa.Column("line_number", sa.BigInteger(), nullable=True),
        sa.Column("level", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("raw_line", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["ingest.import_jobs.id"],
            name=op.f("fk_import_logs_job_id_import_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_logs")),
        schema="ingest",
    )
    op.create_index(
        "idx_import_logs_job_id", "import_logs", ["job_id", "line_number"], unique=False, schema="ingest"
    )
    op.create_table(
        "list_items",
        sa.Column("list_id", sa.UUID(), nullable=False),
        sa.Column("media_id", sa.UUID(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["interaction.user_lists.id"],
            name=op.f("fk_list_items_list_id_user_lists"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["media_id"], ["media.media.id"], name=op.f("fk_list_items_media_id_media"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("list_id", "media_id", name=op.f("pk_list_items")),
        schema="interaction",
    )
    op.create_index(
        "idx_list_items_list_position",
        "list_items",
        ["list_id", "position"],
        unique=False,
        schema="interaction",
    )
    op.create_index("idx_list_items_media_id", "list_items", ["media_id"], unique=False, schema="interaction")


def downgrade() -> None:
    op.drop_index("idx_list_items_media_id", table_name="list_items", schema="interaction")
    op.drop_index("idx_list_items_list_position", table_name="list_items", schema="interaction")
    op.drop_table("list_items", schema="interaction")
    op.drop_index("idx_import_logs_job_id", table_name="import_logs", schema="ingest")
    op.drop_table("import_logs", schema="ingest")
    op.drop_index("idx_conflicts_job_id", table_name="conflicts", schema="ingest")
    op.drop_table("conflicts", schema="ingest")
    op.drop_index("idx_revisions_media_id_created", table_name="revisions", schema="media")
    op.drop_table("revisions", schema="media")
    op.drop_index("idx_relationships_type", table_name="relationships", schema="media")
    op.drop_index("idx_relationships_related_id", table_name="relationships", schema="media")
    op.drop_index("idx_relationships_pair_unique", table_name="relationships", schema="media")
    op.drop_index("idx_relationships_media_id", table_name="relationships", schema="media")
    op.drop_table("relationships", schema="media")
    op.drop_index("idx_external_links_media_id", table_name="external_links", schema="media")
    op.drop_table("external_links", schema="media")
    op.drop_index("idx_user_media_user_updated", table_name="user_media", schema="interaction")
    op.drop_index("idx_user_media_user_status", table_name="user_media", schema="interaction")
    op.drop_index("idx_user_media_user_id", table_name="user_media", schema="interaction")
    op.drop_index("idx_user_media_status", table_name="user_media", schema="interaction")
    op.drop_index("idx_user_media_media_id", table_name="user_media", schema="interaction")
    op.drop_table("user_media", schema="interaction")
    op.drop_index("idx_user_lists_user_id", table_name="user_lists", schema="interaction")
    op.drop_table("user_lists", schema="interaction")
    op.drop_index("idx_pending_relations_target", table_name="pending_relations", schema="ingest")
    op.drop_table("pending_relations", schema="ingest")
    op.drop_index("idx_import_jobs_source_id", table_name="import_jobs", schema="ingest")
    op.drop_table("import_jobs", schema="ingest")
    op.drop_index("idx_tokens_user_id", table_name="tokens", schema="auth")
    op.drop_table("tokens", schema="auth")
    op.drop_index("idx_sessions_user_id", table_name="sessions", schema="auth")
    op.drop_table("sessions", schema="auth")
    op.drop_index("idx_login_events_user_id_time", table_name="login_events", schema="auth")
    op.drop_index("idx_login_events_login_time", table_name="login_events", schema="auth")
    op.drop_index("idx_login_events_ip_time", table_name="login_events", schema="auth")
    op.drop_table("login_events", schema="auth")
    op.drop_index("idx_users_username_lower", table_name="users", schema="users")
    op.drop_table("users", schema="users")
    op.drop_index("idx_media_tracker_count", table_name="media", schema="media")
    op.drop_index(
        "idx_media_title_trgm",
        table_name="media",
        schema="media",
        postgresql_using="gin",
        postgresql_ops={"title": "gin_trgm_ops"},
    )
    op.drop_index("idx_media_title", table_name="media", schema="media")
    op.drop_index("idx_media_search_vector", table_name="media", schema="media", postgresql_using="gin")
    op.drop_index("idx_media_release_date", table_name="media", schema="media")
    op.drop_index("idx_media_media_type", table_name="media", schema="media")
    op.drop_index("idx_media_media_class", table_name="media", schema="media", postgresql_using="gist")
    op.drop_index("idx_media_external_id_unique", table_name="media", schema="media")
    op.drop_index("idx_media_creators", table_name="media", schema="media", postgresql_using="gin")
    op.drop_index("idx_media_created_at", table_name="media", schema="media")
    op.drop_index("idx_media_collection_path", table_name="media", schema="media", postgresql_using="gist")
    op.drop_index("idx_media_attributes", table_name="media", schema="media", postgresql_using="gin")
    op.drop_index("idx_media_attr_runtime_minutes", table_name="media", schema="media")
    op.drop_index("idx_media_attr_platforms", table_name="media", schema="media", postgresql_using="gin")
    op.drop_index("idx_media_attr_isbn", table_name="media", schema="media")
    op.drop_index("idx_media_attr_genres", table_name="media", schema="media", postgresql_using="gin")
    op.drop_table("media", schema="media")
    op.drop_table("sources", schema="ingest")
    op.execute("DROP FUNCTION interaction.maintain_tracker_count()")
    RELATION_TYPE.drop(op.get_bind())
    op.execute("DROP FUNCTION media.text_array_to_string(text[])")
    for schema in reversed(SCHEMAS):
        op.execute(f"DROP SCHEMA {schema}")
