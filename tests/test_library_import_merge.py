"""The merge policies when a row meets an entry the user already has, and that an empty field in a
file never erases a value."""

import datetime as dt
import json
import uuid
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from db.models import UserMedia
from gql.relay import to_global_id
from tests.client import GraphQLClient
from tests.factories import make_media, make_user
from tests.test_library_import_formats import import_file

TRACK = "mutation($input: TrackMediaInput!) { trackMedia(input: $input) { userErrors { code } } }"


def our_export(media_id_key: str, updated_at: str, **fields: Any) -> bytes:
    entry = {
        "media": {"title": "Dune", "mediaType": "book", "externalIds": [media_id_key]},
        "updatedAt": updated_at,
    }
    return json.dumps(
        {"format": "omnimediatrak-library", "version": 1, "entries": [{**entry, **fields}]}
    ).encode()


async def entry(engine: AsyncEngine, user_id: uuid.UUID, media_id: uuid.UUID) -> Any:
    async with engine.connect() as conn:
        query = select(UserMedia).where(UserMedia.user_id == user_id, UserMedia.media_id == media_id)
        return (await conn.execute(query)).one()


async def existing_entry(client: GraphQLClient, engine: AsyncEngine) -> tuple[uuid.UUID, uuid.UUID, Any]:
    media_id = await make_media(engine, title="Dune", external_id="isbn:9780441172719")
    user_id, token = await make_user(engine)
    fields = {"status": "IN_PROGRESS", "rating": 6, "progress": 0}
    result = await client(
        TRACK, {"input": {"mediaId": to_global_id("Media", media_id), **fields}}, token=token
    )
    assert result.data["trackMedia"]["userErrors"] == []
    return user_id, media_id, await entry(engine, user_id, media_id)


OLDER = "2001-01-01T00:00:00+00:00"
NEWER = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
ROW = {"status": "completed", "rating": 9, "notes": "from the file", "progress": 30}


@pytest.mark.parametrize(
    ("policy", "row_updated_at", "expected"),
    [
        # newer: an older row only fills what is empty (notes, progress); a newer row wins.
        ("newer", OLDER, ("in-progress", 6, "from the file", 30)),
        ("newer", NEWER, ("completed", 9, "from the file", 30)),
        ("file", OLDER, ("completed", 9, "from the file", 30)),
        ("library", NEWER, ("in-progress", 6, "from the file", 30)),
    ],
)
async def test_merge_policies(
    client: GraphQLClient, engine: AsyncEngine, policy: str, row_updated_at: str, expected: tuple[Any, ...]
) -> None:
    user_id, media_id, _ = await existing_entry(client, engine)
    data = our_export("isbn:9780441172719", row_updated_at, **ROW)
    job = await import_file(engine, user_id, "omnimediatrak", data, "x.json", policy=policy)
    assert job.updated == 1
    after = await entry(engine, user_id, media_id)
    assert (after.status, after.rating, after.notes, after.progress) == expected


@pytest.mark.parametrize("policy", ["newer", "file", "library"])
async def test_a_field_the_file_leaves_empty_never_erases_a_value(
    client: GraphQLClient, engine: AsyncEngine, policy: str
) -> None:
    user_id, media_id, before = await existing_entry(client, engine)
    data = our_export("isbn:9780441172719", NEWER, status="in-progress", rating=None, notes=None)
    job = await import_file(engine, user_id, "omnimediatrak", data, "x.json", policy=policy)
    assert (job.unchanged, job.updated) == (1, 0)
    after = await entry(engine, user_id, media_id)
    assert after == before


async def test_a_row_refused_by_the_entry_rules_is_a_failure_and_writes_nothing(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    user_id, media_id, before = await existing_entry(client, engine)
    data = our_export("isbn:9780441172719", NEWER, rating=11)
    job = await import_file(engine, user_id, "omnimediatrak", data, "x.json", policy="file")
    assert (job.failed, job.matched) == (1, 0)
    assert await entry(engine, user_id, media_id) == before
