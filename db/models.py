"""Typed models of every table; the alembic chain in migrations/ builds exactly these (a test checks)."""

import datetime as dt
import uuid
from typing import Annotated, Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Computed,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from db.types import Ltree, TsVector
from db.vocabulary import (
    DATE_PRECISIONS,
    INVERSE_RELATION,
    LIST_TYPES,
    NON_CANONICAL_RELATIONS,
    RELATION_TYPES,
    TRACKING_STATUSES,
    USER_ROLES,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Re-exported for the modules that import them from here; defined in db/vocabulary.py.
__all__ = [
    "DATE_PRECISIONS",
    "INVERSE_RELATION",
    "NON_CANONICAL_RELATIONS",
    "RELATION_TYPES",
    "TRACKING_STATUSES",
]

uuid_pk = Annotated[
    uuid.UUID, mapped_column(UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()"))
]
created_ts = Annotated[dt.datetime, mapped_column(DateTime(timezone=True), server_default=func.now())]
jsonb_object = Annotated[dict[str, Any], mapped_column(JSONB, server_default=text("'{}'::jsonb"))]

# Every title of an item (its title, then its alternative titles): the one place that says where
# alternative titles are stored. search_titles and search_vector are built from it.
ALL_TITLES = "media.item_titles(title, alternative_titles)"
SEARCH_TITLES = f"media.title_keys({ALL_TITLES})"
SEARCH_VECTOR = (
    f"setweight(to_tsvector('simple'::regconfig, media.fold(media.text_array_to_string({ALL_TITLES}))), 'A') || "
    "setweight(to_tsvector('simple'::regconfig, media.fold(media.text_array_to_string(creators))), 'B') || "
    "setweight(to_tsvector('english'::regconfig, media.fold(coalesce(description, ''))), 'C')"
)
CATALOG_COUNT_SHARDS = 16

relation_type_enum = Enum(*RELATION_TYPES, name="relation_type", schema="media", create_type=False)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Media(Base):
    __tablename__ = "media"
    __table_args__ = (
        Index("idx_media_title", "title", "id"),
        Index("idx_media_external_id_unique", "external_id", unique=True),
        Index("idx_media_attributes", "attributes", postgresql_using="gin"),
        Index("idx_media_attr_isbn", text("(attributes ->> 'isbn')")),
        Index("idx_media_attr_runtime_minutes", text("(attributes ->> 'runtime_minutes')")),
        Index("idx_media_attr_platforms", text("(attributes -> 'platforms')"), postgresql_using="gin"),
        Index("idx_media_attr_genres", text("(attributes -> 'genres')"), postgresql_using="gin"),
        Index("idx_media_media_class", "media_class", postgresql_using="gist"),
        Index("idx_media_collection_path", "collection_path", postgresql_using="gist"),
        Index("idx_media_search_vector", "search_vector", postgresql_using="gin"),
        # The popular tier of db.media_walks (POPULAR_TIER).
        Index(
            "idx_media_search_popular",
            "search_vector",
            postgresql_using="gin",
            postgresql_where=text("tracker_count >= 10"),
        ),
        Index("idx_media_search_titles", "search_titles", postgresql_using="gin"),
        Index("idx_media_type_title", "media_type", "title", "id"),
        Index("idx_media_type_tracker_count", "media_type", "tracker_count", "id"),
        Index("idx_media_type_release_date", "media_type", "release_date", "id"),
        Index(
            "idx_media_title_trgm", "title", postgresql_using="gin", postgresql_ops={"title": "gin_trgm_ops"}
        ),
        Index("idx_media_release_date", "release_date", "id"),
        Index("idx_media_created_at", "created_at", "id"),
        Index("idx_media_tracker_count", "tracker_count", "id"),
        Index("idx_media_creators", "creators", postgresql_using="gin"),
        CheckConstraint(
            f"release_date_precision IN ({', '.join(repr(p) for p in DATE_PRECISIONS)})",
            name="release_date_precision",
        ),
        {"schema": "media"},
    )

    id: Mapped[uuid_pk]
    external_id: Mapped[str | None] = mapped_column(Text)
    media_type: Mapped[str] = mapped_column(Text)
    media_class: Mapped[str] = mapped_column(Ltree())
    title: Mapped[str] = mapped_column(Text)
    release_date: Mapped[dt.date | None] = mapped_column(Date)
    release_date_precision: Mapped[str] = mapped_column(Text, server_default=text("'day'"))
    alternative_titles: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, server_default=text("'[]'::jsonb")
    )
    country_of_origin: Mapped[str | None] = mapped_column(Text)
    creators: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'::text[]"))
    cover_url: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    attributes: Mapped[jsonb_object]
    collection_path: Mapped[str | None] = mapped_column(Ltree())
    # Who set each field: "admin", "feed:<source>" or "legacy"; "*" covers the fields not listed
    # (docs/ingestion.md, Provenance). "attributes.<key>" entries track attribute keys one by one.
    field_sources: Mapped[jsonb_object]
    search_vector: Mapped[str | None] = mapped_column(
        TsVector(),
        Computed(SEARCH_VECTOR, persisted=True),
    )
    search_titles: Mapped[list[str] | None] = mapped_column(
        ARRAY(Text), Computed(SEARCH_TITLES, persisted=True)
    )
    tracker_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    created_at: Mapped[created_ts]
    updated_at: Mapped[created_ts]


# Every word of the catalog's titles and creators, for the typo tier of search (kept by a trigger).
# No unique key, so concurrent writers never wait on each other for a new word.
title_words = Table(
    "title_words",
    Base.metadata,
    Column("word", Text, nullable=False),
    Index("idx_title_words_word", "word"),
    Index("idx_title_words_trgm", "word", postgresql_using="gin", postgresql_ops={"word": "gin_trgm_ops"}),
    schema="media",
)


class CatalogCount(Base):
    """Items per media type, taxonomy class and genre for filter menus, kept by a trigger on media.
    A value's count is the sum over its shards."""

    __tablename__ = "catalog_counts"
    __table_args__ = (CheckConstraint("kind IN ('type', 'class', 'genre')", name="kind"), {"schema": "media"})

    kind: Mapped[str] = mapped_column(Text, primary_key=True)
    value: Mapped[str] = mapped_column(Text, primary_key=True)
    shard: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    items: Mapped[int] = mapped_column(BigInteger)


class ExternalLink(Base):
    __tablename__ = "external_links"
    __table_args__ = (Index("idx_external_links_media_id", "media_id"), {"schema": "media"})

    media_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("media.media.id", ondelete="CASCADE")
    )
    source_name: Mapped[str] = mapped_column(Text, primary_key=True)
    external_key: Mapped[str] = mapped_column(Text, primary_key=True)


