"""Failed sign-ins are slowed, then refused with HTTP 429 and Retry-After, per account and per address;
every failure stops counting when the window passes, so nobody is locked out for good."""

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Literal

import pytest
from argon2 import PasswordHasher, extract_parameters
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text

from db import passwords
from gql.app import create_app
from gql.config import Limits, Settings
from tests.client import GraphQLClient, Result, asgi_client
from tests.factories import FIXTURE_PASSWORD, make_user

LOGIN = """
mutation($input: LoginInput!) {
  login(input: $input) { token userErrors { field code message } }
}"""
REGISTER = """
mutation($input: RegisterInput!) {
  register(input: $input) { token userErrors { field code } }
}"""
WINDOW_SECONDS = 900
ClientAt = Callable[..., Awaitable[GraphQLClient]]


@pytest.fixture
async def client_at(engine, database_url) -> AsyncIterator[ClientAt]:
    """Clients of an app with small limits (no back-off unless asked), each from a given address."""
    opened: list[AsyncClient] = []

    async def open_client(ip: str = "192.0.2.1", **limits: float) -> GraphQLClient:
        chosen = {
            "login_failures_per_account": 3,
            "login_failures_per_ip": 5,
            "login_failure_window_seconds": WINDOW_SECONDS,
            "login_backoff_seconds": 0,
        } | limits
        settings = Settings(environment="development", limits=Limits(**chosen))  # type: ignore[arg-type]
        app = create_app(settings, database_url, engine=engine)
        http = AsyncClient(transport=ASGITransport(app=app, client=(ip, 4321)), base_url="http://testserver")
        opened.append(http)
        return GraphQLClient(http)

    yield open_client
    for http in opened:
        await http.aclose()


async def login(client: GraphQLClient, name: str, password: str):
    return await client(LOGIN, {"input": {"login": name, "password": password}})


async def age_login_events(engine, seconds: float) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE auth.login_events SET event_time = event_time - make_interval(secs => :s)"),
            {"s": seconds},
        )


def codes(result) -> list[str]:
    return [error["code"] for error in result.data["login"]["userErrors"]]


async def test_an_account_is_refused_with_429_after_repeated_failures(client_at: ClientAt, engine) -> None:
    await make_user(engine, username="ada")
    client = await client_at()
    for _ in range(3):
        assert codes(await login(client, "ada", "wrong password")) == ["INVALID_CREDENTIALS"]
    refused = await login(client, "ada", FIXTURE_PASSWORD)
    assert refused.response.status_code == 429
    assert codes(refused) == ["RATE_LIMITED"]
    assert refused.data["login"]["token"] is None
    assert WINDOW_SECONDS - 5 <= int(refused.response.headers["retry-after"]) <= WINDOW_SECONDS


async def test_the_refusal_ends_when_the_window_passes(client_at: ClientAt, engine) -> None:
    await make_user(engine, username="ada")
    client = await client_at()
    for _ in range(3):
        await login(client, "ada", "wrong password")
    await age_login_events(engine, WINDOW_SECONDS)
    result = await login(client, "ada", FIXTURE_PASSWORD)
    assert result.response.status_code == 200
    assert result.data["login"]["token"] is not None


async def test_refused_attempts_do_not_extend_the_refusal(client_at: ClientAt, engine) -> None:
    await make_user(engine, username="ada")
    client = await client_at()
    for _ in range(3):
        await login(client, "ada", "wrong password")
    await age_login_events(engine, WINDOW_SECONDS - 60)
    for _ in range(5):
        refused = await login(client, "ada", "wrong password")
        assert int(refused.response.headers["retry-after"]) <= 60
    await age_login_events(engine, 60)
    assert (await login(client, "ada", FIXTURE_PASSWORD)).data["login"]["token"] is not None


PROXY = "10.9.9.9"


@pytest.fixture
async def behind_proxy(engine, database_url) -> AsyncIterator[Callable[..., Awaitable[Result]]]:
    """Sign-ins through a trusted proxy (OMT_TRUSTED_PROXIES), each from the address it forwards."""
    settings = Settings(
        environment="development",
        trusted_proxies=(PROXY,),
        limits=Limits(login_failures_per_account=3, login_failures_per_ip=5, login_backoff_seconds=0),
    )
    app = create_app(settings, database_url, engine=engine)
    async with asgi_client(app, client_ip=PROXY) as client:

        async def login_from(address: str, name: str, password: str) -> Result:
            variables = {"input": {"login": name, "password": password}}
            return await client(LOGIN, variables, headers={"x-forwarded-for": address})

        yield login_from


