"""The IDOR matrix for account data: another user, an admin and an anonymous caller can neither read,
change nor delete the owner's sessions, API tokens or settings, and their "not found" is the same as
for an object that does not exist. (Tracking entries and lists add their rows in their own file.)"""

import uuid

import pytest
from sqlalchemy import text

from gql.relay import to_global_id
from tests.client import GraphQLClient, assert_token_refused
from tests.factories import make_user

ACTORS = ["other user", "admin", "anonymous"]

PRIVATE_FIELDS = """
query($username: String!) {
  user(username: $username) { username email role settings { profileVisibility } apiTokens { id } sessions { id } }
}"""
NODE = "query($id: ID!) { node(id: $id) { id } }"
CREATE_TOKEN = """
mutation { createApiToken(input: {name: "mine", scopes: [WRITE]}) { token apiToken { id } userErrors { code } } }"""
REVOKE_TOKEN = """
mutation($id: ID!) { revokeApiToken(input: {id: $id}) { apiToken { id } userErrors { field code message } } }"""
REVOKE_SESSION = """
mutation($id: ID!) { revokeSession(input: {id: $id}) { revokedSessionId userErrors { field code message } } }"""
UPDATE_SETTINGS = """
mutation { updateSettings(input: {profileVisibility: PUBLIC}) { user { username } userErrors { code } } }"""
CHANGE_PASSWORD = """
mutation($input: ChangePasswordInput!) { changePassword(input: $input) { user { username } userErrors { code } } }"""
OWNER_VIEW = "{ viewer { settings { profileVisibility } apiTokens { id } sessions { id } } }"


@pytest.fixture
async def owner(client: GraphQLClient, engine) -> dict[str, str]:
    """The owner: a session, an API token and (a second) session ID the others will go after."""
    _, session = await make_user(engine, username="owner")
    created = (await client(CREATE_TOKEN, token=session)).data["createApiToken"]
    sessions = (await client(OWNER_VIEW, token=session)).data["viewer"]["sessions"]
    return {
        "session": session,
        "api_token": created["token"],
        "api_token_id": created["apiToken"]["id"],
        "session_id": sessions[0]["id"],
    }


async def actor_token(engine, actor: str) -> str | None:
    if actor == "anonymous":
        return None
    _, token = await make_user(engine, role="admin" if actor == "admin" else "user")
    return token


async def owner_state(client: GraphQLClient, owner: dict[str, str]) -> dict[str, object]:
    viewer = (await client(OWNER_VIEW, token=owner["session"])).data["viewer"]
    return {
        "settings": viewer["settings"],
        "api_tokens": viewer["apiTokens"],
        "sessions": viewer["sessions"],
        "token_works": (await client("{ viewer { id } }", token=owner["api_token"])).data["viewer"]
        is not None,
    }


@pytest.mark.parametrize("actor", ACTORS)
async def test_others_cannot_read_private_account_fields(client: GraphQLClient, engine, owner, actor) -> None:
    token = await actor_token(engine, actor)
    profile = (await client(PRIVATE_FIELDS, {"username": "owner"}, token=token)).data["user"]
    assert profile == {
        "username": "owner",
        "email": None,
        "role": None,
        "settings": None,
        "apiTokens": None,
        "sessions": None,
    }


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("key", ["api_token_id", "session_id"])
async def test_others_cannot_fetch_tokens_or_sessions_as_nodes(client, engine, owner, actor, key) -> None:
    token = await actor_token(engine, actor)
    assert (await client(NODE, {"id": owner[key]}, token=token)).data["node"] is None


@pytest.mark.parametrize("actor", ["other user", "admin"])
async def test_others_cannot_revoke_the_owners_api_token(client: GraphQLClient, engine, owner, actor) -> None:
    token = await actor_token(engine, actor)
    before = await owner_state(client, owner)
    attempt = (await client(REVOKE_TOKEN, {"id": owner["api_token_id"]}, token=token)).data["revokeApiToken"]
    missing = (await client(REVOKE_TOKEN, {"id": to_global_id("ApiToken", uuid.uuid4())}, token=token)).data[
        "revokeApiToken"
    ]
    assert attempt == missing
    assert attempt["userErrors"][0]["code"] == "NOT_FOUND"
    assert await owner_state(client, owner) == before


@pytest.mark.parametrize("actor", ["other user", "admin"])
async def test_others_cannot_revoke_the_owners_session(client: GraphQLClient, engine, owner, actor) -> None:
    token = await actor_token(engine, actor)
    before = await owner_state(client, owner)
    attempt = (await client(REVOKE_SESSION, {"id": owner["session_id"]}, token=token)).data["revokeSession"]
    missing = (await client(REVOKE_SESSION, {"id": to_global_id("Session", uuid.uuid4())}, token=token)).data[
        "revokeSession"
    ]
    assert attempt == missing
    assert attempt["userErrors"][0]["code"] == "NOT_FOUND"
    assert await owner_state(client, owner) == before


@pytest.mark.parametrize(
    ("mutation", "variables", "name"),
    [
        (REVOKE_TOKEN, "api_token_id", "revokeApiToken"),
        (REVOKE_SESSION, "session_id", "revokeSession"),
        (UPDATE_SETTINGS, None, "updateSettings"),
        (CREATE_TOKEN, None, "createApiToken"),
    ],
)
async def test_anonymous_callers_change_nothing(
    client: GraphQLClient, owner, mutation, variables, name
) -> None:
    before = await owner_state(client, owner)
    payload = (await client(mutation, {"id": owner[variables]} if variables else None)).data[name]
    assert [error["code"] for error in payload["userErrors"]] == ["UNAUTHENTICATED"]
    assert await owner_state(client, owner) == before


@pytest.mark.parametrize("actor", ["other user", "admin"])
async def test_settings_and_password_changes_touch_only_the_caller(
    client: GraphQLClient, engine, owner, actor
) -> None:
    token = await actor_token(engine, actor)
    before = await owner_state(client, owner)
    assert (await client(UPDATE_SETTINGS, token=token)).data["updateSettings"]["userErrors"] == []
    await client(
        CHANGE_PASSWORD,
        {"input": {"currentPassword": "correct horse battery staple", "newPassword": "a fresh long phrase"}},
        token=token,
    )
    assert await owner_state(client, owner) == before
    async with engine.connect() as conn:
        live = (
            await conn.execute(
                text(
                    "SELECT count(*) FROM auth.sessions s JOIN users.users u ON u.id = s.user_id"
                    " WHERE u.username = 'owner' AND s.revoked_at IS NULL"
                )
            )
        ).scalar()
    assert live == 1


async def test_the_owner_can_revoke_their_own_session_by_id(client: GraphQLClient, owner) -> None:
    payload = (await client(REVOKE_SESSION, {"id": owner["session_id"]}, token=owner["session"])).data[
        "revokeSession"
    ]
    assert payload == {"revokedSessionId": owner["session_id"], "userErrors": []}
    assert_token_refused(await client("{ viewer { id } }", token=owner["session"]))
