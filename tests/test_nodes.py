"""Refetching tracking entries, sessions and API tokens with `node(id)` / `nodes(ids)`: what each
shows, ids that stay stable, ids that name nothing, and batching. Who sees which node, caller by
caller, is in test_privacy_matrix.py."""

import base64
import datetime as dt
import uuid

import pytest
from graphql import GraphQLInterfaceType
from sqlalchemy import insert, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from db.accounts import create_api_token, create_session
from db.library_import import jobs as job_queries
from db.models import LibraryImport, LibraryImportProblem
from gql.nodes import NODE_TYPES
from gql.relay import decode_id, to_global_id
from gql.schema import schema
from tests.client import GraphQLClient
from tests.factories import make_media, make_user

TRACK = """
mutation($input: TrackMediaInput!) {
  trackMedia(input: $input) { entry { id status rating notes media { title } } userErrors { code } }
}"""
NODE = """
query($id: ID!) {
  node(id: $id) {
    id
    ... on TrackingEntry { status rating notes media { title } }
    ... on Session { current userAgent }
    ... on ApiToken { name scopes }
  }
}"""
NODES = """
query($ids: [ID!]!) {
  nodes(ids: $ids) {
    id
    ... on TrackingEntry { status media { title } }
    ... on Session { current }
    ... on ApiToken { name }
  }
}"""
UPDATE_SETTINGS = """
mutation($visibility: ProfileVisibility!) {
  updateSettings(input: {profileVisibility: $visibility}) { userErrors { code } }
}"""
CREATE_TOKEN = """
mutation { createApiToken(input: {name: "cli", scopes: [READ]}) { token apiToken { id } } }"""
OWN_ACCOUNT = "{ viewer { sessions { id current userAgent } apiTokens { id name scopes } } }"


def raw_global_id(decoded: str) -> str:
    """A global ID spelt out by hand, the way clients have seen them."""
    return base64.urlsafe_b64encode(decoded.encode()).decode().rstrip("=")


async def track(client: GraphQLClient, token: str, media_id: uuid.UUID) -> str:
    entry = {"mediaId": to_global_id("Media", media_id), "status": "COMPLETED", "rating": 7, "notes": "n"}
    payload = (await client(TRACK, {"input": entry}, token=token)).data["trackMedia"]
    assert payload["userErrors"] == []
    entry_id: str = payload["entry"]["id"]
    return entry_id


async def make_api_token(engine: AsyncEngine, user_id: uuid.UUID, name: str) -> tuple[str, str]:
    """A READ token straight in the database: (its secret, its global ID)."""
    async with engine.begin() as conn:
        secret, row = await create_api_token(conn, user_id, name, ["READ"], dt.timedelta(days=1))
    return secret, to_global_id("ApiToken", row.id)


async def make_session(engine: AsyncEngine, user_id: uuid.UUID) -> str:
    async with engine.begin() as conn:
        _, session_id = await create_session(conn, user_id, dt.timedelta(days=1), user_agent="phone")
    return to_global_id("Session", session_id)


async def test_an_entry_is_refetched_by_the_id_clients_already_hold(client: GraphQLClient, engine) -> None:
    alice_id, alice = await make_user(engine, username="alice")
    media_id = await make_media(engine, title="Dune")
    entry_id = await track(client, alice, media_id)
    # The id clients have cached since entries had ids.
    assert entry_id == raw_global_id(f"TrackingEntry:{alice_id}:{media_id}")
    node = (await client(NODE, {"id": entry_id}, token=alice)).data["node"]
    assert node == {
        "id": entry_id,
        "status": "COMPLETED",
        "rating": 7,
        "notes": "n",
        "media": {"title": "Dune"},
    }


async def test_an_entry_node_follows_its_owners_profile_visibility(client: GraphQLClient, engine) -> None:
    _, alice = await make_user(engine, username="alice")
    _, bob = await make_user(engine, username="bob")
    entry_id = await track(client, alice, await make_media(engine, title="Dune"))
    seen_by_bob = []
    for visibility in ("PUBLIC", "PRIVATE"):
        changed = await client(UPDATE_SETTINGS, {"visibility": visibility}, token=alice)
        assert changed.data["updateSettings"]["userErrors"] == []
        node = (await client(NODE, {"id": entry_id}, token=bob)).data["node"]
        seen_by_bob.append(node and node["notes"])
    assert seen_by_bob == ["n", None]


