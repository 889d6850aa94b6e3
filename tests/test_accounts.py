"""Accounts through the API: register, login, logout, passwords, API tokens, settings, profiles, create-admin."""

import asyncio
import hashlib

import pytest
from sqlalchemy import text

from db.accounts import hash_secret
from gql.cli import main
from tests.client import GraphQLClient, Result, assert_token_refused
from tests.factories import FIXTURE_PASSWORD, make_user

GOOD_PASSWORD = "a long and unusual passphrase"

REGISTER = """
mutation($input: RegisterInput!) {
  register(input: $input) {
    token
    user { id username email }
    userErrors { field code message }
  }
}"""
LOGIN = """
mutation($input: LoginInput!) {
  login(input: $input) { token user { username } userErrors { field code message } }
}"""
LOGOUT = "mutation { logout { ok userErrors { code message } } }"
CHANGE_PASSWORD = """
mutation($input: ChangePasswordInput!) {
  changePassword(input: $input) { user { username } userErrors { field code message } }
}"""
CREATE_TOKEN = """
mutation($input: CreateApiTokenInput!) {
  createApiToken(input: $input) {
    token
    apiToken { id name scopes expiresAt lastUsedAt }
    userErrors { field code message }
  }
}"""
REVOKE_TOKEN = """
mutation($input: RevokeApiTokenInput!) {
  revokeApiToken(input: $input) { apiToken { id } userErrors { field code message } }
}"""
UPDATE_SETTINGS = """
mutation($input: UpdateSettingsInput!) {
  updateSettings(input: $input) { user { settings { profileVisibility } } userErrors { field code message } }
}"""
VIEWER = "{ viewer { username email role settings { profileVisibility } apiTokens { name scopes } } }"
PROFILE = "query($username: String!) { user(username: $username) { username createdAt email settings { profileVisibility } } }"


async def register(client: GraphQLClient, email: str, username: str, password: str = GOOD_PASSWORD):
    return await client(REGISTER, {"input": {"email": email, "username": username, "password": password}})


async def login(client: GraphQLClient, login_name: str, password: str):
    return await client(LOGIN, {"input": {"login": login_name, "password": password}})


async def scalar(engine, sql: str, **params):
    async with engine.connect() as conn:
        return (await conn.execute(text(sql), params)).scalar()


async def test_register_signs_the_new_user_in(client: GraphQLClient) -> None:
    result = await register(client, "Ada@Example.org", "ada")
    payload = result.data["register"]
    assert payload["userErrors"] == []
    assert payload["token"].startswith("omts_")
    viewer = await client(VIEWER, token=payload["token"])
    assert viewer.data["viewer"] == {
        "username": "ada",
        "email": "ada@example.org",
        "role": "USER",
        "settings": {"profileVisibility": "PRIVATE"},
        "apiTokens": [],
    }


async def test_viewer_is_null_when_anonymous(client: GraphQLClient) -> None:
    assert (await client(VIEWER)).data["viewer"] is None


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer omts_not-a-real-secret",
        "Bearer omtk_not-a-real-secret",
        "Bearer",
        "Bearer  ",
        "Basic YTpi",
        "x",
    ],
)
async def test_a_bad_bearer_token_is_refused_with_401(client: GraphQLClient, authorization: str) -> None:
    assert_token_refused(await client(VIEWER, headers={"authorization": authorization}))


async def test_a_bad_bearer_token_is_refused_on_get_too(client: GraphQLClient) -> None:
    response = await client.http.get(
        "/graphql", params={"query": VIEWER}, headers={"authorization": "Bearer omts_nope"}
    )
    assert_token_refused(Result(response))


