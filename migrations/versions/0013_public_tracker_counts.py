"""Aggregates count entries of PUBLIC profiles only (media.tracker_count for popularity, and
interaction.media_stats for Media.stats), and follow profile visibility changes and user deletion

Revision ID: 0013
Revises: 0012
"""

import importlib
from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

IS_PUBLIC = "coalesce(({row}.settings ->> 'profile_visibility') = 'public', false)"

# FOR SHARE waits for a concurrent visibility change of the owners, so the entry triggers and the
# visibility trigger never both miss (or both count) the same entry.
TRACKER_COUNT_FUNCTIONS = tuple(
    f"""
CREATE OR REPLACE FUNCTION interaction.{name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM users.users u WHERE u.id IN (SELECT user_id FROM {table}) FOR SHARE;
    UPDATE media.media m SET tracker_count = m.tracker_count {sign} changed.n
    FROM (
        SELECT e.media_id, count(*) AS n
        FROM {table} e JOIN users.users u ON u.id = e.user_id
        WHERE {IS_PUBLIC.format(row="u")}
        GROUP BY e.media_id
    ) AS changed
    WHERE m.id = changed.media_id;
    RETURN NULL;
END;
$$
"""
    for name, table, sign in (
        ("count_new_trackers", "new_entries", "+"),
        ("count_gone_trackers", "old_entries", "-"),
    )
)
STATS_FUNCTION = f"""
CREATE OR REPLACE FUNCTION interaction.maintain_media_stats() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    owner uuid;
BEGIN
    owner := CASE WHEN TG_OP = 'DELETE' THEN OLD.user_id ELSE NEW.user_id END;
    PERFORM 1 FROM users.users u WHERE u.id = owner AND {IS_PUBLIC.format(row="u")} FOR SHARE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE interaction.media_stats
        SET entries = entries - 1,
            ratings = ratings - (OLD.rating IS NOT NULL)::int,
            rating_sum = rating_sum - coalesce(OLD.rating, 0)
        WHERE media_id = OLD.media_id AND status = OLD.status;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO interaction.media_stats AS s (media_id, status, entries, ratings, rating_sum)
        VALUES (NEW.media_id, NEW.status, 1, (NEW.rating IS NOT NULL)::int, coalesce(NEW.rating, 0))
        ON CONFLICT (media_id, status) DO UPDATE
        SET entries = s.entries + 1,
            ratings = s.ratings + excluded.ratings,
            rating_sum = s.rating_sum + excluded.rating_sum;
    END IF;
    RETURN NULL;
END;
$$
"""
VISIBILITY_FUNCTION = f"""
CREATE FUNCTION users.maintain_public_tracker_counts() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    was_public boolean;
    is_public boolean;
    sign int;
BEGIN
    was_public := {IS_PUBLIC.format(row="OLD")};
    is_public := TG_OP = 'UPDATE' AND {IS_PUBLIC.format(row="NEW")};
    IF was_public <> is_public THEN
        sign := CASE WHEN is_public THEN 1 ELSE -1 END;
        UPDATE media.media m
        SET tracker_count = m.tracker_count + sign
        FROM interaction.user_media um
        WHERE um.user_id = OLD.id AND um.media_id = m.id;
        INSERT INTO interaction.media_stats AS s (media_id, status, entries, ratings, rating_sum)
        SELECT um.media_id, um.status, sign * count(*), sign * count(um.rating),
               sign * coalesce(sum(um.rating), 0)
        FROM interaction.user_media um
        WHERE um.user_id = OLD.id
        GROUP BY um.media_id, um.status
        ON CONFLICT (media_id, status) DO UPDATE
        SET entries = s.entries + excluded.entries,
            ratings = s.ratings + excluded.ratings,
            rating_sum = s.rating_sum + excluded.rating_sum;
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END;
$$
"""
# BEFORE DELETE: the entries of a deleted user go by cascade after the user row, when the entry
# triggers can no longer see whether the owner was public.
VISIBILITY_TRIGGERS = (
    """CREATE TRIGGER trg_users_public_tracker_counts
    AFTER UPDATE OF settings ON users.users
    FOR EACH ROW EXECUTE FUNCTION users.maintain_public_tracker_counts()""",
    """CREATE TRIGGER trg_users_deleted_tracker_counts
    BEFORE DELETE ON users.users
    FOR EACH ROW EXECUTE FUNCTION users.maintain_public_tracker_counts()""",
)


def _recount(public_only: bool) -> None:
    join = "JOIN users.users u ON u.id = um.user_id" if public_only else ""
    where = f"WHERE {IS_PUBLIC.format(row='u')}" if public_only else ""
    op.execute(
        f"""
        UPDATE media.media m SET tracker_count = coalesce(counted.n, 0)
        FROM media.media m2
        LEFT JOIN (
            SELECT um.media_id, count(*) AS n FROM interaction.user_media um {join} {where}
            GROUP BY um.media_id
        ) AS counted ON counted.media_id = m2.id
        WHERE m.id = m2.id AND m.tracker_count IS DISTINCT FROM coalesce(counted.n, 0)
        """
    )
    op.execute("DELETE FROM interaction.media_stats")
    op.execute(
        f"""
        INSERT INTO interaction.media_stats (media_id, status, entries, ratings, rating_sum)
        SELECT um.media_id, um.status, count(*), count(um.rating), coalesce(sum(um.rating), 0)
        FROM interaction.user_media um {join} {where}
        GROUP BY um.media_id, um.status
        """
    )


def upgrade() -> None:
    for function in (*TRACKER_COUNT_FUNCTIONS, STATS_FUNCTION, VISIBILITY_FUNCTION):
        op.execute(function)
    for trigger in VISIBILITY_TRIGGERS:
        op.execute(trigger)
    _recount(public_only=True)


def downgrade() -> None:
    op.execute("DROP TRIGGER trg_users_deleted_tracker_counts ON users.users")
    op.execute("DROP TRIGGER trg_users_public_tracker_counts ON users.users")
    op.execute("DROP FUNCTION users.maintain_public_tracker_counts()")
    search = importlib.import_module("migrations.versions.0010_search_relevance_and_counters")
    imports = importlib.import_module("migrations.versions.0012_library_imports")
    for function in (search.STATS_TRIGGER_FUNCTION, *imports.STATEMENT_TRIGGERS[:2]):
        op.execute(function.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
    _recount(public_only=False)
