"""The relevance set (data/search_relevance.json): what people type, over the demo catalog, and the
item they expect first. The benchmark reports the same set's hit rate on a catalog of a million."""

import json
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from db.ingest import ingest_file
from db.models import Media, UserMedia
from tests.client import GraphQLClient
from tests.factories import make_user

ROOT = Path(__file__).resolve().parent.parent
RELEVANCE_SET = json.loads((ROOT / "data" / "search_relevance.json").read_text(encoding="utf-8"))
FIRST = """query($q: String!) { searchMedia(filter: {search: $q}, first: 3) {
  edges { node { title mediaType } } } }"""


async def load_demo_with_trackers(engine: AsyncEngine) -> None:
    await ingest_file(engine, ROOT / "data" / "demo_catalog.jsonl", source="demo")
    for item, trackers in RELEVANCE_SET["popularity"].items():
        title, media_type = item.split("|")
        async with engine.connect() as conn:
            media_id = (
                await conn.execute(
                    select(Media.id).where(Media.title == title, Media.media_type == media_type)
                )
            ).scalar_one()
        for _ in range(trackers):
            user_id, _ = await make_user(engine, profile_visibility="public")
            async with engine.begin() as conn:
                await conn.execute(insert(UserMedia).values(user_id=user_id, media_id=media_id))


async def test_the_relevance_set_finds_the_expected_item_first(client: GraphQLClient, engine) -> None:
    await load_demo_with_trackers(engine)
    cases = RELEVANCE_SET["cases"]
    assert len(cases) >= 40
    misses = []
    for case in cases:
        edges = (await client(FIRST, {"q": case["query"]})).data["searchMedia"]["edges"]
        got = [(edge["node"]["title"], edge["node"]["mediaType"].lower()) for edge in edges]
        if not got or got[0] != (case["title"], case["media_type"]):
            misses.append(f"{case['query']!r} ({case['case']}): {got}")
    assert misses == [], "\n".join(misses)
