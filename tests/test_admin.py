"""Catalog curation: only admins change the catalog; every change is validated and recorded."""

import uuid
from typing import Any

import pytest
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

from db.accounts import API_TOKEN_PREFIX, hash_secret, new_secret
from db.models import ApiToken
from gql.relay import to_global_id
from tests.client import GraphQLClient
from tests.factories import link_media, make_media, make_user

ERRORS = "userErrors { field code message }"
CREATE = f"""mutation($input: CreateMediaInput!) {{
  createMedia(input: $input) {{
    media {{ id title mediaType mediaClass releaseDate countryOfOrigin creators coverUrl attributes
            collectionPath externalId }}
    {ERRORS}
  }}
}}"""
UPDATE = f"""mutation($input: UpdateMediaInput!) {{
  updateMedia(input: $input) {{ media {{ title description attributes updatedAt }} {ERRORS} }}
}}"""
DELETE = f"mutation($input: DeleteMediaInput!) {{ deleteMedia(input: $input) {{ deletedMediaId {ERRORS} }} }}"
LINK = f"""mutation($input: LinkMediaInput!) {{
  linkMedia(input: $input) {{ media {{ title }} relatedMedia {{ title }} {ERRORS} }}
}}"""
UNLINK = (
    f"mutation($input: UnlinkMediaInput!) {{ unlinkMedia(input: $input) {{ media {{ title }} {ERRORS} }} }}"
)
ADD_LINK = f"mutation($input: ExternalLinkInput!) {{ addExternalLink(input: $input) {{ media {{ title }} {ERRORS} }} }}"
REMOVE_LINK = f"mutation($input: ExternalLinkInput!) {{ removeExternalLink(input: $input) {{ media {{ title }} {ERRORS} }} }}"
REVISIONS = """query($id: ID!) {
  media(id: $id) { revisions { action actorId before after createdAt } }
}"""

DUNE_INPUT = {
    "title": "Dune",
    "mediaType": "BOOK",
    "mediaClass": "written.book.novel",
    "releaseDate": "1965-08-01",
    "countryOfOrigin": "US",
    "creators": ["Frank Herbert"],
    "coverUrl": "https://covers.example.org/dune.jpg",
    "attributes": {"isbn": "9780441172719", "page_count": 412, "genres": ["science fiction"]},
    "collectionPath": "dune.novels",
    "externalId": "wikidata:Q190192",
}


async def admin_token(engine: AsyncEngine) -> str:
    _, token = await make_user(engine, role="admin")
    return token


async def api_token(engine: AsyncEngine, role: str, scopes: list[str]) -> str:
    user_id, _ = await make_user(engine, role=role)
    secret = new_secret(API_TOKEN_PREFIX)
    async with engine.begin() as conn:
        await conn.execute(
            insert(ApiToken).values(
                user_id=user_id, name="test", token_hash=hash_secret(secret), scopes=scopes
            )
        )
    return secret


async def count(engine: AsyncEngine, table: str) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())


