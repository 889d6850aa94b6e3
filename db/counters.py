"""SQL of the search dictionary and the counters (menus, Media.stats) kept by triggers: shared by
the migration that creates the triggers and by bulk loads that bypass them (bench.generate), which
rebuild from scratch with the same statements."""


def facet_deltas(table: str, sign: int) -> str:
    """Rows (kind, value, delta) for the media type, class and each distinct genre of `table`'s rows."""
    return f"""
        SELECT 'type' AS kind, media_type AS value, {sign}::bigint AS delta FROM {table}
        UNION ALL
        SELECT 'class', media_class::text, {sign} FROM {table}
        UNION ALL
        SELECT 'genre', g.genre, {sign}
        FROM {table}, LATERAL (
            SELECT DISTINCT genre FROM jsonb_array_elements_text(
                CASE jsonb_typeof(attributes -> 'genres') WHEN 'array' THEN attributes -> 'genres'
                                                          ELSE '[]'::jsonb END
            ) AS genre
        ) AS g
    """


def add_counts(deltas: str, shard: str) -> str:
    # Sorted, so two writers touching the same counters lock them in the same order.
    return f"""
        INSERT INTO media.catalog_counts AS c (kind, value, shard, items)
        SELECT kind, value, {shard}, sum(delta) FROM ({deltas}) AS deltas
        GROUP BY kind, value
        HAVING sum(delta) <> 0
        ORDER BY kind, value
        ON CONFLICT (kind, value, shard) DO UPDATE SET items = c.items + excluded.items
    """


# Each a tuple of statements, run in order.
REBUILD_CATALOG_COUNTS = (
    "DELETE FROM media.catalog_counts",
    add_counts(facet_deltas("media.media", 1), "0"),
)
REBUILD_TITLE_WORDS = (
    "DELETE FROM media.title_words",
    "INSERT INTO media.title_words (word) SELECT DISTINCT word FROM media.media, "
    "media.words_of(search_titles, creators) AS word",
)
# Aggregates others can read count the entries of PUBLIC profiles only (migration 0013).
PUBLIC_OWNER = "coalesce((u.settings ->> 'profile_visibility') = 'public', false)"
REBUILD_MEDIA_STATS = (
    "DELETE FROM interaction.media_stats",
    "INSERT INTO interaction.media_stats (media_id, status, entries, ratings, rating_sum) "
    "SELECT um.media_id, um.status, count(*), count(um.rating), coalesce(sum(um.rating), 0) "
    "FROM interaction.user_media um JOIN users.users u ON u.id = um.user_id "
    f"WHERE {PUBLIC_OWNER} GROUP BY um.media_id, um.status",
)