class Relationship(Base):
    __tablename__ = "relationships"
    __table_args__ = (
        Index("idx_relationships_media_id", "media_id"),
        Index("idx_relationships_related_id", "related_media_id"),
        Index("idx_relationships_type", "relation_type"),
        Index(
            "idx_relationships_pair_unique",
            text("LEAST(media_id, related_media_id)"),
            text("GREATEST(media_id, related_media_id)"),
            "relation_type",
            unique=True,
        ),
        CheckConstraint("media_id <> related_media_id", name="no_self_loop"),
        CheckConstraint(
            f"relation_type NOT IN ({', '.join(repr(label) for label in NON_CANONICAL_RELATIONS)})",
            name="canonical_direction",
        ),
        {"schema": "media"},
    )

    media_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("media.media.id", ondelete="CASCADE"), primary_key=True
    )
    related_media_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("media.media.id", ondelete="CASCADE"), primary_key=True
    )
    relation_type: Mapped[str] = mapped_column(relation_type_enum, primary_key=True)
    notes: Mapped[str | None] = mapped_column(Text)
    weight: Mapped[int | None] = mapped_column(SmallInteger)
    created_at: Mapped[created_ts]


class MediaRevision(Base):
    """Change history by admins (actor_id) and feeds (job_id, source); no foreign key on media_id so
    a deleted item keeps its history."""

    __tablename__ = "revisions"
    __table_args__ = (Index("idx_revisions_media_id_created", "media_id", "created_at"), {"schema": "media"})

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    media_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.users.id", ondelete="SET NULL")
    )
    action: Mapped[str] = mapped_column(Text)
    changes: Mapped[jsonb_object]
    created_at: Mapped[created_ts]
    job_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("ingest.import_jobs.id", ondelete="SET NULL")
    )
    source: Mapped[str | None] = mapped_column(Text)