@pytest.mark.parametrize(
    ("email", "username", "password", "field", "code"),
    [
        ("not-an-email", "ada", GOOD_PASSWORD, "email", "INVALID"),
        ("ada@example.org", "ad", GOOD_PASSWORD, "username", "INVALID"),
        ("ada@example.org", "a" * 33, GOOD_PASSWORD, "username", "INVALID"),
        ("ada@example.org", "ada lovelace", GOOD_PASSWORD, "username", "INVALID"),
        ("ada@example.org", "ada", "nine char", "password", "WEAK_PASSWORD"),
        ("ada@example.org", "ada", "x" * 257, "password", "INVALID"),
        ("ada@example.org", "ada", "qwertyuiop", "password", "WEAK_PASSWORD"),
        ("ada@example.org", "ada", "Password12", "password", "WEAK_PASSWORD"),
        ("ada@example.org", "adalovelace1", "AdaLovelace1", "password", "WEAK_PASSWORD"),
        ("adalovelace1@example.org", "ada", "adalovelace1@example.org", "password", "WEAK_PASSWORD"),
    ],
)
async def test_register_refuses_bad_input_and_writes_nothing(
    client: GraphQLClient, engine, email, username, password, field, code
) -> None:
    payload = (await register(client, email, username, password)).data["register"]
    assert payload["token"] is None
    assert [(error["field"], error["code"]) for error in payload["userErrors"]] == [([field], code)]
    assert await scalar(engine, "SELECT count(*) FROM users.users") == 0


async def test_register_accepts_a_password_of_256_characters(client: GraphQLClient) -> None:
    payload = (await register(client, "ada@example.org", "ada", "x" * 255 + "y")).data["register"]
    assert payload["userErrors"] == []


async def test_usernames_are_unique_case_insensitively(client: GraphQLClient, engine) -> None:
    await register(client, "ada@example.org", "Ada")
    payload = (await register(client, "other@example.org", "ADA")).data["register"]
    assert [(error["field"], error["code"]) for error in payload["userErrors"]] == [(["username"], "TAKEN")]
    assert await scalar(engine, "SELECT count(*) FROM users.users") == 1


async def test_emails_are_normalised_and_unique(client: GraphQLClient, engine) -> None:
    await register(client, "ada@example.org", "ada")
    payload = (await register(client, "  ADA@Example.ORG ", "grace")).data["register"]
    assert [(error["field"], error["code"]) for error in payload["userErrors"]] == [(["email"], "TAKEN")]
    assert await scalar(engine, "SELECT count(*) FROM users.users") == 1


async def test_login_by_username_or_email_returns_a_working_token(client: GraphQLClient) -> None:
    await register(client, "ada@example.org", "Ada")
    for name in ("ada", "ADA@example.org"):
        payload = (await login(client, name, GOOD_PASSWORD)).data["login"]
        assert payload["userErrors"] == []
        assert (await client(VIEWER, token=payload["token"])).data["viewer"]["username"] == "Ada"


async def test_login_errors_do_not_tell_whether_the_account_exists(client: GraphQLClient) -> None:
    await register(client, "ada@example.org", "ada")
    wrong_password = (await login(client, "ada", "not the password")).data["login"]
    no_account = (await login(client, "nobody", "not the password")).data["login"]
    assert wrong_password == no_account
    assert wrong_password["token"] is None
    assert wrong_password["userErrors"][0]["code"] == "INVALID_CREDENTIALS"


async def test_login_events_record_successes_and_failures(client: GraphQLClient, engine) -> None:
    await register(client, "ada@example.org", "ada")
    await client.http.post(
        "/graphql",
        json={"query": LOGIN, "variables": {"input": {"login": "ada", "password": GOOD_PASSWORD}}},
        headers={"user-agent": "test-agent/1"},
    )
    await login(client, "nobody", "whatever it is")
    async with engine.connect() as conn:
        events = (
            await conn.execute(
                text(
                    "SELECT login, user_id IS NOT NULL AS known, success, reason, ip, user_agent"
                    " FROM auth.login_events ORDER BY id"
                )
            )
        ).all()
    assert [(e.login, e.known, e.success, e.reason) for e in events] == [
        ("ada@example.org", True, True, "register"),
        ("ada", True, True, None),
        ("nobody", False, False, "unknown_login"),
    ]
    assert all(event.ip and event.ip.startswith("10.0.") for event in events)
    assert events[1].user_agent == "test-agent/1"


