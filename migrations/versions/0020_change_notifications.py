"""Change notifications for GraphQL subscriptions: AFTER triggers publish what changed with pg_notify

Every write path (the API, API tokens, library imports, ingestion, SQL by hand) publishes through the
triggers, in the writing transaction: PostgreSQL delivers a notification at commit and drops it on
rollback. Payloads carry ids only (a notification holds at most 8000 bytes): servers read the rows
again through their authorised loaders. Statement triggers group the rows of one statement per
owner, list or item, at most IDS_PER_NOTIFICATION ids a notification. pg_notify drops duplicates
within a transaction, so a user's sessions revoked together make one credentials notification.

Revision ID: 0020
Revises: 0022
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0020"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The channel is db/change_feed.py's CHANNEL; 100 uuids keep a payload near 4 kB.
CHANNEL = "omnimediatrak_changes"
IDS_PER_NOTIFICATION = 100

GROUPED_FUNCTION = """
CREATE FUNCTION {schema}.{name}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    batch record;
BEGIN
    FOR batch IN
        SELECT key, array_agg(id ORDER BY id) AS ids
        FROM (
            SELECT {key} AS key, {id} AS id,
                   (row_number() OVER (PARTITION BY {key} ORDER BY {id}) - 1) / {per} AS chunk
            FROM {rows}
        ) AS numbered
        GROUP BY key, chunk
    LOOP
        PERFORM pg_notify('{channel}', json_build_object(
            'topic', '{topic}', 'op', lower(TG_OP), 'key', batch.key, 'ids', batch.ids)::text);
    END LOOP;
    RETURN NULL;
END;
$$
"""

FUNCTIONS = (
    GROUPED_FUNCTION.format(
        schema="interaction",
        name="notify_entry_changes",
        key="user_id",
        id="media_id",
        rows="changed_rows",
        topic="entries",
        per=IDS_PER_NOTIFICATION,
        channel=CHANNEL,
    ),
    GROUPED_FUNCTION.format(
        schema="interaction",
        name="notify_list_item_changes",
        key="list_id",
        id="media_id",
        rows="changed_rows",
        topic="list_items",
        per=IDS_PER_NOTIFICATION,
        channel=CHANNEL,
    ),
    # An UPDATE counts when it set updated_at to now() (the transaction's time): curation and ingestion
    # do, while the tracker counts kept by triggers on every trackMedia leave it alone. Cheaper than
    # comparing with the old rows: that join doubled the time of an ingestion-sized UPDATE.
    GROUPED_FUNCTION.format(
        schema="media",
        name="notify_media_updates",
        key="NULL::uuid",
        id="id",
        rows="(SELECT id FROM changed_rows WHERE updated_at = now()) AS changed",
        topic="media",
        per=IDS_PER_NOTIFICATION,
        channel=CHANNEL,
    ),
    GROUPED_FUNCTION.format(
        schema="media",
        name="notify_media_deletes",
        key="NULL::uuid",
        id="id",
        rows="changed_rows",
        topic="media",
        per=IDS_PER_NOTIFICATION,
        channel=CHANNEL,
    ),
    # Relations show on both items (the inverse label on the related one); links on theirs.
    GROUPED_FUNCTION.format(
        schema="media",
        name="notify_relation_changes",
        key="NULL::uuid",
        id="id",
        rows=(
            "(SELECT media_id AS id FROM changed_rows UNION SELECT related_media_id FROM changed_rows) "
            "AS touched"
        ),
        topic="media_links",
        per=IDS_PER_NOTIFICATION,
        channel=CHANNEL,
    ),
    GROUPED_FUNCTION.format(
        schema="media",
        name="notify_external_link_changes",
        key="NULL::uuid",
        id="media_id",
        rows="(SELECT DISTINCT media_id FROM changed_rows) AS touched",
        topic="media_links",
        per=IDS_PER_NOTIFICATION,
        channel=CHANNEL,
    ),
    f"""
CREATE FUNCTION interaction.notify_list_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{CHANNEL}', json_build_object(
        'topic', 'list', 'op', lower(TG_OP), 'key', OLD.id, 'ids', json_build_array(OLD.user_id))::text);
    RETURN NULL;
END;
$$
""",
    f"""
CREATE FUNCTION interaction.notify_library_import_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{CHANNEL}', json_build_object(
        'topic', 'library_import', 'op', lower(TG_OP), 'key', NEW.id,
        'ids', json_build_array(NEW.user_id))::text);
    RETURN NULL;
END;
$$
""",
    # Sessions, API tokens and accounts: the owner's live connections check their credential again.
    f"""
CREATE FUNCTION auth.notify_credential_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{CHANNEL}', json_build_object(
        'topic', 'credentials', 'op', lower(TG_OP),
        'key', OLD.user_id, 'ids', json_build_array())::text);
    RETURN NULL;
END;
$$
""",
    f"""
CREATE FUNCTION users.notify_account_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{CHANNEL}', json_build_object(
        'topic', 'credentials', 'op', lower(TG_OP), 'key', OLD.id, 'ids', json_build_array())::text);
    RETURN NULL;
END;
$$
""",
)

TRIGGERS = (
    *(
        f"""
