"""Smart list definitions are stored in the database's own versioned form (db/smart_lists.py), not in the
API's: migration 0024 converts the lists stored before, and the API shows the same JSON as before."""

import asyncio
import importlib
import json
import os
import uuid
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from db import lists as list_queries
from db.migrate import downgrade, upgrade
from db.models import UserList, UserMedia
from db.smart_lists import SmartDefinition
from db.vocabulary import MEDIA_TYPES, TRACKING_STATUSES
from tests.client import GraphQLClient
from tests.conftest import _admin_execute
from tests.factories import make_media, make_user

MIGRATION = importlib.import_module("migrations.versions.0024_smart_list_definitions_v2")
CREATE = """
mutation($input: CreateListInput!) {
  createList(input: $input) { list { id definition } userErrors { field code message } }
}"""
READ = "query($id: ID!) { list(id: $id) { definition items { edges { node { title } } } } }"
# As version 1 stored it (the API's canonical form), and what version 2 makes of it.
V1 = {
    "media": {"mediaTypes": ["BOOK", "LIVE_EVENT"], "releasedAfter": "1960-01-01"},
    "tracking": {"statuses": ["IN_PROGRESS", "COMPLETED"], "ratingMin": 7},
    "sort": {"field": "RELEASE_DATE", "direction": "DESC"},
}
V2 = {
    "version": 2,
    "media": {"media_types": ["book", "live_event"], "released_after": "1960-01-01"},
    "tracking": {"statuses": ["in-progress", "completed"], "rating_min": 7},
    "sort": {"field": "release_date", "direction": "desc"},
}


async def _stored(engine: AsyncEngine, list_id: uuid.UUID) -> Any:
    async with engine.connect() as conn:
        return (
            await conn.execute(select(UserList.filter_definition).where(UserList.id == list_id))
        ).scalar_one()


async def _titles(engine: AsyncEngine, owner_id: uuid.UUID, list_id: uuid.UUID) -> list[str]:
    stored = await _stored(engine, list_id)
    request = list_queries.ItemsRequest(
        list_id=list_id, smart=True, owner_id=owner_id, definition=json.dumps(stored), evaluate=True, first=50
    )
    async with engine.connect() as conn:
        (page,) = await list_queries.list_item_pages(conn, [request])
    return [item.media.title for item in page.rows]


async def _library(engine: AsyncEngine) -> tuple[uuid.UUID, uuid.UUID]:
    """A user whose library the V1 definition selects from: its items, newest first, are B3 and B1."""
    user_id, _ = await make_user(engine)
    books = {
        "B1": ("1965-08-01", "completed", 9),
        "B2": ("1970-01-01", "completed", 5),  # rated too low
        "B3": ("1990-01-01", "in-progress", 8),
        "B4": ("1950-01-01", "completed", 10),  # released too early
        "B5": ("1980-01-01", "dropped", 9),  # wrong status
    }
    async with engine.begin() as conn:
        for title, (released, status, rating) in books.items():
            media_id = await make_media(engine, title=title, release_date=released)
            await conn.execute(
                insert(UserMedia).values(user_id=user_id, media_id=media_id, status=status, rating=rating)
            )
        await make_media(engine, title="Untracked", release_date="2000-01-01")
        list_id = (
            await conn.execute(
                insert(UserList)
                .values(user_id=user_id, name="Old", list_type="smart", filter_definition=V1)
                .returning(UserList.id)
            )
        ).scalar_one()
    return user_id, list_id