async def test_an_untracked_entry_is_no_longer_a_node(client: GraphQLClient, engine) -> None:
    _, alice = await make_user(engine, username="alice", profile_visibility="public")
    media_id = await make_media(engine)
    entry_id = await track(client, alice, media_id)
    untrack = "mutation($id: ID!) { untrackMedia(input: {mediaId: $id}) { userErrors { code } } }"
    assert (await client(NODE, {"id": entry_id}, token=alice)).data["node"] is not None
    await client(untrack, {"id": to_global_id("Media", media_id)}, token=alice)
    assert (await client(NODE, {"id": entry_id}, token=alice)).data["node"] is None


@pytest.mark.parametrize(
    "kind",
    [
        "one uuid",
        "three uuids",
        "not uuids",
        "user and media swapped",
        "entry key as a Media id",
        "entry key as a Session id",
        "garbage",
    ],
)
async def test_malformed_or_mistyped_entry_ids_resolve_to_null(
    client: GraphQLClient, engine, kind: str
) -> None:
    alice_id, alice = await make_user(engine, username="alice")
    media_id = await make_media(engine)
    entry_id = await track(client, alice, media_id)
    bad_id = {
        "one uuid": to_global_id("TrackingEntry", alice_id),
        "three uuids": raw_global_id(f"TrackingEntry:{alice_id}:{media_id}:{media_id}"),
        "not uuids": raw_global_id("TrackingEntry:alice:dune"),
        "user and media swapped": raw_global_id(f"TrackingEntry:{media_id}:{alice_id}"),
        "entry key as a Media id": raw_global_id(f"Media:{alice_id}:{media_id}"),
        "entry key as a Session id": raw_global_id(f"Session:{alice_id}:{media_id}"),
        "garbage": "not base64 at all!",
    }[kind]
    result = await client(NODES, {"ids": [entry_id, bad_id]}, token=alice)
    assert [node and node["id"] for node in result.data["nodes"]] == [entry_id, None]
    media = await client("query($id: ID!) { media(id: $id) { id } }", {"id": bad_id}, token=alice)
    assert media.data == {"media": None}


async def test_the_owner_refetches_sessions_and_api_tokens_without_secrets(
    client: GraphQLClient, engine
) -> None:
    alice_id, alice = await make_user(engine, username="alice")
    await make_session(engine, alice_id)
    await client(CREATE_TOKEN, token=alice)
    listed = (await client(OWN_ACCOUNT, token=alice)).data["viewer"]
    refetched = {
        kind: [(await client(NODE, {"id": item["id"]}, token=alice)).data["node"] for item in listed[kind]]
        for kind in ("sessions", "apiTokens")
    }
    assert refetched == listed
    assert sorted(session["current"] for session in refetched["sessions"]) == [False, True]
    for kind in ("Session", "ApiToken"):
        fields = (await client(f'{{ __type(name: "{kind}") {{ fields {{ name }} }} }}')).data["__type"]
        names = {field["name"].lower() for field in fields["fields"]}
        assert not names & {"token", "secret", "hash", "tokenhash"}


async def test_sessions_and_api_tokens_are_no_nodes_through_an_api_token(
    client: GraphQLClient, engine
) -> None:
    alice_id, alice = await make_user(engine, username="alice")
    secret, token_id = await make_api_token(engine, alice_id, "cli")
    session_id = (await client(OWN_ACCOUNT, token=alice)).data["viewer"]["sessions"][0]["id"]
    through_session = (await client(NODES, {"ids": [session_id, token_id]}, token=alice)).data["nodes"]
    through_token = (await client(NODES, {"ids": [session_id, token_id]}, token=secret)).data["nodes"]
    assert [node and node["id"] for node in through_session] == [session_id, token_id]
    assert through_token == [None, None]


@pytest.mark.parametrize("change", ["revoked_at = now()", "expires_at = now() - interval '1 second'"])
@pytest.mark.parametrize("table", ["auth.sessions", "auth.tokens"])
async def test_revoked_or_expired_sessions_and_tokens_are_no_nodes(
    client: GraphQLClient, engine, table: str, change: str
) -> None:
    alice_id, alice = await make_user(engine, username="alice")
    _, token_id = await make_api_token(engine, alice_id, "cli")
    session_id = await make_session(engine, alice_id)
    dead_id, kind = (token_id, "ApiToken") if table == "auth.tokens" else (session_id, "Session")
    assert (await client(NODE, {"id": dead_id}, token=alice)).data["node"] is not None
    async with engine.begin() as conn:
        await conn.execute(
            text(f"UPDATE {table} SET {change} WHERE id = :id"), {"id": decode_id(dead_id, kind)}
        )
    assert (await client(NODE, {"id": dead_id}, token=alice)).data["node"] is None
    assert dead_id not in str((await client(OWN_ACCOUNT, token=alice)).data)