CREATE TRIGGER trg_user_media_notify_{event.lower()}
    AFTER {event} ON interaction.user_media REFERENCING {table} TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION interaction.notify_entry_changes()
"""
        for event, table in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD"))
    ),
    *(
        f"""
CREATE TRIGGER trg_list_items_notify_{event.lower()}
    AFTER {event} ON interaction.list_items REFERENCING {table} TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION interaction.notify_list_item_changes()
"""
        for event, table in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD"))
    ),
    *(
        f"""
CREATE TRIGGER trg_{table}_notify_{event.lower()}
    AFTER {event} ON media.{table} REFERENCING {rows} TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION media.{function}()
"""
        for table, function in (
            ("relationships", "notify_relation_changes"),
            ("external_links", "notify_external_link_changes"),
        )
        for event, rows in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD"))
    ),
    """
CREATE TRIGGER trg_media_notify_update
    AFTER UPDATE ON media.media REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION media.notify_media_updates()
""",
    """
CREATE TRIGGER trg_media_notify_delete
    AFTER DELETE ON media.media REFERENCING OLD TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION media.notify_media_deletes()
""",
    # Item changes touch the list's updated_at too; those are told by the list_items triggers.
    """
CREATE TRIGGER trg_user_lists_notify_update
    AFTER UPDATE ON interaction.user_lists FOR EACH ROW
    WHEN ((OLD.name, OLD.description, OLD.is_public, OLD.list_type, OLD.filter_definition)
          IS DISTINCT FROM (NEW.name, NEW.description, NEW.is_public, NEW.list_type, NEW.filter_definition))
    EXECUTE FUNCTION interaction.notify_list_change()
""",
    """
CREATE TRIGGER trg_user_lists_notify_delete
    AFTER DELETE ON interaction.user_lists FOR EACH ROW EXECUTE FUNCTION interaction.notify_list_change()
""",
    """
CREATE TRIGGER trg_library_imports_notify
    AFTER UPDATE ON interaction.library_imports
    FOR EACH ROW EXECUTE FUNCTION interaction.notify_library_import_change()
""",
    """
CREATE TRIGGER trg_sessions_notify_revoked
    AFTER UPDATE OF revoked_at ON auth.sessions
    FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
    EXECUTE FUNCTION auth.notify_credential_change()
""",
    """
CREATE TRIGGER trg_sessions_notify_deleted
    AFTER DELETE ON auth.sessions FOR EACH ROW EXECUTE FUNCTION auth.notify_credential_change()
""",
    """
CREATE TRIGGER trg_tokens_notify_revoked
    AFTER UPDATE OF revoked_at ON auth.tokens
    FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
    EXECUTE FUNCTION auth.notify_credential_change()
""",
    """
CREATE TRIGGER trg_tokens_notify_deleted
    AFTER DELETE ON auth.tokens FOR EACH ROW EXECUTE FUNCTION auth.notify_credential_change()
""",
    """
CREATE TRIGGER trg_users_notify_credentials
    AFTER UPDATE OF role, password_hash OR DELETE ON users.users
    FOR EACH ROW EXECUTE FUNCTION users.notify_account_change()
""",
)

DROPS = (
    "DROP TRIGGER trg_users_notify_credentials ON users.users",
    "DROP TRIGGER trg_tokens_notify_deleted ON auth.tokens",
    "DROP TRIGGER trg_tokens_notify_revoked ON auth.tokens",
    "DROP TRIGGER trg_sessions_notify_deleted ON auth.sessions",
    "DROP TRIGGER trg_sessions_notify_revoked ON auth.sessions",
    "DROP TRIGGER trg_library_imports_notify ON interaction.library_imports",
    "DROP TRIGGER trg_user_lists_notify_delete ON interaction.user_lists",
    "DROP TRIGGER trg_user_lists_notify_update ON interaction.user_lists",
    "DROP TRIGGER trg_media_notify_delete ON media.media",
    *(
        f"DROP TRIGGER trg_{table}_notify_{event} ON media.{table}"
        for table in ("relationships", "external_links")
        for event in ("insert", "update", "delete")
    ),
    "DROP TRIGGER trg_media_notify_update ON media.media",
    *(
        f"DROP TRIGGER trg_list_items_notify_{e} ON interaction.list_items"
        for e in ("insert", "update", "delete")
    ),
    *(
        f"DROP TRIGGER trg_user_media_notify_{e} ON interaction.user_media"
        for e in ("insert", "update", "delete")
    ),
    "DROP FUNCTION auth.notify_credential_change()",
    "DROP FUNCTION interaction.notify_library_import_change()",
    "DROP FUNCTION interaction.notify_list_change()",
    "DROP FUNCTION users.notify_account_change()",
    "DROP FUNCTION media.notify_external_link_changes()",
    "DROP FUNCTION media.notify_relation_changes()",
    "DROP FUNCTION media.notify_media_deletes()",
    "DROP FUNCTION media.notify_media_updates()",
    "DROP FUNCTION interaction.notify_list_item_changes()",
    "DROP FUNCTION interaction.notify_entry_changes()",
)


def upgrade() -> None:
    for statement in (*FUNCTIONS, *TRIGGERS):
        op.execute(statement)


def downgrade() -> None:
    for statement in DROPS:
        op.execute(statement)