@pytest.mark.skipif(bool(os.environ.get("OMT_SKIP_SLOW")), reason="slow")
async def test_a_stored_version_1_definition_migrates_and_still_selects_the_same_items(
    server_url: str,
) -> None:
    name = f"omt_smart_v1_{os.getpid()}"
    await _admin_execute(server_url, f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"')
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    engine = create_async_engine(url)
    try:
        await asyncio.to_thread(upgrade, url, MIGRATION.down_revision)
        user_id, list_id = await _library(engine)
        before = await _titles(engine, user_id, list_id)
        await asyncio.to_thread(upgrade, url)
        assert await _stored(engine, list_id) == V2
        assert await _titles(engine, user_id, list_id) == before == ["B3", "B1"]
        await asyncio.to_thread(downgrade, url, MIGRATION.down_revision)
        assert await _stored(engine, list_id) == V1
        await asyncio.to_thread(upgrade, url)
        assert await _stored(engine, list_id) == V2
    finally:
        await engine.dispose()
        await _admin_execute(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_the_migration_and_the_stored_form_agree_on_version_2() -> None:
    assert MIGRATION.to_v2(V1) == V2 == SmartDefinition.from_stored(V2).to_stored()
    assert MIGRATION.to_v1(V2) == V1


async def test_the_api_shows_the_definition_it_always_showed_and_stores_db_vocabulary(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    owner_id, token = await make_user(engine)
    created = await client(
        CREATE, {"input": {"name": "s", "listType": "SMART", "definition": V1}}, token=token
    )
    payload = created.data["createList"]
    assert payload["userErrors"] == []
    assert payload["list"]["definition"] == V1
    list_id = await _only_list(engine, owner_id)
    stored = await _stored(engine, list_id)
    assert stored == V2
    # Stored values are db vocabulary, so a renamed GraphQL enum value cannot invalidate a stored list.
    assert set(stored["media"]["media_types"]) <= set(MEDIA_TYPES)
    assert set(stored["tracking"]["statuses"]) <= set(TRACKING_STATUSES)
    read = await client(READ, {"id": payload["list"]["id"]}, token=token)
    assert read.data["list"]["definition"] == V1


async def _only_list(engine: AsyncEngine, owner_id: uuid.UUID) -> uuid.UUID:
    async with engine.connect() as conn:
        list_id: uuid.UUID = (
            await conn.execute(select(UserList.id).where(UserList.user_id == owner_id))
        ).scalar_one()
    return list_id


async def test_a_definition_without_defaults_is_shown_with_them(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    _, token = await make_user(engine)
    created = await client(
        CREATE, {"input": {"name": "s", "listType": "SMART", "definition": {}}}, token=token
    )
    assert created.data["createList"]["list"]["definition"] == {
        "media": {},
        "sort": {"field": "TITLE", "direction": "ASC"},
    }


def test_version_1_definitions_in_files_exported_before_are_still_read() -> None:
    assert SmartDefinition.from_stored(V1) == SmartDefinition.from_stored(V2)


async def test_the_api_refuses_a_stored_name_where_it_expects_its_own(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    _, token = await make_user(engine)
    result = await client(
        CREATE,
        {
            "input": {
                "name": "s",
                "listType": "SMART",
                "definition": {"tracking": {"statuses": ["in-progress"]}},
            }
        },
        token=token,
    )
    [error] = result.data["createList"]["userErrors"]
    assert (error["field"], error["code"]) == (["definition", "tracking", "statuses"], "INVALID")


@pytest.mark.parametrize(
    ("definition", "field", "message"),
    [
        (
            {"tracking": {"ratingMin": 0}},
            ["tracking", "ratingMin"],
            "ratingMin must be an integer from 1 to 10",
        ),
        (
            {"tracking": {"ratingMin": 9, "ratingMax": 8}},
            ["tracking", "ratingMin"],
            "ratingMin cannot be above ratingMax",
        ),
        (
            {"sort": {"field": "UPDATED_AT"}},
            ["sort", "field"],
            "UPDATED_AT sorts by the owner's entries: add `tracking`",
        ),
        (
            {"media": {"media_types": ["BOOK"]}},
            ["media", "media_types"],
            "unknown key media_types (keys are camelCase)",
        ),
    ],
)
async def test_refusals_of_a_definition_speak_the_api_names(
    client: GraphQLClient, engine: AsyncEngine, definition: Any, field: list[str], message: str
) -> None:
    _, token = await make_user(engine)
    result = await client(
        CREATE, {"input": {"name": "s", "listType": "SMART", "definition": definition}}, token=token
    )
    assert result.data["createList"]["userErrors"] == [
        {"field": ["definition", *field], "code": "INVALID", "message": message}
    ]