class MediaRedirect(Base):
    """A merged-away item's id, still resolving to the item it was merged into."""

    __tablename__ = "redirects"
    __table_args__ = (Index("idx_redirects_media_id", "media_id"), {"schema": "media"})

    old_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    media_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("media.media.id", ondelete="CASCADE")
    )
    created_at: Mapped[created_ts]


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        Index("idx_users_username_lower", text("lower(username)"), unique=True),
        CheckConstraint(f"role IN ({', '.join(repr(role) for role in USER_ROLES)})", name="role"),
        {"schema": "users"},
    )

    id: Mapped[uuid_pk]
    email: Mapped[str] = mapped_column(Text, unique=True)
    username: Mapped[str] = mapped_column(Text, unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(Text, server_default=text("'user'"))
    settings: Mapped[jsonb_object]
    created_at: Mapped[created_ts]
    updated_at: Mapped[created_ts]


class Session(Base):
    __tablename__ = "sessions"
    __table_args__ = (Index("idx_sessions_user_id", "user_id"), {"schema": "auth"})

    id: Mapped[uuid_pk]
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.users.id", ondelete="CASCADE")
    )
    token_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    created_at: Mapped[created_ts]
    last_seen_at: Mapped[created_ts]
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    ip: Mapped[str | None] = mapped_column(Text)
    user_agent: Mapped[str | None] = mapped_column(Text)


class ApiToken(Base):
    __tablename__ = "tokens"
    __table_args__ = (Index("idx_tokens_user_id", "user_id"), {"schema": "auth"})

    id: Mapped[uuid_pk]
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.users.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(Text)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(Text))
    created_at: Mapped[created_ts]
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class LoginEvent(Base):
    __tablename__ = "login_events"
    __table_args__ = (
        Index("idx_login_events_user_id_time", "user_id", "event_time"),
        Index("idx_login_events_ip_time", "ip", "event_time"),
        Index("idx_login_events_login_time", "login", "event_time"),
        Index("idx_login_events_event_time", "event_time"),
        {"schema": "auth"},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.users.id", ondelete="SET NULL")
    )
    login: Mapped[str | None] = mapped_column(Text)
    success: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(Text)
    ip: Mapped[str | None] = mapped_column(Text)
    user_agent: Mapped[str | None] = mapped_column(Text)
    event_time: Mapped[created_ts]


