"""The ranked window of a search: the most popular matches, found by walking the popularity index
when they are common among popular items and by sorting every match when they are rare there."""

from typing import Any

import pytest
from sqlalchemy import event, update
from sqlalchemy.ext.asyncio import AsyncEngine

import db.media
from db.media import POPULAR_COLUMNS, _most_popular
from db.media_filters import MediaFilter, filter_conditions
from db.models import Media
from tests.factories import make_media

# (WALK_ROWS, MAX_WALK_ROWS) and the statements each way takes: 30 popular items that do not match
# come first in the walk, then the matches.
WAYS = {
    "one walk finds them": ((1000, 1000), 1),
    "a longer walk sized from the first": ((32, 1000), 2),
    "every match sorted": ((32, 33), 2),
}


@pytest.mark.parametrize("way", WAYS)
async def test_the_window_is_the_most_popular_matches_whichever_way_it_is_read(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch, way: str
) -> None:
    (walk_rows, max_walk_rows), statements = WAYS[way]
    monkeypatch.setattr(db.media, "WALK_ROWS", walk_rows)
    monkeypatch.setattr(db.media, "MAX_WALK_ROWS", max_walk_rows)
    popularity: dict[Any, int] = {}
    for n in range(30):
        popularity[await make_media(engine, title=f"Ember {n}")] = 100 + n
        popularity[await make_media(engine, title=f"Tide {n}")] = (n * 7) % 30
    async with engine.begin() as conn:
        for media_id, trackers in popularity.items():
            await conn.execute(update(Media).where(Media.id == media_id).values(tracker_count=trackers))
    executed: list[str] = []

    def count(*args: Any) -> None:
        executed.append(args[2])

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        async with engine.connect() as conn:
            match = filter_conditions(MediaFilter(search="tide"))
            window = await _most_popular(conn, match, POPULAR_COLUMNS, [], 5)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    assert [row.sort_popularity for row in window] == [29, 28, 27, 26, 25]
    assert len(executed) == statements