async def test_nodes_of_every_private_type_load_in_a_constant_number_of_statements(
    client: GraphQLClient, engine
) -> None:
    alice_id, alice = await make_user(engine, username="alice")
    _, bob = await make_user(engine, username="bob", profile_visibility="public")
    media = [await make_media(engine, title=f"Item {n}") for n in range(4)]
    alice_entries = [await track(client, alice, media_id) for media_id in media]
    bob_entries = [await track(client, bob, media_id) for media_id in media]
    sessions = [await make_session(engine, alice_id) for _ in range(3)]
    tokens = [(await make_api_token(engine, alice_id, f"token {n}"))[1] for n in range(3)]
    one_of_each = [alice_entries[0], bob_entries[0], sessions[0], tokens[0]]
    all_of_them = [*alice_entries, *bob_entries, *sessions, *tokens]
    small = await client(NODES, {"ids": one_of_each}, token=alice)
    large = await client(NODES, {"ids": all_of_them}, token=alice)
    assert [node and node["id"] for node in small.data["nodes"]] == one_of_each
    assert [node and node["id"] for node in large.data["nodes"]] == all_of_them
    assert small.queries == large.queries
    assert large.queries <= 6


USER_NODES = """
query($ids: [ID!]!) {
  nodes(ids: $ids) {
    ... on User {
      username
      library(first: 5) { totalCount edges { node { media { title } } } }
      lists(first: 5) { totalCount edges { node { name } } }
      stats { total }
    }
  }
}"""
CREATE_LIST = """
mutation($input: CreateListInput!) { createList(input: $input) { userErrors { code } } }"""


async def test_nodes_over_users_load_library_and_lists_in_a_constant_number_of_statements(
    client: GraphQLClient, engine
) -> None:
    """Each user's library, lists and their totals come through loaders: no statement per user."""
    media_id = await make_media(engine, title="Shared")
    user_ids = []
    for n in range(8):
        user_id, token = await make_user(engine, username=f"reader{n}", profile_visibility="public")
        user_ids.append(to_global_id("User", user_id))
        await track(client, token, media_id)
        for name in ("Favourites", "Later"):
            created = await client(CREATE_LIST, {"input": {"name": name, "isPublic": True}}, token=token)
            assert created.data["createList"]["userErrors"] == []
    small = await client(USER_NODES, {"ids": user_ids[:2]})
    large = await client(USER_NODES, {"ids": user_ids})
    expected = {
        "library": {"totalCount": 1, "edges": [{"node": {"media": {"title": "Shared"}}}]},
        "lists": {"totalCount": 2, "edges": [{"node": {"name": "Favourites"}}, {"node": {"name": "Later"}}]},
        "stats": {"total": 1},
    }
    assert large.data["nodes"] == [{"username": f"reader{n}", **expected} for n in range(8)]
    assert small.data["nodes"] == large.data["nodes"][:2]
    assert small.queries == large.queries
    assert large.queries <= 6  # users, library pages, their counts, list pages, their counts, stats


JOB_NODES = "query($ids: [ID!]!) { nodes(ids: $ids) { ... on LibraryImportJob { fileName status } } }"


async def test_nodes_over_library_imports_load_in_one_statement(client: GraphQLClient, engine) -> None:
    user_id, token = await make_user(engine)
    job_ids = []
    for n in range(6):
        async with engine.begin() as conn:
            job = await job_queries.create_job(conn, user_id, "letterboxd", f"export{n}.zip", "newer")
            await job_queries.finish_job(conn, job.id, "succeeded")
        job_ids.append(to_global_id("LibraryImportJob", job.id))
    small = await client(JOB_NODES, {"ids": job_ids[:2]}, token=token)
    large = await client(JOB_NODES, {"ids": job_ids}, token=token)
    assert [node["fileName"] for node in large.data["nodes"]] == [f"export{n}.zip" for n in range(6)]
    assert small.data["nodes"] == large.data["nodes"][:2]
    assert small.queries == large.queries