async def test_an_attackers_failures_do_not_lock_the_owner_out(behind_proxy, engine) -> None:
    await make_user(engine, username="ada")
    for _ in range(3):
        assert codes(await behind_proxy("203.0.113.5", "ada", "wrong password")) == ["INVALID_CREDENTIALS"]
    attacker = await behind_proxy("203.0.113.5", "ada", FIXTURE_PASSWORD)
    assert attacker.response.status_code == 429
    assert codes(attacker) == ["RATE_LIMITED"]
    owner = await behind_proxy("198.51.100.7", "ada", FIXTURE_PASSWORD)
    assert owner.response.status_code == 200
    assert owner.data["login"]["token"] is not None


async def test_an_address_naming_many_accounts_is_refused_through_the_proxy(behind_proxy, engine) -> None:
    await make_user(engine, username="ada")
    for n in range(5):
        await behind_proxy("203.0.113.5", f"someone{n}", "wrong password")
    assert codes(await behind_proxy("203.0.113.5", "ada", FIXTURE_PASSWORD)) == ["RATE_LIMITED"]
    assert codes(await behind_proxy("203.0.113.6", "ada", "wrong password")) == ["INVALID_CREDENTIALS"]


async def test_throttling_does_not_tell_whose_email_an_address_is(client_at: ClientAt, engine) -> None:
    """Locking `ada` out by username must not lock out her email too: a refusal for a guessed
    address would tell a stranger that it is ada's (email is private)."""
    await make_user(engine, username="ada")
    await make_user(engine, username="bob")
    client = await client_at(login_failures_per_ip=100)
    for _ in range(3):
        await login(client, "ada", "wrong password")
    assert codes(await login(client, "ada", "wrong password")) == ["RATE_LIMITED"]
    guesses = {}
    for guess in ("ada@example.test", "bob@example.test", "nobody@example.test"):
        guesses[guess] = codes(await login(client, guess, "wrong password"))
    assert guesses == {guess: ["INVALID_CREDENTIALS"] for guess in guesses}


async def test_the_account_count_is_per_login_key_case_insensitively(client_at: ClientAt, engine) -> None:
    await make_user(engine, username="ada")
    client = await client_at()
    for name in ("ada", "ADA", "Ada"):
        assert codes(await login(client, name, "wrong password")) == ["INVALID_CREDENTIALS"]
    assert codes(await login(client, "ada", FIXTURE_PASSWORD)) == ["RATE_LIMITED"]


async def test_one_address_failing_on_many_accounts_is_refused(client_at: ClientAt, engine) -> None:
    await make_user(engine, username="ada")
    attacker = await client_at("203.0.113.9")
    for n in range(5):
        await login(attacker, f"someone{n}", "wrong password")
    refused = await login(attacker, "ada", FIXTURE_PASSWORD)
    assert refused.response.status_code == 429
    other_address = await login(await client_at("198.51.100.7"), "ada", FIXTURE_PASSWORD)
    assert other_address.data["login"]["token"] is not None


async def test_a_success_resets_the_account_count(client_at: ClientAt, engine) -> None:
    await make_user(engine, username="ada")
    client = await client_at(login_failures_per_ip=100)
    for _ in range(2):
        await login(client, "ada", "wrong password")
    assert (await login(client, "ada", FIXTURE_PASSWORD)).data["login"]["token"] is not None
    for _ in range(2):
        assert codes(await login(client, "ada", "wrong password")) == ["INVALID_CREDENTIALS"]


async def test_failures_back_off_exponentially(client_at: ClientAt, engine) -> None:
    await make_user(engine, username="ada")
    client = await client_at(login_backoff_seconds=60, login_failures_per_account=10)
    await login(client, "ada", "wrong password")
    first = await login(client, "ada", FIXTURE_PASSWORD)
    assert codes(first) == ["RATE_LIMITED"]
    assert 55 <= int(first.response.headers["retry-after"]) <= 60
    await age_login_events(engine, 60)
    await login(client, "ada", "wrong password")
    second = await login(client, "ada", FIXTURE_PASSWORD)
    assert 115 <= int(second.response.headers["retry-after"]) <= 120
    await age_login_events(engine, 120)
    assert (await login(client, "ada", FIXTURE_PASSWORD)).data["login"]["token"] is not None


