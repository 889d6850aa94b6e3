"""search columns and the word dictionary cost less per new item; two redundant indexes go; the keys
each import job's records gave (ingest.job_keys); an index of open conflicts

Revision ID: 0021
Revises: 0020

Every media row computes search_vector and search_titles through media.fold, media.item_titles and
media.title_keys. As SQL functions they could not be inlined (unaccent is only STABLE), so each call
paid the SQL-function executor, several times per row; ingesting new items cost twice as much
database time as before the search work (bench/README.md, Ingestion). The functions become PL/pgSQL
with fast paths for the common inputs and return exactly what they returned before, so stored
generated values stay valid and nothing is rewritten:

- fold: text without a multi-byte character is only lowered (unaccent and the superscript digits
  change non-ASCII characters only). The test needs UTF8, the encoding of every database this
  project creates; elsewhere the function keeps its full body.
- item_titles: no alternative titles is the title alone.
- title_keys: one title is one key.

The word dictionary's trigger splits the words of all new rows at once instead of calling
media.words_of row by row, and plans its statement on each call: PL/pgSQL had cached a plan made
while the dictionary was empty, which looked up every new word with a sequential scan of the whole
dictionary (quadratic over a first bulk load, and the main part of the ingestion regression).

idx_media_title (title) and idx_media_media_type (media_type) are prefixes of idx_media_title_id and
idx_media_type_title: idx_media_title becomes (title, id) and the other two go, two index entries
fewer per row.

ingest.job_keys holds, per import job, every key its records gave and the first record that gave
it, so that two records of one run sharing a key are caught whatever batches they are in (and in
a dry run, whose writes are rolled back). idx_conflicts_open serves the admins' list of open
conflicts.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FOLD_BODY = (
    "lower(translate(public.unaccent('public.unaccent'::regdictionary, $1), '⁰¹²³⁴⁵⁶⁷⁸⁹', '0123456789'))"
)
ITEM_TITLES_QUERY = """
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
"""
TITLE_KEYS_QUERY = "SELECT coalesce(array_agg(media.title_key(t) ORDER BY n), '{}') FROM unnest($1) WITH ORDINALITY AS u(t, n)"


def fast_fold(utf8: bool) -> str:
    ascii_only = "IF octet_length($1) = length($1) THEN RETURN lower($1); END IF;" if utf8 else ""
    return f"""
    CREATE OR REPLACE FUNCTION media.fold(text) RETURNS text LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE STRICT
    AS $$
    BEGIN
        {ascii_only}
        RETURN {FOLD_BODY};
    END;
    $$
    """


FAST_FUNCTIONS = (
    f"""
    CREATE OR REPLACE FUNCTION media.item_titles(title text, alternative_titles jsonb) RETURNS text[]
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    AS $$
    BEGIN
        IF alternative_titles IS NULL OR alternative_titles = '[]'::jsonb THEN
            RETURN ARRAY[title];
        END IF;
        RETURN ({ITEM_TITLES_QUERY});
    END;
    $$
    """,
    f"""
    CREATE OR REPLACE FUNCTION media.title_keys(text[]) RETURNS text[] LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE STRICT
    AS $$
    BEGIN
        IF cardinality($1) = 1 THEN
            RETURN ARRAY[media.title_key($1[1])];
        END IF;
        RETURN ({TITLE_KEYS_QUERY});
    END;
    $$
    """,
)
SQL_FUNCTIONS = (
    f"""
    CREATE OR REPLACE FUNCTION media.fold(text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    AS $$ SELECT {FOLD_BODY} $$
    """,
    f"""
    CREATE OR REPLACE FUNCTION media.item_titles(title text, alternative_titles jsonb) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ {ITEM_TITLES_QUERY} $$
    """,
    f"""
    CREATE OR REPLACE FUNCTION media.title_keys(text[]) RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    AS $$ {TITLE_KEYS_QUERY} $$
    """,
)


def _words_of(rows: str, prefix: str = "") -> str:
    """The distinct dictionary words of `rows` (search_titles, creators), as media.words_of gives
    them row by row: title keys are split as they are; creators are keyed all at once (a title key
    maps each character on its own, so keying the joined names keys each name)."""
    return f"""
        SELECT DISTINCT word
        FROM (SELECT string_agg(media.text_array_to_string({prefix}search_titles), ' ') AS titles,
                     string_agg(media.text_array_to_string({prefix}creators), ' ') AS creators
              FROM {rows}) AS batch,
             regexp_split_to_table(batch.titles || ' ' || media.title_key(batch.creators), '[[:space:]]+') AS word
        WHERE length(word) >= 2
    """


CHANGED_ROWS = (
    "new_rows JOIN old_rows USING (id) "
    "WHERE new_rows.search_titles IS DISTINCT FROM old_rows.search_titles "
    "OR new_rows.creators IS DISTINCT FROM old_rows.creators"
)
# EXECUTE plans each statement for the dictionary's size at the time. A plan cached by PL/pgSQL
# when the dictionary was empty (a new database's first load) probes new words with a sequential
# scan each, which grows with the dictionary: quadratic over a bulk load.
WORDS_TRIGGER_FUNCTION = f"""
CREATE OR REPLACE FUNCTION media.collect_title_words() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        EXECUTE $words$
        INSERT INTO media.title_words (word)
        SELECT w.word FROM ({_words_of("new_rows")}) AS w
        WHERE NOT EXISTS (SELECT FROM media.title_words AS known WHERE known.word = w.word)
        $words$;
    ELSE
        -- Tracking writes update tracker_count on every entry: only changed titles or creators count.
        EXECUTE $words$
        INSERT INTO media.title_words (word)
        SELECT w.word FROM ({_words_of(CHANGED_ROWS, "new_rows.")}) AS w
        WHERE NOT EXISTS (SELECT FROM media.title_words AS known WHERE known.word = w.word)
        $words$;
    END IF;
    RETURN NULL;
END;
$$
"""

ROW_BY_ROW_WORDS_TRIGGER_FUNCTION = """
CREATE OR REPLACE FUNCTION media.collect_title_words() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO media.title_words (word)
        SELECT DISTINCT w.word FROM new_rows, media.words_of(new_rows.search_titles, new_rows.creators) AS w(word)
        WHERE NOT EXISTS (SELECT FROM media.title_words AS known WHERE known.word = w.word);
    ELSE
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


def upgrade() -> None:
    utf8 = op.get_bind().exec_driver_sql("SELECT getdatabaseencoding() = 'UTF8'").scalar_one()
    for function in (fast_fold(bool(utf8)), *FAST_FUNCTIONS, WORDS_TRIGGER_FUNCTION):
        op.execute(function)
    op.drop_index("idx_media_media_type", table_name="media", schema="media")
    op.drop_index("idx_media_title", table_name="media", schema="media")
    op.execute("ALTER INDEX media.idx_media_title_id RENAME TO idx_media_title")
    op.create_table(
        "job_keys",
        sa.Column("job_id", sa.BigInteger(), nullable=False),
        sa.Column("source_name", sa.Text(), nullable=False),
        sa.Column("external_key", sa.Text(), nullable=False),
        sa.Column("line_number", sa.BigInteger(), nullable=False),
        sa.Column("record_id", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("job_id", "source_name", "external_key", name=op.f("pk_job_keys")),
        schema="ingest",
    )
    op.create_index(
        "idx_conflicts_open",
        "conflicts",
        ["id"],
        schema="ingest",
        postgresql_where=sa.text("resolved_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("idx_conflicts_open", table_name="conflicts", schema="ingest")
    op.drop_table("job_keys", schema="ingest")
    op.execute("ALTER INDEX media.idx_media_title RENAME TO idx_media_title_id")
    op.create_index("idx_media_title", "media", ["title"], schema="media")
    op.create_index("idx_media_media_type", "media", ["media_type"], schema="media")
    for function in (*SQL_FUNCTIONS, ROW_BY_ROW_WORDS_TRIGGER_FUNCTION):
        op.execute(function)