async def test_passwords_are_stored_as_argon2id_hashes(client: GraphQLClient, engine) -> None:
    await register(client, "ada@example.org", "ada")
    stored = await scalar(engine, "SELECT password_hash FROM users.users")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert GOOD_PASSWORD not in stored


async def test_secrets_are_stored_only_as_hashes(client: GraphQLClient, engine) -> None:
    session = (await register(client, "ada@example.org", "ada")).data["register"]["token"]
    api_token = (
        await client(CREATE_TOKEN, {"input": {"name": "ci", "scopes": ["READ"]}}, token=session)
    ).data["createApiToken"]["token"]
    async with engine.connect() as conn:
        dump = ""
        for table in ("auth.sessions", "auth.tokens", "auth.login_events", "users.users"):
            dump += " ".join((await conn.execute(text(f"SELECT t::text FROM {table} t"))).scalars())
        hashes = set(
            (
                await conn.execute(
                    text("SELECT token_hash FROM auth.sessions UNION ALL SELECT token_hash FROM auth.tokens")
                )
            ).scalars()
        )
    assert session not in dump
    assert api_token not in dump
    assert {hashlib.sha256(secret.encode()).digest() for secret in (session, api_token)} <= hashes


async def test_secrets_carry_at_least_128_bits_of_randomness(client: GraphQLClient) -> None:
    session = (await register(client, "ada@example.org", "ada")).data["register"]["token"]
    assert len(session.removeprefix("omts_")) * 6 >= 128


async def test_logout_revokes_the_calling_session_only(client: GraphQLClient) -> None:
    first = (await register(client, "ada@example.org", "ada")).data["register"]["token"]
    second = (await login(client, "ada", GOOD_PASSWORD)).data["login"]["token"]
    assert (await client(LOGOUT, token=first)).data["logout"] == {"ok": True, "userErrors": []}
    assert_token_refused(await client(VIEWER, token=first))
    assert (await client(VIEWER, token=second)).data["viewer"]["username"] == "ada"


async def test_logout_needs_a_session(client: GraphQLClient) -> None:
    payload = (await client(LOGOUT)).data["logout"]
    assert payload["ok"] is False
    assert payload["userErrors"][0]["code"] == "UNAUTHENTICATED"


async def test_a_session_past_its_absolute_expiry_no_longer_works(client: GraphQLClient, engine) -> None:
    _, token = await make_user(engine)
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE auth.sessions SET expires_at = now() - interval '1 second'"))
    assert_token_refused(await client(VIEWER, token=token))


async def test_an_idle_session_no_longer_works(client: GraphQLClient, engine, settings) -> None:
    _, token = await make_user(engine)
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE auth.sessions SET last_seen_at = now() - make_interval(days => :days + 1)"),
            {"days": settings.session_idle_days},
        )
    assert_token_refused(await client(VIEWER, token=token))


async def test_an_idle_session_is_neither_listed_nor_a_node(client: GraphQLClient, engine, settings) -> None:
    _, token = await make_user(engine, username="ada")
    await login(client, "ada", FIXTURE_PASSWORD)
    sessions = "{ viewer { sessions { id current } } }"
    listed = (await client(sessions, token=token)).data["viewer"]["sessions"]
    (idle_id,) = [session["id"] for session in listed if not session["current"]]
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE auth.sessions SET last_seen_at = now() - make_interval(days => :days + 1) "
                "WHERE token_hash <> :current"
            ),
            {"days": settings.session_idle_days, "current": hash_secret(token)},
        )
    assert [
        session["current"] for session in (await client(sessions, token=token)).data["viewer"]["sessions"]
    ] == [True]
    refetch = "query($id: ID!) { node(id: $id) { id } }"
    assert (await client(refetch, {"id": idle_id}, token=token)).data["node"] is None


