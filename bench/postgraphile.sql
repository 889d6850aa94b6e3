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

-- searchMedia(filter: {search: q}) for queries the full text matches as written (the precise tier of
-- db/media_filters.py), in the order of db/media.py's `_ranked_page`: the window (the 100 most
-- popular matches and every exact title) by relevance, popularity, earliest release and id; then the
-- other matches by popularity and id, both descending. The relevance is `relevance()`'s.
CREATE OR REPLACE FUNCTION omt_pg_bench.search_media(q text) RETURNS SETOF media.media
LANGUAGE sql STABLE AS $$
  WITH query AS (
    SELECT websearch_to_tsquery('simple'::regconfig, media.fold(q))
             || websearch_to_tsquery('english'::regconfig, media.fold(q)) AS precise,
           ARRAY[media.title_key(q)] AS exact
  ), matches AS (
    SELECT m.id, m.tracker_count, m.release_date, m.search_vector, m.search_titles
    FROM media.media AS m, query
    WHERE m.search_vector @@ query.precise
  ), popular AS (
    SELECT id FROM matches ORDER BY tracker_count DESC, id DESC LIMIT 100
  ), ranked AS (
    SELECT m.id, m.tracker_count, m.release_date,
      CAST(round(CAST(
        CASE WHEN m.search_titles @> query.exact THEN 3.0
          ELSE 1.0 + ts_rank('{0, 0, 0.4, 1}'::float4[], m.search_vector, query.precise)
            + public.similarity(query.exact[1], m.search_titles[1])
        END + 0.1 * ln(1 + m.tracker_count) AS numeric), 4) AS double precision) AS relevance
    FROM matches AS m, query
    WHERE m.id IN (SELECT id FROM popular) OR m.search_titles @> query.exact
  ), ordered AS (
    SELECT id, 0 AS tier, relevance, tracker_count, release_date FROM ranked
    UNION ALL
    SELECT id, 1, NULL, tracker_count, NULL FROM matches WHERE id NOT IN (SELECT id FROM ranked)
  )
  SELECT m.*
  FROM ordered AS o JOIN media.media AS m ON m.id = o.id
  ORDER BY o.tier, o.relevance DESC, o.tracker_count DESC, o.release_date ASC NULLS LAST,
    CASE WHEN o.tier = 0 THEN m.id END ASC, CASE WHEN o.tier = 1 THEN m.id END DESC
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