async def test_an_admin_creates_media_with_its_external_id_linked(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    result = await client(CREATE, {"input": DUNE_INPUT}, token=await admin_token(engine))
    payload = result.data["createMedia"]
    assert payload["userErrors"] == []
    assert payload["media"]["title"] == "Dune"
    assert payload["media"]["mediaType"] == "BOOK"
    assert payload["media"]["attributes"]["page_count"] == 412
    assert payload["media"]["externalId"] == "wikidata:Q190192"
    async with engine.connect() as conn:
        links = (await conn.execute(text("SELECT source_name, external_key FROM media.external_links"))).all()
    assert [tuple(link) for link in links] == [("wikidata", "Q190192")]


async def test_an_api_token_with_the_admin_scope_may_curate(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    token = await api_token(engine, "admin", ["READ", "WRITE", "ADMIN"])
    result = await client(CREATE, {"input": DUNE_INPUT}, token=token)
    assert result.data["createMedia"]["userErrors"] == []


@pytest.mark.parametrize(
    "who", ["anonymous", "user", "admin token without ADMIN scope", "user token with ADMIN scope"]
)
async def test_everyone_but_an_admin_is_forbidden_and_nothing_changes(
    client: GraphQLClient, engine: AsyncEngine, who: str
) -> None:
    token = {
        "anonymous": None,
        "user": (await make_user(engine))[1],
        "admin token without ADMIN scope": await api_token(engine, "admin", ["READ", "WRITE"]),
        "user token with ADMIN scope": await api_token(engine, "user", ["READ", "WRITE", "ADMIN"]),
    }[who]
    dune = to_global_id("Media", await make_media(engine, title="Dune"))
    film = to_global_id("Media", await make_media(engine, title="Dune: Part One", media_type="film"))
    attempts: list[tuple[str, str, dict[str, Any]]] = [
        (CREATE, "createMedia", DUNE_INPUT),
        (UPDATE, "updateMedia", {"id": dune, "title": "Changed"}),
        (DELETE, "deleteMedia", {"id": dune}),
        (LINK, "linkMedia", {"mediaId": dune, "relatedMediaId": film, "relationType": "ADAPTATION"}),
        (UNLINK, "unlinkMedia", {"mediaId": dune, "relatedMediaId": film, "relationType": "ADAPTATION"}),
        (
            ADD_LINK,
            "addExternalLink",
            {"mediaId": dune, "sourceName": "isbn", "externalKey": "9780441172719"},
        ),
        (REMOVE_LINK, "removeExternalLink", {"mediaId": dune, "sourceName": "isbn", "externalKey": "1"}),
    ]
    for document, name, variables in attempts:
        result = await client(document, {"input": variables}, token=token)
        assert [error["code"] for error in result.data[name]["userErrors"]] == ["FORBIDDEN"], name
    async with engine.connect() as conn:
        titles = (await conn.execute(text("SELECT title FROM media.media ORDER BY title"))).scalars().all()
    assert titles == ["Dune", "Dune: Part One"]
    assert await count(engine, "media.relationships") == 0
    assert await count(engine, "media.external_links") == 0
    assert await count(engine, "media.revisions") == 0


@pytest.mark.parametrize(
    ("override", "field", "message"),
    [
        ({"title": "   "}, ["title"], "title must not be empty"),
        ({"mediaClass": "written book"}, ["mediaClass"], "mediaClass must be a dotted path"),
        ({"mediaClass": "written.book-novel"}, ["mediaClass"], "mediaClass must be a dotted path"),
        ({"collectionPath": ".dune"}, ["collectionPath"], "collectionPath must be a dotted path"),
        ({"countryOfOrigin": "United States"}, ["countryOfOrigin"], "countryOfOrigin must be an ISO"),
        ({"coverUrl": "javascript:alert(1)"}, ["coverUrl"], "coverUrl must be an absolute http(s) URL"),
        ({"coverUrl": "https://"}, ["coverUrl"], "coverUrl must be an absolute http(s) URL"),
        ({"creators": ["Frank Herbert", ""]}, ["creators", "1"], "creators.1 must not be empty"),
        ({"attributes": ["not", "an", "object"]}, ["attributes"], "attributes must be a JSON object"),
        (
            {"attributes": {"isbn": "12345"}},
            ["attributes", "isbn"],
            "attributes.isbn must be a string of 10 or 13",
        ),
        (
            {"attributes": {"page_count": -3}},
            ["attributes", "page_count"],
            "attributes.page_count must be an integer from 0 to",
        ),
        (
            {"attributes": {"episodes": "12"}},
            ["attributes", "episodes"],
            "attributes.episodes must be an integer from 0 to",
        ),
        (
            {"attributes": {"platforms": "pc"}},
            ["attributes", "platforms"],
            "attributes.platforms must be a list of strings",
        ),
        (
            {"attributes": {"genres": [None]}},
            ["attributes", "genres", "0"],
            "attributes.genres.0 must be a string",
        ),
        ({"externalId": "Q190192"}, ["externalId"], 'externalId must be "<source>:<key>"'),
    ],
)
async def test_invalid_input_is_a_user_error_and_creates_nothing(
    client: GraphQLClient, engine: AsyncEngine, override: dict[str, Any], field: list[str], message: str
) -> None:
    result = await client(CREATE, {"input": DUNE_INPUT | override}, token=await admin_token(engine))
    [error] = result.data["createMedia"]["userErrors"]
    assert (error["code"], error["field"]) == ("INVALID", field)
    assert error["message"].startswith(message), error["message"]
    assert await count(engine, "media.media") == 0


async def test_an_unknown_media_type_or_a_bad_date_is_rejected_by_the_schema(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    token = await admin_token(engine)
    for override in ({"mediaType": "MOVIE"}, {"releaseDate": "1965-13-01"}):
        result = await client(CREATE, {"input": DUNE_INPUT | override}, token=token)
        assert result.errors
    assert await count(engine, "media.media") == 0


async def test_an_external_id_held_by_another_item_is_a_conflict(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    await make_media(engine, title="Dune", external_id=None, external_links=[("wikidata", "Q190192")])
    result = await client(CREATE, {"input": DUNE_INPUT}, token=await admin_token(engine))
    [error] = result.data["createMedia"]["userErrors"]
    assert (error["code"], error["field"]) == ("CONFLICT", ["externalId"])
    assert await count(engine, "media.media") == 1


async def test_update_changes_only_the_given_fields_and_records_before_and_after(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    media_id = await make_media(engine, title="Dune", description="Spice.", attributes={"page_count": 412})
    token = await admin_token(engine)
    variables = {
        "input": {"id": to_global_id("Media", media_id), "title": "Dune (1965)", "description": None}
    }
    media = (await client(UPDATE, variables, token=token)).data["updateMedia"]["media"]
    assert (media["title"], media["description"], media["attributes"]) == (
        "Dune (1965)",
        None,
        {"page_count": 412},
    )
    revisions = (await client(REVISIONS, {"id": to_global_id("Media", media_id)}, token=token)).data["media"]
    [revision] = revisions["revisions"]
    assert revision["action"] == "UPDATE"
    assert revision["before"] == {"title": "Dune", "description": "Spice."}
    assert revision["after"] == {"title": "Dune (1965)", "description": None}
    assert revision["actorId"] is not None


async def test_an_update_that_changes_nothing_keeps_updated_at_and_records_nothing(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    media_id = await make_media(engine, title="Dune")
    token = await admin_token(engine)
    variables = {"input": {"id": to_global_id("Media", media_id), "title": "Dune"}}
    first = (await client(UPDATE, variables, token=token)).data["updateMedia"]["media"]["updatedAt"]
    second = (await client(UPDATE, variables, token=token)).data["updateMedia"]["media"]["updatedAt"]
    assert first == second
    assert await count(engine, "media.revisions") == 0


async def test_a_required_field_cannot_be_cleared(client: GraphQLClient, engine: AsyncEngine) -> None:
    media_id = await make_media(engine, title="Dune")
    variables = {"input": {"id": to_global_id("Media", media_id), "title": None}}
    result = await client(UPDATE, variables, token=await admin_token(engine))
    [error] = result.data["updateMedia"]["userErrors"]
    assert (error["code"], error["field"]) == ("INVALID", ["title"])


async def test_updating_or_deleting_an_unknown_item_is_not_found(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    token = await admin_token(engine)
    missing = to_global_id("Media", uuid.uuid4())
    for document, name, variables in (
        (UPDATE, "updateMedia", {"id": missing, "title": "x"}),
        (DELETE, "deleteMedia", {"id": "garbage"}),
        (DELETE, "deleteMedia", {"id": missing}),
    ):
        result = await client(document, {"input": variables}, token=token)
        assert [error["code"] for error in result.data[name]["userErrors"]] == ["NOT_FOUND"]


async def test_delete_removes_the_item_and_keeps_its_history(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    media_id = await make_media(engine, title="Dune", external_links=[("isbn", "9780441172719")])
    global_id = to_global_id("Media", media_id)
    result = await client(DELETE, {"input": {"id": global_id}}, token=await admin_token(engine))
    assert result.data["deleteMedia"] == {"deletedMediaId": global_id, "userErrors": []}
    assert await count(engine, "media.media") == 0
    assert await count(engine, "media.external_links") == 0
    async with engine.connect() as conn:
        revision = (await conn.execute(text("SELECT action, changes FROM media.revisions"))).one()
    assert revision.action == "delete"
    assert revision.changes["before"]["title"] == "Dune"


async def test_revisions_are_null_for_everyone_but_admins(client: GraphQLClient, engine: AsyncEngine) -> None:
    created = await client(CREATE, {"input": DUNE_INPUT}, token=await admin_token(engine))
    media_id = created.data["createMedia"]["media"]["id"]
    _, user_token = await make_user(engine)
    for token in (None, user_token):
        result = await client(REVISIONS, {"id": media_id}, token=token)
        assert result.data["media"]["revisions"] is None


async def test_revisions_of_many_items_load_in_one_statement(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    token = await admin_token(engine)
    for n in range(5):
        await client(
            CREATE, {"input": DUNE_INPUT | {"title": f"Dune {n}", "externalId": f"test:{n}"}}, token=token
        )
    query = "{ searchMedia(first: 10) { edges { node { revisions { action } } } } }"
    result = await client(query, token=token)
    assert [edge["node"]["revisions"] for edge in result.data["searchMedia"]["edges"]] == [
        [{"action": "CREATE"}]
    ] * 5
    assert result.queries <= 3  # page, totalCount is not asked, revisions in one batch (+ credential)


async def relation_rows(engine: AsyncEngine) -> list[tuple[uuid.UUID, uuid.UUID, str]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT media_id, related_media_id, relation_type::text FROM media.relationships")
        )
        return [tuple(row) for row in rows]


async def test_linking_the_inverse_of_a_stored_fact_stores_nothing_new(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    book = await make_media(engine, title="Dune")
    film = await make_media(engine, title="Dune: Part One", media_type="film")
    token = await admin_token(engine)
    book_id, film_id = to_global_id("Media", book), to_global_id("Media", film)
    adaptation = {
        "mediaId": book_id,
        "relatedMediaId": film_id,
        "relationType": "ADAPTATION",
        "notes": "Part One",
    }
    source = {"mediaId": film_id, "relatedMediaId": book_id, "relationType": "SOURCE"}
    first = await client(LINK, {"input": adaptation}, token=token)
    second = await client(LINK, {"input": source}, token=token)
    assert first.data["linkMedia"]["relatedMedia"] == {"title": "Dune: Part One"}
    assert second.data["linkMedia"]["userErrors"] == []
    assert await relation_rows(engine) == [(book, film, "adaptation")]
    assert await count(engine, "media.revisions") == 1


async def test_an_inverse_label_is_stored_in_canonical_form(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    dune = await make_media(engine, title="Dune")
    messiah = await make_media(engine, title="Dune Messiah")
    variables = {
        "mediaId": to_global_id("Media", messiah),
        "relatedMediaId": to_global_id("Media", dune),
        "relationType": "PREQUEL",
    }
    await client(LINK, {"input": variables}, token=await admin_token(engine))
    assert await relation_rows(engine) == [(dune, messiah, "sequel")]


async def test_an_item_cannot_be_linked_to_itself(client: GraphQLClient, engine: AsyncEngine) -> None:
    dune = to_global_id("Media", await make_media(engine, title="Dune"))
    variables = {"mediaId": dune, "relatedMediaId": dune, "relationType": "REMAKE"}
    result = await client(LINK, {"input": variables}, token=await admin_token(engine))
    assert [error["code"] for error in result.data["linkMedia"]["userErrors"]] == ["INVALID"]
    assert await relation_rows(engine) == []


async def test_unlink_removes_a_fact_phrased_from_the_other_side(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    dune = await make_media(engine, title="Dune")
    messiah = await make_media(engine, title="Dune Messiah")
    await link_media(engine, dune, messiah, "sequel")
    variables = {
        "mediaId": to_global_id("Media", messiah),
        "relatedMediaId": to_global_id("Media", dune),
        "relationType": "PREQUEL",
    }
    token = await admin_token(engine)
    result = await client(UNLINK, {"input": variables}, token=token)
    assert result.data["unlinkMedia"]["userErrors"] == []
    assert await relation_rows(engine) == []
    again = await client(UNLINK, {"input": variables}, token=token)
    assert [error["code"] for error in again.data["unlinkMedia"]["userErrors"]] == ["NOT_FOUND"]


async def test_a_key_claimed_by_another_item_is_a_conflict(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    owner = await make_media(engine, title="Dune", external_links=[("isbn", "9780441172719")])
    other = await make_media(engine, title="Other")
    variables = {
        "mediaId": to_global_id("Media", other),
        "sourceName": "isbn",
        "externalKey": "9780441172719",
    }
    result = await client(ADD_LINK, {"input": variables}, token=await admin_token(engine))
    [error] = result.data["addExternalLink"]["userErrors"]
    assert (error["code"], error["field"]) == ("CONFLICT", ["externalKey"])
    async with engine.connect() as conn:
        holder = (await conn.execute(text("SELECT media_id FROM media.external_links"))).scalar_one()
    assert holder == owner


async def test_adding_a_link_resolves_relations_waiting_for_it(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    dune = await make_media(engine, title="Dune")
    film = await make_media(engine, title="Dune: Part One", media_type="film")
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO ingest.pending_relations (media_id, target_source, target_key, relation_type) "
                "VALUES (:id, 'imdb', 'tt1160419', 'adaptation')"
            ),
            {"id": dune},
        )
    variables = {"mediaId": to_global_id("Media", film), "sourceName": "imdb", "externalKey": "tt1160419"}
    result = await client(ADD_LINK, {"input": variables}, token=await admin_token(engine))
    assert result.data["addExternalLink"]["userErrors"] == []
    assert await relation_rows(engine) == [(dune, film, "adaptation")]
    assert await count(engine, "ingest.pending_relations") == 0


async def test_remove_external_link(client: GraphQLClient, engine: AsyncEngine) -> None:
    media_id = await make_media(engine, title="Dune", external_links=[("isbn", "9780441172719")])
    variables = {
        "mediaId": to_global_id("Media", media_id),
        "sourceName": "isbn",
        "externalKey": "9780441172719",
    }
    token = await admin_token(engine)
    assert (await client(REMOVE_LINK, {"input": variables}, token=token)).data["removeExternalLink"][
        "userErrors"
    ] == []
    assert await count(engine, "media.external_links") == 0
    again = await client(REMOVE_LINK, {"input": variables}, token=token)
    assert [error["code"] for error in again.data["removeExternalLink"]["userErrors"]] == ["NOT_FOUND"]


async def test_a_malformed_source_name_is_invalid(client: GraphQLClient, engine: AsyncEngine) -> None:
    media_id = await make_media(engine, title="Dune")
    variables = {"mediaId": to_global_id("Media", media_id), "sourceName": "Wiki Data", "externalKey": "Q1"}
    result = await client(ADD_LINK, {"input": variables}, token=await admin_token(engine))
    [error] = result.data["addExternalLink"]["userErrors"]
    assert (error["code"], error["field"]) == ("INVALID", ["sourceName"])