async def test_a_session_lasts_the_configured_absolute_lifetime(
    client: GraphQLClient, engine, settings
) -> None:
    await register(client, "ada@example.org", "ada")
    days = await scalar(engine, "SELECT extract(day FROM expires_at - created_at) FROM auth.sessions")
    assert int(days) == settings.session_absolute_days


async def test_change_password_signs_out_every_other_session(client: GraphQLClient) -> None:
    current = (await register(client, "ada@example.org", "ada")).data["register"]["token"]
    other = (await login(client, "ada", GOOD_PASSWORD)).data["login"]["token"]
    new_password = "another long passphrase"
    payload = (
        await client(
            CHANGE_PASSWORD,
            {"input": {"currentPassword": GOOD_PASSWORD, "newPassword": new_password}},
            token=current,
        )
    ).data["changePassword"]
    assert payload == {"user": {"username": "ada"}, "userErrors": []}
    assert (await client(VIEWER, token=current)).data["viewer"]["username"] == "ada"
    assert_token_refused(await client(VIEWER, token=other))
    assert (await login(client, "ada", new_password)).data["login"]["token"] is not None
    assert (await login(client, "ada", GOOD_PASSWORD)).data["login"]["token"] is None


CHANGE_PASSWORD_COUNTS = """
mutation($input: ChangePasswordInput!) {
  changePassword(input: $input) { signedOutSessions revokedApiTokens userErrors { code } }
}"""


async def _token_for(client: GraphQLClient, session: str, name: str) -> str:
    payload = (await client(CREATE_TOKEN, {"input": {"name": name, "scopes": ["WRITE"]}}, token=session)).data
    return str(payload["createApiToken"]["token"])


async def test_change_password_revokes_api_tokens_a_taken_over_session_could_have_made(
    client: GraphQLClient, engine
) -> None:
    _, session = await make_user(engine, username="ada")
    expired = await _token_for(client, session, "old")
    idle = (await login(client, "ada", FIXTURE_PASSWORD)).data["login"]["token"]
    async with engine.begin() as conn:  # neither works any more, so neither is counted
        await conn.execute(
            text("UPDATE auth.tokens SET expires_at = now() - interval '1 second' WHERE token_hash = :hash"),
            {"hash": hash_secret(expired)},
        )
        await conn.execute(
            text(
                "UPDATE auth.sessions SET last_seen_at = now() - interval '1 year' WHERE token_hash = :hash"
            ),
            {"hash": hash_secret(idle)},
        )
    tokens = [await _token_for(client, session, name) for name in ("phone", "script")]
    await login(client, "ada", FIXTURE_PASSWORD)
    change = {"currentPassword": FIXTURE_PASSWORD, "newPassword": "another long passphrase"}
    payload = (await client(CHANGE_PASSWORD_COUNTS, {"input": change}, token=session)).data["changePassword"]
    assert payload == {"signedOutSessions": 1, "revokedApiTokens": 2, "userErrors": []}
    for token in tokens:
        assert_token_refused(await client(VIEWER, token=token))
    assert (await client(VIEWER, token=session)).data["viewer"]["apiTokens"] == []


async def test_change_password_keeps_api_tokens_when_asked(client: GraphQLClient, engine) -> None:
    _, session = await make_user(engine, username="ada")
    token = await _token_for(client, session, "script")
    change = {
        "currentPassword": FIXTURE_PASSWORD,
        "newPassword": "another long passphrase",
        "keepApiTokens": True,
    }
    payload = (await client(CHANGE_PASSWORD_COUNTS, {"input": change}, token=session)).data["changePassword"]
    assert payload == {"signedOutSessions": 0, "revokedApiTokens": 0, "userErrors": []}
    assert (await client(VIEWER, token=token)).data["viewer"]["username"] == "ada"


