"""The typo tier's dictionary look-up keeps its cost when PostgreSQL plans it generically: a prepared
statement is planned for its parameters' values five times, then may be planned once for any values.
A generic plan cannot hash the one-edit spellings of `word = ANY(spellings)`, so it tested every
dictionary word against every spelling (3 to 5 times the custom plan's time at a million items)."""

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from db.media_filters import _corrections, one_edit_variants
from tests.factories import make_media


def _literal(value: Any) -> str:
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "ARRAY[" + ", ".join(_literal(item) for item in value) + "]::text[]"
    return "'" + str(value).replace("'", "''") + "'"


def _nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [plan, *(node for child in plan.get("Plans", []) for node in _nodes(child))]


async def test_a_generic_plan_never_tests_each_dictionary_word_against_each_spelling(
    engine: AsyncEngine,
) -> None:
    for title in ("Dune Messiah", "Witch Tower", "Cathedral of Storms"):
        await make_media(engine, title=title)
    statement = select(_corrections("wtch").label("corrections"))
    async with engine.connect() as conn:
        compiled = statement.compile(dialect=conn.dialect)
        values = ", ".join(_literal(compiled.params[name]) for name in compiled.positiontup or ())
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None
        await raw.execute(f"PREPARE lookup AS {compiled}")
        try:
            await raw.execute("SET plan_cache_mode = force_generic_plan")
            plan = await raw.fetchval(f"EXPLAIN (FORMAT JSON) EXECUTE lookup({values})")
            assert await raw.fetchval(f"EXECUTE lookup({values})") == "witch"
        finally:
            await raw.execute("RESET plan_cache_mode")
            await raw.execute("DEALLOCATE lookup")
    plan = json.loads(plan) if isinstance(plan, str) else plan
    filters = [node.get("Filter", "") for node in _nodes(plan[0]["Plan"])]
    assert len(one_edit_variants("wtch")) > 300
    assert not [condition for condition in filters if "ANY" in condition]