JOB_PROBLEM_NODES = """
query($ids: [ID!]!) {
  nodes(ids: $ids) {
    ... on LibraryImportJob {
      fileName
      unmatched(first: 2) { totalCount pageInfo { hasNextPage } edges { node { rowNumber reason } } }
      failures(first: 2) { edges { node { rowNumber listName } } }
    }
  }
}"""


async def test_problems_of_many_library_imports_load_in_a_constant_number_of_statements(
    client: GraphQLClient, engine
) -> None:
    """Each job's unmatched rows and failures come through a loader: no statement per job."""
    user_id, token = await make_user(engine)
    job_ids = []
    for n in range(6):
        async with engine.begin() as conn:
            job = await job_queries.create_job(conn, user_id, "letterboxd", f"export{n}.zip", "newer")
            await conn.execute(
                insert(LibraryImportProblem),
                [
                    {
                        "job_id": job.id,
                        "list_position": 0,
                        "list_name": None,
                        "row_number": 3,
                        "reason": "not-found",
                        "message": "no item",
                    },
                    {
                        "job_id": job.id,
                        "list_position": 0,
                        "list_name": None,
                        "row_number": 1,
                        "reason": "ambiguous",
                        "message": "two items",
                    },
                    {
                        "job_id": job.id,
                        "list_position": 0,
                        "list_name": None,
                        "row_number": 2,
                        "reason": "not-found",
                        "message": "no item",
                    },
                    {
                        "job_id": job.id,
                        "list_position": 0,
                        "list_name": None,
                        "row_number": 4,
                        "reason": "invalid",
                        "message": "bad rating",
                    },
                    {
                        "job_id": job.id,
                        "list_position": 1,
                        "list_name": "Watchlist",
                        "row_number": 1,
                        "reason": "invalid",
                        "message": "bad date",
                    },
                ],
            )
            await conn.execute(
                update(LibraryImport)
                .where(LibraryImport.id == job.id)
                .values(unmatched=3, failed=1, list_items_failed=1)
            )
            await job_queries.finish_job(conn, job.id, "succeeded")
        job_ids.append(to_global_id("LibraryImportJob", job.id))
    small = await client(JOB_PROBLEM_NODES, {"ids": job_ids[:2]}, token=token)
    large = await client(JOB_PROBLEM_NODES, {"ids": job_ids}, token=token)
    expected = {
        "unmatched": {
            "totalCount": 3,
            "pageInfo": {"hasNextPage": True},
            "edges": [
                {"node": {"rowNumber": 1, "reason": "AMBIGUOUS"}},
                {"node": {"rowNumber": 2, "reason": "NOT_FOUND"}},
            ],
        },
        "failures": {
            "edges": [
                {"node": {"rowNumber": 4, "listName": None}},
                {"node": {"rowNumber": 1, "listName": "Watchlist"}},
            ]
        },
    }
    assert large.data["nodes"] == [{"fileName": f"export{n}.zip", **expected} for n in range(6)]
    assert small.data["nodes"] == large.data["nodes"][:2]
    assert small.queries == large.queries
    assert large.queries <= 3  # jobs, problem pages, and the viewer's session


@pytest.mark.parametrize(
    "respell",
    [
        lambda raw: raw.replace("-", ""),
        lambda raw: raw.upper(),
        lambda raw: "{" + raw + "}",
        lambda raw: "urn:uuid:" + raw,
    ],
    ids=["no hyphens", "capitals", "braces", "urn"],
)
async def test_each_object_has_exactly_one_id(client: GraphQLClient, engine, respell) -> None:
    media_id = await make_media(engine)
    canonical = to_global_id("Media", media_id)
    respelt = raw_global_id(f"Media:{respell(str(media_id))}")
    query = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }"
    result = await client(query, {"ids": [canonical, respelt, canonical + "==", canonical + "\n"]})
    assert result.data["nodes"] == [{"id": canonical}, None, None, None]
    media = await client("query($id: ID!) { media(id: $id) { id } }", {"id": respelt})
    assert media.data == {"media": None}


def test_every_type_implementing_node_can_be_refetched() -> None:
    graphql_schema = schema._schema
    node_interface = graphql_schema.get_type("Node")
    assert isinstance(node_interface, GraphQLInterfaceType)
    implementing = {object_type.name for object_type in graphql_schema.get_possible_types(node_interface)}
    assert implementing == set(NODE_TYPES)