async def test_change_password_needs_the_current_password(client: GraphQLClient, engine) -> None:
    _, token = await make_user(engine, username="ada")
    payload = (
        await client(
            CHANGE_PASSWORD,
            {"input": {"currentPassword": "wrong guess here", "newPassword": "another long passphrase"}},
            token=token,
        )
    ).data["changePassword"]
    assert payload["userErrors"][0]["code"] == "INVALID_CREDENTIALS"
    async with engine.begin() as conn:  # the wrong guess backs sign-ins off; this test is not about that
        await conn.execute(text("UPDATE auth.login_events SET event_time = event_time - interval '1 day'"))
    assert (await login(client, "ada", FIXTURE_PASSWORD)).data["login"]["token"] is not None


async def test_change_password_applies_the_password_rules(client: GraphQLClient, engine) -> None:
    _, token = await make_user(engine, username="ada")
    payload = (
        await client(
            CHANGE_PASSWORD,
            {"input": {"currentPassword": FIXTURE_PASSWORD, "newPassword": "1234567890"}},
            token=token,
        )
    ).data["changePassword"]
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(["newPassword"], "WEAK_PASSWORD")]


async def test_create_api_token_shows_the_secret_once(client: GraphQLClient, engine) -> None:
    _, session = await make_user(engine)
    payload = (
        await client(
            CREATE_TOKEN, {"input": {"name": "sync", "scopes": ["WRITE"], "expiresInDays": 30}}, token=session
        )
    ).data["createApiToken"]
    assert payload["userErrors"] == []
    assert payload["token"].startswith("omtk_")
    assert payload["apiToken"]["scopes"] == ["READ", "WRITE"]
    assert payload["apiToken"]["expiresAt"] is not None
    listed = (await client(VIEWER, token=session)).data["viewer"]["apiTokens"]
    assert listed == [{"name": "sync", "scopes": ["READ", "WRITE"]}]


async def test_an_api_token_authenticates_and_records_its_use(client: GraphQLClient, engine) -> None:
    _, session = await make_user(engine, username="ada")
    secret = (await client(CREATE_TOKEN, {"input": {"name": "ci", "scopes": ["READ"]}}, token=session)).data[
        "createApiToken"
    ]["token"]
    assert (await client(VIEWER, token=secret)).data["viewer"]["username"] == "ada"
    tokens = (await client("{ viewer { apiTokens { lastUsedAt } } }", token=session)).data["viewer"][
        "apiTokens"
    ]
    assert tokens[0]["lastUsedAt"] is not None


async def test_a_read_token_cannot_mutate(client: GraphQLClient, engine) -> None:
    _, session = await make_user(engine)
    secret = (await client(CREATE_TOKEN, {"input": {"name": "ro", "scopes": ["READ"]}}, token=session)).data[
        "createApiToken"
    ]["token"]
    payload = (await client(UPDATE_SETTINGS, {"input": {"profileVisibility": "PUBLIC"}}, token=secret)).data[
        "updateSettings"
    ]
    assert payload["user"] is None
    assert payload["userErrors"][0]["code"] == "FORBIDDEN"
    settings = (await client(VIEWER, token=session)).data["viewer"]["settings"]
    assert settings == {"profileVisibility": "PRIVATE"}


async def test_a_write_token_may_change_settings(client: GraphQLClient, engine) -> None:
    _, session = await make_user(engine)
    secret = (await client(CREATE_TOKEN, {"input": {"name": "rw", "scopes": ["WRITE"]}}, token=session)).data[
        "createApiToken"
    ]["token"]
    payload = (await client(UPDATE_SETTINGS, {"input": {"profileVisibility": "PUBLIC"}}, token=secret)).data[
        "updateSettings"
    ]
    assert payload == {"user": {"settings": {"profileVisibility": "PUBLIC"}}, "userErrors": []}


async def test_api_tokens_cannot_create_api_tokens(client: GraphQLClient, engine) -> None:
    _, session = await make_user(engine)
    secret = (await client(CREATE_TOKEN, {"input": {"name": "rw", "scopes": ["WRITE"]}}, token=session)).data[
        "createApiToken"
    ]["token"]
    payload = (
        await client(CREATE_TOKEN, {"input": {"name": "more", "scopes": ["WRITE"]}}, token=secret)
    ).data["createApiToken"]
    assert payload["token"] is None
    assert payload["userErrors"][0]["code"] == "FORBIDDEN"