class UserMedia(Base):
    __tablename__ = "user_media"
    __table_args__ = (
        Index("idx_user_media_user_id", "user_id"),
        Index("idx_user_media_user_status", "user_id", "status"),
        Index("idx_user_media_media_id", "media_id"),
        Index("idx_user_media_status", "status"),
        Index("idx_user_media_user_updated", "user_id", "updated_at", "media_id"),
        CheckConstraint(
            f"status IN ({', '.join(repr(status) for status in TRACKING_STATUSES)})", name="status"
        ),
        CheckConstraint("rating >= 1 AND rating <= 10", name="rating"),
        CheckConstraint("progress >= 0", name="progress"),
        CheckConstraint("repeat_count >= 0", name="repeat_count"),
        {"schema": "interaction", "postgresql_partition_by": "HASH (user_id)"},
    )

    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.users.id", ondelete="CASCADE"), primary_key=True
    )
    media_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("media.media.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(Text, server_default=text("'planned'"))
    progress: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    rating: Mapped[int | None] = mapped_column(SmallInteger)
    notes: Mapped[str | None] = mapped_column(Text)
    repeat_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    meta_snapshot: Mapped[jsonb_object]
    created_at: Mapped[created_ts]
    updated_at: Mapped[created_ts]


class MediaStatsCount(Base):
    """Entries, ratings and their sum per item and status, kept by a trigger on user_media."""

    __tablename__ = "media_stats"
    __table_args__ = ({"schema": "interaction"},)

    media_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("media.media.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(Text, primary_key=True)
    entries: Mapped[int] = mapped_column(Integer)
    ratings: Mapped[int] = mapped_column(Integer)
    rating_sum: Mapped[int] = mapped_column(BigInteger)


class UserList(Base):
    __tablename__ = "user_lists"
    __table_args__ = (
        Index("idx_user_lists_user_id", "user_id", "created_at"),
        CheckConstraint(f"list_type IN ({', '.join(repr(kind) for kind in LIST_TYPES)})", name="list_type"),
        {"schema": "interaction"},
    )

    id: Mapped[uuid_pk]
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.users.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    is_public: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    list_type: Mapped[str] = mapped_column(Text)
    filter_definition: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[created_ts]
    updated_at: Mapped[created_ts]


class ListItem(Base):
    __tablename__ = "list_items"
    __table_args__ = (
        Index("idx_list_items_list_position", "list_id", "position"),
        Index("idx_list_items_media_id", "media_id"),
        {"schema": "interaction"},
    )

    list_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("interaction.user_lists.id", ondelete="CASCADE"), primary_key=True
    )
    media_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("media.media.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(BigInteger)
    added_at: Mapped[created_ts]


class Source(Base):
    __tablename__ = "sources"
    __table_args__ = ({"schema": "ingest"},)

    id: Mapped[int] = mapped_column(Integer, Identity(always=True), primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    created_at: Mapped[created_ts]


class ImportJob(Base):
    __tablename__ = "import_jobs"
    __table_args__ = (
        Index("idx_import_jobs_source_id", "source_id", "started_at"),
        CheckConstraint("status IN ('running', 'succeeded', 'failed', 'interrupted')", name="status"),
        {"schema": "ingest"},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    source_id: Mapped[int] = mapped_column(Integer, ForeignKey("ingest.sources.id", ondelete="CASCADE"))
    file_name: Mapped[str] = mapped_column(Text)
    file_sha256: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default=text("'running'"))
    dry_run: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    batch_size: Mapped[int] = mapped_column(Integer)
    last_committed_line: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    inserted: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    updated: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    unchanged: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    failed: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    # Per field: how many values the run changed, and how many it left because another source owns them.
    changed_fields: Mapped[jsonb_object]
    kept_fields: Mapped[jsonb_object]
    started_at: Mapped[created_ts]
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class ImportLog(Base):
    __tablename__ = "import_logs"
    __table_args__ = (Index("idx_import_logs_job_id", "job_id", "line_number"), {"schema": "ingest"})

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    job_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("ingest.import_jobs.id", ondelete="CASCADE"))
    line_number: Mapped[int | None] = mapped_column(BigInteger)
    level: Mapped[str] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text)
    raw_line: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[created_ts]


class Conflict(Base):
    __tablename__ = "conflicts"
    __table_args__ = (
        Index("idx_conflicts_job_id", "job_id"),
        Index("idx_conflicts_open", "id", postgresql_where=text("resolved_at IS NULL")),
        {"schema": "ingest"},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    job_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("ingest.import_jobs.id", ondelete="CASCADE"))
    line_number: Mapped[int | None] = mapped_column(BigInteger)
    source_name: Mapped[str] = mapped_column(Text)
    external_key: Mapped[str] = mapped_column(Text)
    kind: Mapped[str | None] = mapped_column(Text)
    existing_media_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    incoming_media_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    details: Mapped[jsonb_object]
    created_at: Mapped[created_ts]
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class JobKey(Base):
    """Every key a record of an import job gave, with the first record that gave it: two records
    of one run sharing a key are a conflict even when their batches are far apart (db/ingest_batch.py)."""

    __tablename__ = "job_keys"
    __table_args__ = {"schema": "ingest"}

    # No foreign key: its check would cost more than the insert itself, for rows that live only as
    # long as their run (deleted when it succeeds).
    job_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    source_name: Mapped[str] = mapped_column(Text, primary_key=True)
    external_key: Mapped[str] = mapped_column(Text, primary_key=True)
    line_number: Mapped[int] = mapped_column(BigInteger)
    # The "source:key" external id of the record that gave the key first.
    record_id: Mapped[str] = mapped_column(Text)


class PendingRelation(Base):
    """A relation whose target has not been ingested yet; resolved when the target arrives."""

    __tablename__ = "pending_relations"
    __table_args__ = (
        Index("idx_pending_relations_target", "target_source", "target_key"),
        {"schema": "ingest"},
    )

    media_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("media.media.id", ondelete="CASCADE"), primary_key=True
    )
    target_source: Mapped[str] = mapped_column(Text, primary_key=True)
    target_key: Mapped[str] = mapped_column(Text, primary_key=True)
    relation_type: Mapped[str] = mapped_column(relation_type_enum, primary_key=True)
    notes: Mapped[str | None] = mapped_column(Text)
    weight: Mapped[int | None] = mapped_column(SmallInteger)
    created_at: Mapped[created_ts]


