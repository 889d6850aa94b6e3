-- What PostGraphile needs beside the tables, for bench/side_by_side.py only (never a migration):
-- a read-only role, the signed-in user from the JWT, and the search our searchMedia runs.

DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'omt_bench_reader') THEN
    CREATE ROLE omt_bench_reader LOGIN;
  END IF;
END
$$;
ALTER ROLE omt_bench_reader SET default_transaction_read_only = on;

CREATE SCHEMA IF NOT EXISTS omt_pg_bench;

-- The viewer: the user whose id PostGraphile copies from the verified JWT into jwt.claims.user_id.
CREATE OR REPLACE FUNCTION omt_pg_bench.viewer() RETURNS users.users
LANGUAGE sql STABLE AS $$
  SELECT * FROM users.users WHERE id = nullif(current_setting('jwt.claims.user_id', true), '')::uuid
$$;

-- searchMedia(filter: {search: q}) for queries the full text matches (the precise tier of
-- db/media_filters.py): the same match, the same relevance, ties by id, highest first.
CREATE OR REPLACE FUNCTION omt_pg_bench.search_media(q text) RETURNS SETOF media.media
LANGUAGE sql STABLE AS $$
  SELECT m.*
  FROM media.media AS m
  WHERE m.search_vector @@ (websearch_to_tsquery('simple'::regconfig, q) || websearch_to_tsquery('english'::regconfig, q))
  ORDER BY CAST(
      ts_rank(m.search_vector, websearch_to_tsquery('simple'::regconfig, q) || websearch_to_tsquery('english'::regconfig, q))
      + public.similarity(q, m.title) + CAST(1.0 AS double precision) AS double precision) DESC,
    m.id DESC
$$;

-- PostGraphile 4 exposes the partitions of interaction.user_media, not the partitioned table: a view
-- of it, with the table's foreign keys as smart comments, stands in for it.
CREATE OR REPLACE VIEW omt_pg_bench.library_entries AS SELECT * FROM interaction.user_media;
COMMENT ON VIEW omt_pg_bench.library_entries IS
  E'@foreignKey (user_id) references users.users (id)\n@foreignKey (media_id) references media.media (id)';

GRANT USAGE ON SCHEMA media, users, interaction, omt_pg_bench, public TO omt_bench_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA media, users, interaction TO omt_bench_reader;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA omt_pg_bench TO omt_bench_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA omt_pg_bench TO omt_bench_reader;