async def test_only_admins_create_admin_tokens(client: GraphQLClient, engine) -> None:
    _, user_session = await make_user(engine)
    _, admin_session = await make_user(engine, role="admin")
    refused = (
        await client(CREATE_TOKEN, {"input": {"name": "a", "scopes": ["ADMIN"]}}, token=user_session)
    ).data["createApiToken"]
    granted = (
        await client(CREATE_TOKEN, {"input": {"name": "a", "scopes": ["ADMIN"]}}, token=admin_session)
    ).data["createApiToken"]
    assert [(e["field"], e["code"]) for e in refused["userErrors"]] == [(["scopes"], "FORBIDDEN")]
    assert granted["apiToken"]["scopes"] == ["READ", "WRITE", "ADMIN"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": " ", "scopes": ["READ"]}, "name"),
        ({"name": "x", "scopes": []}, "scopes"),
        ({"name": "x", "scopes": ["READ"], "expiresInDays": 0}, "expiresInDays"),
        ({"name": "x", "scopes": ["READ"], "expiresInDays": 367}, "expiresInDays"),
    ],
)
async def test_create_api_token_refuses_bad_input(client: GraphQLClient, engine, fields, field) -> None:
    _, session = await make_user(engine)
    payload = (await client(CREATE_TOKEN, {"input": fields}, token=session)).data["createApiToken"]
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [([field], "INVALID")]
    assert await scalar(engine, "SELECT count(*) FROM auth.tokens") == 0


async def test_a_revoked_api_token_no_longer_works(client: GraphQLClient, engine) -> None:
    _, session = await make_user(engine)
    created = (await client(CREATE_TOKEN, {"input": {"name": "ci", "scopes": ["READ"]}}, token=session)).data[
        "createApiToken"
    ]
    revoked = (await client(REVOKE_TOKEN, {"input": {"id": created["apiToken"]["id"]}}, token=session)).data[
        "revokeApiToken"
    ]
    assert revoked == {"apiToken": {"id": created["apiToken"]["id"]}, "userErrors": []}
    assert_token_refused(await client(VIEWER, token=created["token"]))
    assert (await client(VIEWER, token=session)).data["viewer"]["apiTokens"] == []


async def test_an_expired_api_token_no_longer_works(client: GraphQLClient, engine) -> None:
    _, session = await make_user(engine)
    secret = (await client(CREATE_TOKEN, {"input": {"name": "ci", "scopes": ["READ"]}}, token=session)).data[
        "createApiToken"
    ]["token"]
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE auth.tokens SET expires_at = now() - interval '1 second'"))
    assert_token_refused(await client(VIEWER, token=secret))


async def test_logout_with_an_api_token_is_refused(client: GraphQLClient, engine) -> None:
    _, session = await make_user(engine)
    secret = (await client(CREATE_TOKEN, {"input": {"name": "ci", "scopes": ["WRITE"]}}, token=session)).data[
        "createApiToken"
    ]["token"]
    payload = (await client(LOGOUT, token=secret)).data["logout"]
    assert payload["ok"] is False
    assert payload["userErrors"][0]["code"] == "INVALID"
    assert (await client(VIEWER, token=secret)).data["viewer"] is not None


async def test_profiles_are_private_by_default(client: GraphQLClient, engine) -> None:
    await make_user(engine, username="ada")
    profile = (await client(PROFILE, {"username": "ADA"})).data["user"]
    assert profile == {"username": "ada", "createdAt": None, "email": None, "settings": None}


