"""An identical document costs a cache lookup: parsed, validated and costed once, across requests,
with every limit still applied to the cached outcome."""

from sqlalchemy.ext.asyncio import AsyncEngine

from gql.app import create_app
from gql.config import Limits, Settings
from gql.documents import DocumentStats
from tests.client import asgi_client

SEARCH = "query($n: Int) { searchMedia(first: $n) { totalCount edges { node { title } } } }"


async def test_the_same_document_is_parsed_validated_and_costed_once(
    engine: AsyncEngine, database_url: str
) -> None:
    app = create_app(Settings(environment="development"), database_url, engine=engine)
    async with asgi_client(app) as client:
        for _ in range(5):
            result = await client(SEARCH, {"n": 10})
            assert result.data["searchMedia"]["totalCount"] == 0
    assert app.state.documents.stats == DocumentStats(hits=4, misses=1, validations=1, costings=1)


async def test_new_variables_are_costed_without_validating_again(
    engine: AsyncEngine, database_url: str
) -> None:
    settings = Settings(environment="development", limits=Limits(max_cost=60))
    app = create_app(settings, database_url, engine=engine)
    async with asgi_client(app) as client:
        assert (await client(SEARCH, {"n": 10})).errors == []
        refused = await client(SEARCH, {"n": 100})
        assert refused.errors[0]["extensions"]["code"] == "QUERY_TOO_COSTLY"
        again = await client(SEARCH, {"n": 100})
        assert again.errors[0]["extensions"]["code"] == "QUERY_TOO_COSTLY"
        assert (await client(SEARCH, {"n": 10})).errors == []
    assert app.state.documents.stats == DocumentStats(hits=3, misses=1, validations=1, costings=2)


async def test_a_cached_document_is_still_refused_by_the_depth_limit(
    engine: AsyncEngine, database_url: str
) -> None:
    settings = Settings(environment="development", limits=Limits(max_depth=2))
    app = create_app(settings, database_url, engine=engine)
    async with asgi_client(app) as client:
        for _ in range(2):
            result = await client(SEARCH, {"n": 1})
            assert "exceeds maximum operation depth of 2" in result.errors[0]["message"]
    assert app.state.documents.stats == DocumentStats(hits=1, misses=1, validations=1, costings=0)
