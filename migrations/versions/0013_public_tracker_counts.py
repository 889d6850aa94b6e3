"""media.tracker_count counts entries of PUBLIC profiles only, and follows profile visibility changes

Revision ID: 0013
Revises: 0011
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

IS_PUBLIC = "coalesce(({row}.settings ->> 'profile_visibility') = 'public', false)"

# FOR SHARE waits for a concurrent visibility change of the owner, so the two triggers never both
# miss (or both count) the same entry.
TRACKER_COUNT_FUNCTION = f"""
CREATE OR REPLACE FUNCTION interaction.maintain_tracker_count() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    entry interaction.user_media;
BEGIN
    entry := CASE WHEN TG_OP = 'INSERT' THEN NEW ELSE OLD END;
    PERFORM 1 FROM users.users u WHERE u.id = entry.user_id AND {IS_PUBLIC.format(row="u")} FOR SHARE;
    IF FOUND THEN
        UPDATE media.media
        SET tracker_count = tracker_count + CASE WHEN TG_OP = 'INSERT' THEN 1 ELSE -1 END
        WHERE id = entry.media_id;
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
BEGIN
    was_public := {IS_PUBLIC.format(row="OLD")};
    is_public := TG_OP = 'UPDATE' AND {IS_PUBLIC.format(row="NEW")};
    IF was_public <> is_public THEN
        UPDATE media.media m
        SET tracker_count = m.tracker_count + CASE WHEN is_public THEN 1 ELSE -1 END
        FROM interaction.user_media um
        WHERE um.user_id = OLD.id AND um.media_id = m.id;
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END;
$$
"""
# BEFORE DELETE: the entries of a deleted user go by cascade after the user row, when the entry
# trigger can no longer see whether the owner was public.
VISIBILITY_TRIGGERS = (
    """CREATE TRIGGER trg_users_public_tracker_counts
    AFTER UPDATE OF settings ON users.users
    FOR EACH ROW EXECUTE FUNCTION users.maintain_public_tracker_counts()""",
    """CREATE TRIGGER trg_users_deleted_tracker_counts
    BEFORE DELETE ON users.users
    FOR EACH ROW EXECUTE FUNCTION users.maintain_public_tracker_counts()""",
)
# Only items counted at all can count fewer now.
RECOUNT = f"""
UPDATE media.media m
SET tracker_count = (
    SELECT count(*) FROM interaction.user_media um JOIN users.users u ON u.id = um.user_id
    WHERE um.media_id = m.id AND {IS_PUBLIC.format(row="u")}
)
WHERE m.tracker_count <> 0
"""
ORIGINAL_TRACKER_COUNT_FUNCTION = """
CREATE OR REPLACE FUNCTION interaction.maintain_tracker_count() RETURNS trigger LANGUAGE plpgsql AS $$
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
RECOUNT_ALL = """
UPDATE media.media m SET tracker_count = (SELECT count(*) FROM interaction.user_media um WHERE um.media_id = m.id)
"""


def upgrade() -> None:
    op.execute(TRACKER_COUNT_FUNCTION)
    op.execute(VISIBILITY_FUNCTION)
    for trigger in VISIBILITY_TRIGGERS:
        op.execute(trigger)
    op.execute(RECOUNT)


def downgrade() -> None:
    op.execute("DROP TRIGGER trg_users_deleted_tracker_counts ON users.users")
    op.execute("DROP TRIGGER trg_users_public_tracker_counts ON users.users")
    op.execute("DROP FUNCTION users.maintain_public_tracker_counts()")
    op.execute(ORIGINAL_TRACKER_COUNT_FUNCTION)
    op.execute(RECOUNT_ALL)
