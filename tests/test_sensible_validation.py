"""Validation that makes sense to a new user: a mediaClass fits its mediaType, a completion is not in
the future, and messages name fields the way the API spells them."""

import datetime as dt
import re
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from db.media import MEDIA_TYPES
from db.media_validation import MEDIA_CLASS_ROOTS, class_misfit
from gql.relay import to_global_id
from tests.client import GraphQLClient
from tests.factories import make_media, make_user

CREATE = """mutation($input: CreateMediaInput!) {
  createMedia(input: $input) { media { id } userErrors { field code message } }
}"""
UPDATE = """mutation($input: UpdateMediaInput!) {
  updateMedia(input: $input) { media { mediaType mediaClass } userErrors { field code message } }
}"""
TRACK = """mutation($input: TrackMediaInput!) {
  trackMedia(input: $input) { entry { completedAt } userErrors { field code message } }
}"""
SEARCH = "query($f: MediaFilter) { searchMedia(filter: $f) { totalCount } }"
SNAKE_CASE = re.compile(r"\b[a-z]+_[a-z_]+\b")
DOCS = Path(__file__).resolve().parent.parent / "docs" / "ingestion.md"


def test_every_media_type_has_its_taxonomy_roots_documented() -> None:
    assert set(MEDIA_CLASS_ROOTS) == set(MEDIA_TYPES)
    documented = dict(re.findall(r"^\| `([a-z_]+)` \| `([a-z_.]+)` \|$", DOCS.read_text(), re.MULTILINE))
    assert documented == {media_type: roots[0] for media_type, roots in MEDIA_CLASS_ROOTS.items()}


@pytest.mark.parametrize(
    ("media_type", "media_class", "fits"),
    [
        ("film", "written.book.novel", False),
        ("film", "video.film", True),
        ("film", "video.filmography", False),
        ("anime", "video.film.animated", True),
        ("manga", "written.comic.manga", True),
        ("book", "written", False),
    ],
)
def test_a_media_class_fits_its_media_type(media_type: str, media_class: str, fits: bool) -> None:
    assert (class_misfit(media_type, media_class) is None) == fits


async def test_a_film_is_refused_under_the_novel_class(client: GraphQLClient, engine: AsyncEngine) -> None:
    _, admin = await make_user(engine, role="admin")
    result = await client(
        CREATE,
        {"input": {"title": "Dune", "mediaType": "FILM", "mediaClass": "written.book.novel"}},
        token=admin,
    )
    [error] = result.data["createMedia"]["userErrors"]
    assert error["field"] == ["mediaClass"]
    assert error["message"] == "mediaClass must lie under video.film for this media type"


async def test_changing_only_the_type_must_still_fit_the_stored_class(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    _, admin = await make_user(engine, role="admin")
    media_id = to_global_id("Media", await make_media(engine))
    result = await client(UPDATE, {"input": {"id": media_id, "mediaType": "FILM"}}, token=admin)
    assert result.data["updateMedia"]["userErrors"][0]["field"] == ["mediaClass"]
    moved = await client(
        UPDATE, {"input": {"id": media_id, "mediaType": "FILM", "mediaClass": "video.film"}}, token=admin
    )
    assert moved.data["updateMedia"]["media"] == {"mediaType": "FILM", "mediaClass": "video.film"}


async def test_a_completion_in_the_future_is_refused_with_some_clock_skew_allowed(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    _, token = await make_user(engine)
    media_id = to_global_id("Media", await make_media(engine))
    tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    result = await client(TRACK, {"input": {"mediaId": media_id, "completedAt": tomorrow}}, token=token)
    [error] = result.data["trackMedia"]["userErrors"]
    assert error == {
        "field": ["completedAt"],
        "code": "INVALID",
        "message": "completedAt cannot be in the future",
    }
    a_minute_ahead = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)).isoformat()
    result = await client(TRACK, {"input": {"mediaId": media_id, "completedAt": a_minute_ahead}}, token=token)
    assert result.data["trackMedia"]["userErrors"] == []


@pytest.mark.parametrize(
    "changes",
    [
        {"startedAt": "2024-02-01T00:00:00Z", "completedAt": "2024-01-01T00:00:00Z"},
        {"rating": 11},
        {"progress": -1},
        {"repeatCount": -1},
        {"notes": "x" * 10_001},
        {"status": None},
    ],
)
async def test_tracking_messages_name_fields_in_camel_case(
    client: GraphQLClient, engine: AsyncEngine, changes: dict[str, object]
) -> None:
    _, token = await make_user(engine)
    media_id = to_global_id("Media", await make_media(engine))
    result = await client(TRACK, {"input": {"mediaId": media_id, **changes}}, token=token)
    [error] = result.data["trackMedia"]["userErrors"]
    assert error["message"].startswith(error["field"][0])
    assert not SNAKE_CASE.search(error["message"]), error["message"]


@pytest.mark.parametrize(
    "filter_",
    [
        {"releasedAfter": "2024-02-01", "releasedBefore": "2024-01-01"},
        {"mediaClass": "not a path"},
        {"collectionPath": "a..b"},
        {"search": "x" * 201},
        {"attributes": [1]},
    ],
)
async def test_filter_messages_name_fields_in_camel_case(
    client: GraphQLClient, filter_: dict[str, object]
) -> None:
    result = await client(SEARCH, {"f": filter_})
    [error] = result.errors
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert not SNAKE_CASE.search(error["message"]), error["message"]


async def test_revisions_speak_the_api_language(client: GraphQLClient, engine: AsyncEngine) -> None:
    _, admin = await make_user(engine, role="admin")
    created = await client(
        CREATE,
        {"input": {"title": "Dune", "mediaType": "BOOK", "mediaClass": "written.book.novel"}},
        token=admin,
    )
    dune = created.data["createMedia"]["media"]["id"]
    messiah = to_global_id("Media", await make_media(engine, title="Dune Messiah"))
    linked = await client(
        "mutation($input: LinkMediaInput!) { linkMedia(input: $input) { userErrors { code } } }",
        {"input": {"mediaId": dune, "relatedMediaId": messiah, "relationType": "SPIN_OFF"}},
        token=admin,
    )
    assert linked.data["linkMedia"]["userErrors"] == []
    result = await client(
        "query($id: ID!) { media(id: $id) { revisions { action before after } } }", {"id": dune}, token=admin
    )
    revisions = {revision["action"]: revision for revision in result.data["media"]["revisions"]}
    created_values = revisions["CREATE"]["after"]
    assert (created_values["mediaType"], created_values["mediaClass"]) == ("BOOK", "written.book.novel")
    link = revisions["LINK"]["after"]
    assert {link["mediaId"], link["relatedMediaId"]} == {dune, messiah}
    assert link["relationType"] == "SPIN_OFF"
    for revision in revisions.values():
        for values in (revision["before"], revision["after"]):
            assert not any("_" in key for key in values or {}), values
