"""search: accent folding, every title searched, a word dictionary for typos, counters for menus and stats

Revision ID: 0010
Revises: 0011

- media.fold(text): lower case without accents (unaccent, shipped by the embedded PostgreSQL and by
  every stock PostgreSQL's contrib), immutable so that generated columns and indexes may use it.
- media.item_titles(title, alternative titles): every title of an item, the ONE place that says where
  alternative titles live (db.models.ALL_TITLES calls it).
- search_vector is rebuilt over the folded titles, creators and description; search_titles holds each
  title's key (folded, punctuation as single spaces) for exact-title matches through a GIN index.
- media.title_words: every word of every title and creator, with a trigram index: the typo tier looks
  up a misspelt word there instead of reading titles. Kept up to date by a statement trigger.
- media.catalog_counts: items per media type, taxonomy class and genre for the filter menus, in 16
  shards per value (by backend) so parallel writers rarely wait on one another's counter rows.
- interaction.media_stats: entries, ratings and rating sum per item and status for Media.stats.
- Genres already stored are rewritten in the vocabulary's spelling (db.genres).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import db.types
from db.counters import (
    REBUILD_CATALOG_COUNTS,
    REBUILD_MEDIA_STATS,
    REBUILD_TITLE_WORDS,
    add_counts,
    facet_deltas,
)
from db.genres import SYNONYMS
from db.models import CATALOG_COUNT_SHARDS, SEARCH_TITLES, SEARCH_VECTOR

revision: str = "0010"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTIONS = [
    # The counter shard this transaction writes: the first, from its backend's own, whose transaction
    # advisory lock it gets (it keeps it to commit), so two writers never wait on one counter row
    # (parallel ingestion writers take turns, and such a wait could only end in a statement timeout).
    f"""
    CREATE FUNCTION media.counter_shard() RETURNS int LANGUAGE plpgsql AS $$
    DECLARE
        first int := pg_backend_pid() % {CATALOG_COUNT_SHARDS};
    BEGIN
        FOR step IN 0..{CATALOG_COUNT_SHARDS - 1} LOOP
            IF pg_try_advisory_xact_lock(hashtext('omnimediatrak:catalog_counts'),
                                         (first + step) % {CATALOG_COUNT_SHARDS}) THEN
                RETURN (first + step) % {CATALOG_COUNT_SHARDS};
            END IF;
        END LOOP;
        PERFORM pg_advisory_xact_lock(hashtext('omnimediatrak:catalog_counts'), first);
        RETURN first;
    END;
    $$
    """,
    # Superscript digits are digits (Alien³ is "alien3", not "alien"). unaccent() is only STABLE (its dictionary could be changed); naming the dictionary and the schema
    # pins it, which makes the IMMUTABLE promise true in practice.
    """
    CREATE FUNCTION media.fold(text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    AS $$ SELECT lower(translate(public.unaccent('public.unaccent'::regdictionary, $1), '⁰¹²³⁴⁵⁶⁷⁸⁹', '0123456789')) $$
    """,
    """
    CREATE FUNCTION media.item_titles(title text, alternative_titles jsonb) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
        SELECT array_prepend(title, coalesce(array_agg(name) FILTER (WHERE name <> ''), '{}'))
        FROM (
            SELECT btrim(CASE jsonb_typeof(entry) WHEN 'string' THEN entry #>> '{}'
                                                 ELSE entry ->> 'title' END) AS name
            FROM jsonb_array_elements(
                CASE jsonb_typeof(alternative_titles) WHEN 'array' THEN alternative_titles
                                                      ELSE '[]'::jsonb END
            ) AS entry
            WHERE jsonb_typeof(entry) IN ('string', 'object')
        ) AS names
    $$
    """,
    """
    CREATE FUNCTION media.title_key(text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    AS $$ SELECT btrim(regexp_replace(media.fold($1), '[^[:alnum:]]+', ' ', 'g')) $$
    """,
    """
    CREATE FUNCTION media.title_keys(text[]) RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    AS $$ SELECT coalesce(array_agg(media.title_key(t) ORDER BY n), '{}') FROM unnest($1) WITH ORDINALITY AS u(t, n) $$
    """,
]

WORDS_TRIGGER_FUNCTION = """
CREATE FUNCTION media.collect_title_words() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO media.title_words (word)
        SELECT DISTINCT w.word FROM new_rows, media.words_of(new_rows.search_titles, new_rows.creators) AS w(word)
        WHERE NOT EXISTS (SELECT FROM media.title_words AS known WHERE known.word = w.word);
    ELSE
        -- Tracking writes update tracker_count on every entry: only changed titles or creators count.
        INSERT INTO media.title_words (word)
        SELECT DISTINCT w.word
        FROM new_rows JOIN old_rows USING (id), media.words_of(new_rows.search_titles, new_rows.creators) AS w(word)
        WHERE (new_rows.search_titles IS DISTINCT FROM old_rows.search_titles
               OR new_rows.creators IS DISTINCT FROM old_rows.creators)
          AND NOT EXISTS (SELECT FROM media.title_words AS known WHERE known.word = w.word);
    END IF;
    RETURN NULL;
END;
$$
"""

WORDS_FUNCTION = """
CREATE FUNCTION media.words_of(search_titles text[], creators text[]) RETURNS SETOF text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT DISTINCT word
    FROM regexp_split_to_table(
        media.text_array_to_string(search_titles) || ' ' || media.title_key(media.text_array_to_string(creators)),
        '[[:space:]]+'
    ) AS word
    WHERE length(word) >= 2
$$
"""


COUNTS_TRIGGER_FUNCTION = f"""
CREATE FUNCTION media.count_catalog() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    writer_shard int := media.counter_shard();
BEGIN
    IF TG_OP = 'INSERT' THEN
        {add_counts(facet_deltas("new_rows", 1), "writer_shard")};
    ELSIF TG_OP = 'DELETE' THEN
        {add_counts(facet_deltas("old_rows", -1), "writer_shard")};
    ELSE
        {add_counts(facet_deltas("new_rows", 1) + " UNION ALL " + facet_deltas("old_rows", -1), "writer_shard")};
    END IF;
    RETURN NULL;
END;
$$
"""

STATS_TRIGGER_FUNCTION = """
CREATE FUNCTION interaction.maintain_media_stats() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
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


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _normalize_stored_genres() -> None:
    """Rewrite stored genres in the vocabulary's spelling (the SQL twin of db.genres.normalize_genre)."""
    synonyms = ", ".join(f"({_quote(alias)}, {_quote(name)})" for alias, name in sorted(SYNONYMS.items()))
    op.execute(
        f"""
        WITH synonyms(alias, name) AS (VALUES {synonyms}),
        normalized AS (
            SELECT m.id, jsonb_agg(DISTINCT coalesce(s.name, spaced)) AS genres
            FROM media.media AS m,
                 jsonb_array_elements_text(m.attributes -> 'genres') AS g,
                 btrim(regexp_replace(lower(g), '[[:space:]_-]+', ' ', 'g')) AS spaced
                 LEFT JOIN synonyms AS s ON s.alias = spaced
            WHERE jsonb_typeof(m.attributes -> 'genres') = 'array' AND spaced <> ''
            GROUP BY m.id
        )
        UPDATE media.media AS m SET attributes = jsonb_set(m.attributes, '{{genres}}', n.genres)
        FROM normalized AS n
        WHERE n.id = m.id AND m.attributes -> 'genres' IS DISTINCT FROM n.genres
        """
    )


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS unaccent SCHEMA public")
    for function in FUNCTIONS:
        op.execute(function)
    _normalize_stored_genres()

    op.drop_index("idx_media_search_vector", table_name="media", schema="media")
    op.drop_column("media", "search_vector", schema="media")
    op.add_column(
        "media",
        sa.Column("search_vector", db.types.TsVector(), sa.Computed(SEARCH_VECTOR, persisted=True)),
        schema="media",
    )
    op.add_column(
        "media",
        sa.Column("search_titles", postgresql.ARRAY(sa.Text()), sa.Computed(SEARCH_TITLES, persisted=True)),
        schema="media",
    )
    op.create_index(
        "idx_media_search_vector", "media", ["search_vector"], schema="media", postgresql_using="gin"
    )
    op.create_index(
        "idx_media_search_titles", "media", ["search_titles"], schema="media", postgresql_using="gin"
    )
    op.create_index("idx_media_title_id", "media", ["title", "id"], schema="media")
    op.create_index("idx_media_type_title", "media", ["media_type", "title", "id"], schema="media")
    op.create_index(
        "idx_media_type_tracker_count", "media", ["media_type", "tracker_count", "id"], schema="media"
    )

    # No unique key: two writers adding the same new word must not wait on each other; a rare
    # duplicate is harmless (the look-up reads distinct words).
    op.create_table("title_words", sa.Column("word", sa.Text(), nullable=False), schema="media")
    op.create_index("idx_title_words_word", "title_words", ["word"], schema="media")
    op.create_index(
        "idx_title_words_trgm",
        "title_words",
        ["word"],
        schema="media",
        postgresql_using="gin",
        postgresql_ops={"word": "gin_trgm_ops"},
    )
    op.execute(WORDS_FUNCTION)
    for statement in REBUILD_TITLE_WORDS:
        op.execute(statement)
    op.execute(WORDS_TRIGGER_FUNCTION)
    op.execute(
        "CREATE TRIGGER trg_media_title_words_insert AFTER INSERT ON media.media "
        "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION media.collect_title_words()"
    )
    op.execute(
        "CREATE TRIGGER trg_media_title_words_update AFTER UPDATE ON media.media "
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION media.collect_title_words()"
    )

    op.create_table(
        "catalog_counts",
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("shard", sa.SmallInteger(), nullable=False),
        sa.Column("items", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("kind IN ('type', 'class', 'genre')", name=op.f("ck_catalog_counts_kind")),
        sa.PrimaryKeyConstraint("kind", "value", "shard", name=op.f("pk_catalog_counts")),
        schema="media",
    )
    op.execute(COUNTS_TRIGGER_FUNCTION)
    op.execute(
        "CREATE TRIGGER trg_media_counts_insert AFTER INSERT ON media.media "
        "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION media.count_catalog()"
    )
    op.execute(
        "CREATE TRIGGER trg_media_counts_update AFTER UPDATE ON media.media "
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION media.count_catalog()"
    )
    op.execute(
        "CREATE TRIGGER trg_media_counts_delete AFTER DELETE ON media.media "
        "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION media.count_catalog()"
    )
    for statement in REBUILD_CATALOG_COUNTS:
        op.execute(statement)

    op.create_table(
        "media_stats",
        sa.Column("media_id", sa.UUID(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("ratings", sa.Integer(), nullable=False),
        sa.Column("rating_sum", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_id"], ["media.media.id"], name=op.f("fk_media_stats_media_id_media"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("media_id", "status", name=op.f("pk_media_stats")),
        schema="interaction",
    )
    op.execute(STATS_TRIGGER_FUNCTION)
    op.execute(
        "CREATE TRIGGER trg_user_media_stats AFTER INSERT OR UPDATE OF status, rating, media_id OR DELETE "
        "ON interaction.user_media FOR EACH ROW EXECUTE FUNCTION interaction.maintain_media_stats()"
    )
    for statement in REBUILD_MEDIA_STATS:
        op.execute(statement)
    # Detailed statistics of the search vector (10,000 most common lexemes rather than 1,000): the
    # planner tells a rare word (sort its few matches) from a common one (walk the popularity index).
    op.execute("ALTER TABLE media.media ALTER COLUMN search_vector SET STATISTICS 1000")
    op.execute("ANALYZE media.media")
    op.execute("ANALYZE media.title_words")


def downgrade() -> None:
    op.execute("DROP TRIGGER trg_user_media_stats ON interaction.user_media")
    op.execute("DROP FUNCTION interaction.maintain_media_stats()")
    op.drop_table("media_stats", schema="interaction")
    for name in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER trg_media_counts_{name} ON media.media")
    op.execute("DROP FUNCTION media.count_catalog()")
    op.execute("DROP FUNCTION media.counter_shard()")
    op.drop_table("catalog_counts", schema="media")
    for name in ("insert", "update"):
        op.execute(f"DROP TRIGGER trg_media_title_words_{name} ON media.media")
    op.execute("DROP FUNCTION media.collect_title_words()")
    op.execute("DROP FUNCTION media.words_of(text[], text[])")
    op.drop_table("title_words", schema="media")
    for index in ("idx_media_type_tracker_count", "idx_media_type_title", "idx_media_title_id"):
        op.drop_index(index, table_name="media", schema="media")
    op.drop_index("idx_media_search_titles", table_name="media", schema="media")
    op.drop_index("idx_media_search_vector", table_name="media", schema="media")
    op.drop_column("media", "search_titles", schema="media")
    op.drop_column("media", "search_vector", schema="media")
    op.add_column(
        "media",
        sa.Column(
            "search_vector",
            db.types.TsVector(),
            sa.Computed(
                "setweight(to_tsvector('simple'::regconfig, coalesce(title, '')), 'A') || "
                "setweight(to_tsvector('simple'::regconfig, media.text_array_to_string(creators)), 'B') || "
                "setweight(to_tsvector('english'::regconfig, coalesce(description, '')), 'C')",
                persisted=True,
            ),
        ),
        schema="media",
    )
    op.create_index(
        "idx_media_search_vector", "media", ["search_vector"], schema="media", postgresql_using="gin"
    )
    for function in ("title_keys(text[])", "title_key(text)", "item_titles(text, jsonb)", "fold(text)"):
        op.execute(f"DROP FUNCTION media.{function}")
