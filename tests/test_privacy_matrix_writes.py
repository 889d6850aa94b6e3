"""The authorization and privacy matrix (SPEC §5), the changes that are allowed: the control rows of
the refusals in tests/test_privacy_matrix.py (the owner does what everyone else is refused), the catalog
that admins alone edit, and credentials that stop working. Each test changes its own world."""

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.client import GraphQLClient, assert_token_refused
from tests.factories import make_user
from tests.privacy_world import (
    ADMIN_MUTATIONS,
    ATTEMPTS,
    PROFILE,
    World,
    build_world,
    database_state,
    token_with_scopes,
)


@pytest.fixture
async def world(client: GraphQLClient, engine: AsyncEngine) -> World:
    return await build_world(client, engine)


@pytest.mark.parametrize("attempt", list(ATTEMPTS))
async def test_the_owners_session_may_do_each_refused_change(
    client: GraphQLClient, world: World, attempt: str
) -> None:
    """The control row: what everyone else is refused, the owner does (so the refusals test something)."""
    row = ATTEMPTS[attempt]
    payload = (await client(row.document, row.target(world), token=world.tokens["owner"])).data[row.field]
    assert payload["userErrors"] == []


# --- the catalog: admins edit it, nobody else does --------------------------------------------------

ADMIN_REFUSED = {
    "stranger": "a user's session",
    "owner_read_token": "a user's READ token",
    "admin_read_token": "an admin's READ token",
    "admin_write_token": "an admin's token without the ADMIN scope",
    "user_admin_token": "an ADMIN-scoped token of a user who is no admin",
    "demoted_admin_token": "an ADMIN token of an admin demoted since",
    "anonymous": "nobody",
}


async def _admin_callers(engine: AsyncEngine, world: World) -> dict[str, str | None]:
    async with engine.connect() as conn:
        admin_id = (
            await conn.execute(text("SELECT id FROM users.users WHERE username = 'boss'"))
        ).scalar_one()
    demoted_id, _ = await make_user(engine, username="demoted", role="admin")
    demoted_token = await token_with_scopes(engine, demoted_id, ["READ", "WRITE", "ADMIN"])
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE users.users SET role = 'user' WHERE id = :id"), {"id": demoted_id})
    return {
        "stranger": world.tokens["stranger"],
        "owner_read_token": world.tokens["owner_read_token"],
        "admin_read_token": await token_with_scopes(engine, admin_id, ["READ"]),
        "admin_write_token": await token_with_scopes(engine, admin_id, ["READ", "WRITE"]),
        "user_admin_token": await token_with_scopes(engine, world.owner_id, ["READ", "WRITE", "ADMIN"]),
        "demoted_admin_token": demoted_token,
        "anonymous": None,
    }


@pytest.mark.parametrize("mutation", list(ADMIN_MUTATIONS))
async def test_only_admins_change_the_catalog(
    client: GraphQLClient, engine: AsyncEngine, world: World, mutation: str
) -> None:
    callers = await _admin_callers(engine, world)
    variables = {"m": world.media_id, "o": world.other_media_id}
    document = ADMIN_MUTATIONS[mutation]
    before = await database_state(engine)
    for caller, token in callers.items():
        payload = (await client(document, variables, token=token)).data[mutation]
        assert [error["code"] for error in payload["userErrors"]] == ["FORBIDDEN"], ADMIN_REFUSED[caller]
    assert await database_state(engine) == before
    admitted = (await client(document, variables, token=world.tokens["admin"])).data[mutation]
    assert admitted["userErrors"] == []
    assert await database_state(engine) != before


REVISIONS = "query($m: ID!) { media(id: $m) { revisions { action } } }"


async def test_revisions_are_for_admins_only(
    client: GraphQLClient, engine: AsyncEngine, world: World
) -> None:
    await client(ADMIN_MUTATIONS["updateMedia"], {"m": world.media_id}, token=world.tokens["admin"])
    callers = await _admin_callers(engine, world)
    seen = {
        caller: (await client(REVISIONS, {"m": world.media_id}, token=token)).data["media"]["revisions"]
        for caller, token in callers.items()
    }
    assert seen == dict.fromkeys(callers)
    admin_view = await client(REVISIONS, {"m": world.media_id}, token=world.tokens["admin"])
    assert admin_view.data["media"]["revisions"] == [{"action": "UPDATE"}]


# --- dead credentials -------------------------------------------------------------------------------


@pytest.mark.parametrize("death", ["revoked token", "expired token", "revoked session", "expired session"])
async def test_dead_credentials_are_refused_and_see_nothing(
    client: GraphQLClient, engine: AsyncEngine, world: World, death: str
) -> None:
    token = world.tokens["owner_read_token"] if "token" in death else world.tokens["owner"]
    table = "auth.tokens" if "token" in death else "auth.sessions"
    change = "revoked_at = now()" if "revoked" in death else "expires_at = now() - interval '1 second'"
    async with engine.begin() as conn:
        await conn.execute(text(f"UPDATE {table} SET {change} WHERE user_id = :id"), {"id": world.owner_id})
    assert_token_refused(await client(PROFILE, {"username": "owner"}, token=token))
    assert_token_refused(await client("{ viewer { id } }", token=token))