LIBRARY_IMPORT_STATUSES = ("queued", "running", "succeeded", "failed", "interrupted")
LIBRARY_IMPORT_PROBLEMS = ("not-found", "ambiguous", "invalid")


class LibraryImport(Base):
    """A user's import of a library file (db/library_import/); owner-only, like the entries it writes."""

    __tablename__ = "library_imports"
    __table_args__ = (
        Index("idx_library_imports_user_created", "user_id", "created_at", "id"),
        # One import at a time per user: two would lock the same entries in different orders.
        Index(
            "uq_library_imports_one_unfinished_per_user",
            "user_id",
            unique=True,
            postgresql_where=text("status IN ('queued', 'running')"),
        ),
        CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed', 'interrupted')", name="status"
        ),
        {"schema": "interaction"},
    )

    id: Mapped[uuid_pk]
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.users.id", ondelete="CASCADE")
    )
    format: Mapped[str] = mapped_column(Text)
    file_name: Mapped[str] = mapped_column(Text)
    merge_policy: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default=text("'queued'"))
    total: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    processed: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    matched: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    created: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    updated: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    unchanged: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    unmatched: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    failed: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    lists_created: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    list_items_unmatched: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    list_items_failed: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[created_ts]
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class LibraryImportProblem(Base):
    """A row of an import file that wrote nothing: no catalog item, several, or invalid values. A list
    item's row is numbered within its list (list_position counts the file's lists from 1; 0 = entries)."""

    __tablename__ = "library_import_problems"
    __table_args__ = (
        CheckConstraint(f"reason IN ({', '.join(repr(r) for r in LIBRARY_IMPORT_PROBLEMS)})", name="reason"),
        {"schema": "interaction"},
    )

    job_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("interaction.library_imports.id", ondelete="CASCADE"), primary_key=True
    )
    list_position: Mapped[int] = mapped_column(Integer, primary_key=True, server_default=text("0"))
    row_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    list_name: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    year: Mapped[int | None] = mapped_column(Integer)
    external_ids: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'::text[]"))