async def test_unknown_accounts_are_throttled_like_real_ones(client_at: ClientAt, engine) -> None:
    await make_user(engine, username="ada")
    answers = {}
    for ip, name in (("192.0.2.20", "ada"), ("192.0.2.21", "nobody")):
        client = await client_at(ip)
        answers[name] = [codes(await login(client, name, "wrong password")) for _ in range(4)]
    assert answers["ada"] == answers["nobody"] == [["INVALID_CREDENTIALS"]] * 3 + [["RATE_LIMITED"]]


async def test_probing_for_taken_emails_through_register_is_throttled(client_at: ClientAt, engine) -> None:
    for n in range(6):
        await make_user(engine, username=f"user{n}")
    client = await client_at()
    answers = [
        await client(
            REGISTER,
            {
                "input": {
                    "email": f"user{n}@example.test",
                    "username": f"new{n}",
                    "password": "long enough phrase",
                }
            },
        )
        for n in range(6)
    ]
    assert [[e["code"] for e in a.data["register"]["userErrors"]] for a in answers] == [["TAKEN"]] * 5 + [
        ["RATE_LIMITED"]
    ]
    assert answers[-1].response.status_code == 429


async def test_a_wrong_password_and_an_unknown_account_do_the_same_hashing_work(
    client_at: ClientAt, engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the dummy verification an unknown account would answer without any argon2 work, and the
    time of the answer would tell which accounts exist. Both answers verify one hash of the same cost."""
    client = await client_at(login_failures_per_account=1000, login_failures_per_ip=1000)
    await client(
        REGISTER, {"input": {"email": "ada@example.org", "username": "ada", "password": "long enough phrase"}}
    )
    verified: list[str] = []
    hasher = passwords.PASSWORD_HASHER

    class CountingHasher(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
            verified.append(str(hash))
            return hasher.verify(hash, password)

    monkeypatch.setattr(passwords, "PASSWORD_HASHER", CountingHasher.from_parameters(hasher._parameters))
    assert codes(await login(client, "ada", "wrong password")) == ["INVALID_CREDENTIALS"]
    [wrong_password] = verified
    verified.clear()
    assert codes(await login(client, "nobody", "wrong password")) == ["INVALID_CREDENTIALS"]
    [unknown] = verified
    assert wrong_password != unknown
    assert extract_parameters(unknown) == extract_parameters(wrong_password)


CHANGE_PASSWORD = """
mutation($input: ChangePasswordInput!) { changePassword(input: $input) { userErrors { code } } }"""


async def test_guessing_the_current_password_through_change_password_is_throttled(
    client_at: ClientAt, engine
) -> None:
    """A stolen session must not become an unthrottled oracle for the password (and so the account)."""
    _, session = await make_user(engine, username="ada")
    client = await client_at()

    async def change(current: str) -> list[str]:
        variables = {"input": {"currentPassword": current, "newPassword": "a brand new passphrase"}}
        payload = (await client(CHANGE_PASSWORD, variables, token=session)).data["changePassword"]
        return [error["code"] for error in payload["userErrors"]]

    for n in range(3):
        assert await change(f"guess {n}") == ["INVALID_CREDENTIALS"]
    assert await change(FIXTURE_PASSWORD) == ["RATE_LIMITED"]
    assert codes(await login(client, "ada", FIXTURE_PASSWORD)) == ["RATE_LIMITED"]


async def test_a_throttled_password_change_is_answered_with_429_and_retry_after(
    client_at: ClientAt, engine
) -> None:
    """The command decides that the caller must wait; the HTTP layer turns the wait into the status."""
    _, session = await make_user(engine, username="ada")
    client = await client_at()
    variables = {"input": {"currentPassword": "a wrong guess", "newPassword": "a brand new passphrase"}}
    for _ in range(3):
        answered = await client(CHANGE_PASSWORD, variables, token=session)
        assert answered.response.status_code == 200
    refused = await client(CHANGE_PASSWORD, variables, token=session)
    assert refused.response.status_code == 429
    assert [error["code"] for error in refused.data["changePassword"]["userErrors"]] == ["RATE_LIMITED"]
    assert WINDOW_SECONDS - 5 <= int(refused.response.headers["retry-after"]) <= WINDOW_SECONDS
