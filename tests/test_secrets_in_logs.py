"""Secrets never reach the log: each auth mutation sent with mistakes, to a real server process logging
at DEBUG, leaves no password, bearer secret or Authorization value in any log line."""

import logging
import sys
from pathlib import Path
from typing import Any

from gql.redaction import RedactSecrets
from tests.factories import make_user
from tests.server_process import running_server

LOGIN = "mutation($input: LoginInput!) { login(input: $input) { token userErrors { code } } }"
REGISTER = "mutation($input: RegisterInput!) { register(input: $input) { token userErrors { code } } }"
CHANGE_PASSWORD = """
mutation($input: ChangePasswordInput!) { changePassword(input: $input) { userErrors { code } } }"""
CREATE_TOKEN = """
mutation($input: CreateApiTokenInput!) { createApiToken(input: $input) { token userErrors { code } } }"""
PASSWORD = "a long unusual phrase"
NEW_PASSWORD = "another quite unusual phrase"


async def test_auth_mutations_with_mistakes_leave_no_secret_in_the_log(
    engine, database_url: str, tmp_path: Path
) -> None:
    _, session = await make_user(engine, username="ada")
    with running_server(tmp_path / "server.log", {"DATABASE_URL": database_url}) as server:
        mistakes: list[tuple[str, dict[str, Any] | None, str | None]] = [
            (LOGIN, {"input": {"login": "ada", "pasword": PASSWORD}}, None),
            (LOGIN, {"input": {"login": "ada", "password": PASSWORD, "remember": True}}, None),
            (LOGIN, {"input": {"login": ["ada"], "password": PASSWORD}}, None),
            (f'mutation {{ login(input: {{login: "ada", pasword: "{PASSWORD}"}}) {{ token }} }}', None, None),
            (f'mutation {{ login(input: {{login: "ada", password: "{PASSWORD}"}}) {{ tokn }} }}', None, None),
            (REGISTER, {"input": {"email": "a@example.test", "username": "bob", "pasword": PASSWORD}}, None),
            (REGISTER, {"input": {"email": 7, "username": "bob", "password": PASSWORD}}, None),
            (
                CHANGE_PASSWORD,
                {"input": {"currentPasword": PASSWORD, "newPassword": NEW_PASSWORD}},
                session,
            ),
            (
                CHANGE_PASSWORD,
                {"input": {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD, "keep": 1}},
                session,
            ),
            (CREATE_TOKEN, {"input": {"name": "ci", "scopes": ["READS"]}}, session),
            (CREATE_TOKEN, {"input": {"nme": "ci", "scopes": ["READ"]}}, session),
        ]
        for query, variables, token in mistakes:
            response = server.graphql(query, variables, token=token)
            assert response.status_code in (200, 400), response.text
            assert response.json()["errors"], response.text
        created = server.graphql(CREATE_TOKEN, {"input": {"name": "ci", "scopes": ["READ"]}}, token=session)
        api_token = created.json()["data"]["createApiToken"]["token"]
        server.graphql("{ viewer { id } }", token=api_token)
        server.graphql('{ viewer { id } nosuchfield(password: "x") }', token=api_token)
        log = server.log()
    assert log.count("client error") >= len(mistakes), "the mistakes were logged, not silenced"
    for secret in (PASSWORD, NEW_PASSWORD, session, session[5:], api_token, api_token[5:]):
        assert secret not in log


def test_a_defects_traceback_is_scrubbed_too() -> None:
    """Defects are logged with their traceback; the redaction applies to it as to the message."""
    session, api_token = "omts_" + "s3cr3t" * 6, "omtk_" + "t0k3n" * 6
    try:
        raise ValueError(f"login failed for {{'login': 'ada', 'pasword': '{PASSWORD}'}} with {api_token}")
    except ValueError:
        record = logging.LogRecord(
            "omnimediatrak",
            logging.ERROR,
            __file__,
            1,
            "Authorization: Bearer %s",
            (session,),
            sys.exc_info(),
        )
    assert RedactSecrets().filter(record)
    line = logging.Formatter("%(message)s").format(record)
    assert "ValueError" in line
    for secret in (session, api_token, PASSWORD):
        assert secret not in line
