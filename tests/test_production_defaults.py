"""Production defaults: introspection and schema hints off unless OMT_INTROSPECTION says otherwise;
a credential's last use is written at most once an hour, so plain reads do not write."""

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from db.accounts import hash_secret
from gql.app import create_app
from gql.config import Settings
from tests.client import GraphQLClient, asgi_client
from tests.factories import make_user

INTROSPECT = "{ __schema { queryType { name } } }"
MISSPELT_FIELD = "{ searchMedia { totalCont } }"
MISSPELT_ENUM = "{ searchMedia(sort: [{field: POPULARTY}]) { totalCount } }"


def settings_from(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for name in ("OMT_ENV", "OMT_INTROSPECTION"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings.from_env()


def test_introspection_defaults_to_on_in_development_and_off_in_production(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert settings_from(monkeypatch).allows_introspection is True
    assert settings_from(monkeypatch, OMT_ENV="production").allows_introspection is False
    assert settings_from(monkeypatch, OMT_ENV="production", OMT_INTROSPECTION="true").allows_introspection
    assert not settings_from(monkeypatch, OMT_INTROSPECTION="off").allows_introspection
    with pytest.raises(ValueError, match="OMT_INTROSPECTION"):
        settings_from(monkeypatch, OMT_INTROSPECTION="maybe")


async def test_production_hides_the_schema_and_its_hints(
    engine: AsyncEngine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app(settings_from(monkeypatch, OMT_ENV="production"), database_url, engine=engine)
    async with asgi_client(app) as client:
        introspection = await client(INTROSPECT)
        misspelt = [await client(MISSPELT_FIELD), await client(MISSPELT_ENUM)]
    assert "introspection" in introspection.errors[0]["message"]
    assert "data" not in introspection.body or not introspection.body["data"]
    for result in misspelt:
        assert result.errors
        assert all("Did you mean" not in error["message"] for error in result.errors), result.errors
        assert "POPULARITY" not in result.response.text
        assert "totalCount" not in result.response.text


async def test_development_keeps_introspection_and_hints(client: GraphQLClient) -> None:
    assert (await client(INTROSPECT)).data == {"__schema": {"queryType": {"name": "Query"}}}
    assert "Did you mean" in (await client(MISSPELT_FIELD)).errors[0]["message"]


async def test_production_with_introspection_on_answers_it(
    engine: AsyncEngine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_from(monkeypatch, OMT_ENV="production", OMT_INTROSPECTION="1")
    async with asgi_client(create_app(settings, database_url, engine=engine)) as client:
        assert (await client(INTROSPECT)).data == {"__schema": {"queryType": {"name": "Query"}}}


async def last_use(engine: AsyncEngine, table: str, column: str, secret: str) -> float:
    async with engine.connect() as conn:
        age = (
            await conn.execute(
                text(f"SELECT extract(epoch FROM now() - {column}) FROM {table} WHERE token_hash = :h"),
                {"h": hash_secret(secret)},
            )
        ).scalar_one()
    return float(age)


async def set_last_use(engine: AsyncEngine, table: str, column: str, secret: str, minutes: int) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text(f"UPDATE {table} SET {column} = now() - make_interval(mins => :m) WHERE token_hash = :h"),
            {"m": minutes, "h": hash_secret(secret)},
        )


CREATE_TOKEN = """
mutation { createApiToken(input: {name: "ci", scopes: [READ]}) { token userErrors { code } } }"""


async def test_a_credential_records_its_use_at_most_hourly(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    _, session = await make_user(engine)
    api_token = (await client(CREATE_TOKEN, token=session)).data["createApiToken"]["token"]
    credentials = [
        ("auth.sessions", "last_seen_at", session),
        ("auth.tokens", "last_used_at", api_token),
    ]
    for table, column, secret in credentials:
        await set_last_use(engine, table, column, secret, minutes=50)
        assert (await client("{ viewer { id } }", token=secret)).data["viewer"] is not None
        assert await last_use(engine, table, column, secret) >= 50 * 60, "a read within the hour wrote"
        await set_last_use(engine, table, column, secret, minutes=70)
        assert (await client("{ viewer { id } }", token=secret)).data["viewer"] is not None
        assert await last_use(engine, table, column, secret) < 60, "a use after an hour was not recorded"