async def test_a_public_profile_shows_the_join_date_but_no_private_fields(
    client: GraphQLClient, engine
) -> None:
    _, token = await make_user(engine, username="ada")
    await client(UPDATE_SETTINGS, {"input": {"profileVisibility": "PUBLIC"}}, token=token)
    profile = (await client(PROFILE, {"username": "ada"})).data["user"]
    assert profile["createdAt"] is not None
    assert (profile["email"], profile["settings"]) == (None, None)


async def test_an_unknown_username_is_null(client: GraphQLClient) -> None:
    result = await client(PROFILE, {"username": "nobody"})
    assert result.data["user"] is None
    assert (await client(PROFILE, {"username": "bad name!"})).data["user"] is None


async def test_users_are_nodes_showing_only_public_fields(client: GraphQLClient, engine) -> None:
    _, token = await make_user(engine, username="ada")
    user_id = (await client("{ viewer { id } }", token=token)).data["viewer"]["id"]
    node = (
        await client("query($id: ID!) { node(id: $id) { ... on User { username email } } }", {"id": user_id})
    ).data
    assert node["node"] == {"username": "ada", "email": None}


async def test_update_settings_with_nothing_changes_nothing(client: GraphQLClient, engine) -> None:
    _, token = await make_user(engine, profile_visibility="public")
    payload = (await client(UPDATE_SETTINGS, {"input": {}}, token=token)).data["updateSettings"]
    assert payload == {"user": {"settings": {"profileVisibility": "PUBLIC"}}, "userErrors": []}


async def test_create_admin_command_makes_an_admin_who_can_sign_in(
    client: GraphQLClient, engine, database_url, monkeypatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    argv = ["create-admin", "--email", "root@example.org", "--username", "root", "--password", GOOD_PASSWORD]
    assert await asyncio.to_thread(main, argv) == 0
    token = (await login(client, "root", GOOD_PASSWORD)).data["login"]["token"]
    assert (await client(VIEWER, token=token)).data["viewer"]["role"] == "ADMIN"
    assert await asyncio.to_thread(main, argv) == 1


async def test_create_admin_command_applies_the_password_rules(engine, database_url, monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    argv = ["create-admin", "--email", "root@example.org", "--username", "root", "--password", "password"]
    assert await asyncio.to_thread(main, argv) == 1
    assert await scalar(engine, "SELECT count(*) FROM users.users") == 0


async def test_weaker_password_hashes_are_upgraded_at_sign_in(client: GraphQLClient, engine) -> None:
    await make_user(engine, username="ada")
    assert (await scalar(engine, "SELECT password_hash FROM users.users")).startswith("$argon2id$v=19$m=8,")
    assert (await login(client, "ada", FIXTURE_PASSWORD)).data["login"]["token"] is not None
    upgraded = await scalar(engine, "SELECT password_hash FROM users.users")
    assert upgraded.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert (await login(client, "ada", FIXTURE_PASSWORD)).data["login"]["token"] is not None


async def test_viewer_with_tokens_and_sessions_runs_a_fixed_number_of_statements(
    client: GraphQLClient, engine
) -> None:
    _, session = await make_user(engine)
    query = "{ viewer { username apiTokens { name } sessions { id current } } }"
    before = (await client(query, token=session)).queries
    for n in range(3):
        await client(CREATE_TOKEN, {"input": {"name": f"t{n}", "scopes": ["READ"]}}, token=session)
    result = await client(query, token=session)
    assert len(result.data["viewer"]["apiTokens"]) == 3
    assert [s["current"] for s in result.data["viewer"]["sessions"]] == [True]
    assert result.queries == before
    assert result.queries <= 3  # the credential (with the user), its tokens, its sessions


async def test_a_sign_in_reads_once_and_writes_once(client: GraphQLClient, engine) -> None:
    """The account and its recent failures in one read; the rehash, the session and the login event in
    one write transaction: two BEGINs and their ends, and no statement beyond those five."""
    await make_user(engine, username="ada")
    result = await login(client, "ada", FIXTURE_PASSWORD)
    assert result.data["login"]["token"] is not None
    assert result.queries <= 5
    assert result.round_trips - result.queries - result.prepares <= 4
