"""Every client mistake gets a typed error and changes nothing: replayed through the real ASGI app as
an anonymous caller, a user and an admin, each case must answer with a typed error (never 5xx, never
INTERNAL_SERVER_ERROR), write no ERROR log line, and leave every table as it was."""

import base64
import json
import logging
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from db.models import Base
from gql.relay import to_global_id
from tests.client import GraphQLClient, Result
from tests.factories import make_media, make_user

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
MEDIA_ID = "<media id>"
NUL = "a\u0000b"
SURROGATE = "a\ud800b"


@dataclass(frozen=True)
class Case:
    name: str
    query: str
    variables: dict[str, Any] | str = field(default_factory=dict)  # a str is sent as written
    code: str = "BAD_USER_INPUT"
    who: str = "anonymous"  # or "user", "admin"
    # Status with application/graphql-response+json: 400 when the operation could not start.
    status: int = 400
    message: str | None = None  # a part of the message, when the message matters
    # Nesting near the interpreter's recursion limit may be refused while the body is read.
    or_refused_as_body: bool = False


SEARCH_FILTER = "query($f: MediaFilter) { searchMedia(filter: $f) { totalCount } }"
SEARCH_TYPES = "query($t: [MediaType!]) { searchMedia(filter: {mediaTypes: $t}) { totalCount } }"
FIRST = "query($n: Int) { searchMedia(first: $n) { totalCount } }"
MEDIA = "query($id: ID!) { media(id: $id) { title } }"
RELEASED_AFTER = "query($d: Date) { searchMedia(filter: {releasedAfter: $d}) { totalCount } }"
TRACK = "mutation($input: TrackMediaInput!) { trackMedia(input: $input) { entry { id } userErrors { field code } } }"
CREATE_MEDIA = "mutation($input: CreateMediaInput!) { createMedia(input: $input) { media { id } userErrors { field message } } }"
UPDATE_MEDIA = (
    "mutation($input: UpdateMediaInput!) { updateMedia(input: $input) { media { id } userErrors { field } } }"
)
REGISTER = "mutation($input: RegisterInput!) { register(input: $input) { token userErrors { field } } }"
LOGIN = "mutation($input: LoginInput!) { login(input: $input) { token userErrors { field } } }"
CREATE_LIST = (
    "mutation($input: CreateListInput!) { createList(input: $input) { list { id } userErrors { field } } }"
)
CREATE_TOKEN = (
    "mutation($input: CreateApiTokenInput!) { createApiToken(input: $input) { token userErrors { field } } }"
)
CHANGE_PASSWORD = "mutation($input: ChangePasswordInput!) { changePassword(input: $input) { user { id } userErrors { field } } }"
BY_EXTERNAL_ID = "query($s: String!, $k: String!) { mediaByExternalId(source: $s, key: $k) { title } }"
FRANCHISE = "query($p: String!) { franchise(path: $p) { totalCount } }"
SEARCH_AFTER = "query($c: String) { searchMedia(after: $c) { totalCount } }"


def nested_json(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


def forged_cursor(payload: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def media_input(**fields: Any) -> dict[str, Any]:
    return {"input": {"title": "T", "mediaType": "BOOK", "mediaClass": "written.book.novel", **fields}}


CASES = [
    # Variables that fail coercion.
    Case("wrong enum value", SEARCH_TYPES, {"t": ["MOVIE"]}, message="MOVIE"),
    Case("string for Int", FIRST, {"n": "ten"}),
    Case("float for Int", FIRST, {"n": 1.5}),
    Case("2^31 for Int", FIRST, {"n": 2**31}),
    Case("object for ID", MEDIA, {"id": {"a": 1}}),
    Case("missing required variable", MEDIA, {}, message="$id"),
    Case("unknown input field", SEARCH_FILTER, {"f": {"nope": 1}}, message="nope"),
    Case("impossible Date", RELEASED_AFTER, {"d": "2024-02-30"}),
    Case("Date 0000-00-00", RELEASED_AFTER, {"d": "0000-00-00"}),
    Case("Date in year 99999", RELEASED_AFTER, {"d": "99999-01-01"}),
    Case(
        "DateTime offset +25:00",
        TRACK,
        {"input": {"mediaId": MEDIA_ID, "startedAt": "2024-01-01T00:00:00+25:00"}},
        who="user",
    ),
    Case(
        "DateTime out of range in UTC",
        TRACK,
        {"input": {"mediaId": MEDIA_ID, "completedAt": "9999-12-31T23:59:59-14:00"}},
        who="user",
    ),
    Case(
        "DateTime before year 1 in UTC",
        TRACK,
        {"input": {"mediaId": MEDIA_ID, "startedAt": "0001-01-01T00:00:00+14:00"}},
        who="user",
    ),
    # The same mistakes written inline are validation failures, with locations.
    Case(
        "inline impossible Date",
        '{ searchMedia(filter: {releasedAfter: "2024-02-30"}) { totalCount } }',
        code="GRAPHQL_VALIDATION_FAILED",
    ),
    Case(
        "inline wrong enum",
        "{ searchMedia(filter: {mediaTypes: [MOVIE]}) { totalCount } }",
        code="GRAPHQL_VALIDATION_FAILED",
    ),
    Case(
        "inline NUL",
        '{ searchMedia(filter: {search: "a\\u0000b"}) { totalCount } }',
        code="GRAPHQL_VALIDATION_FAILED",
    ),
    Case("inline surrogate", '{ user(username: "a\\ud800") { id } }', code="GRAPHQL_PARSE_FAILED"),
    Case(
        "inline JSON nested 30 deep",
        "{ searchMedia(filter: {attributes: " + "{a: " * 30 + "1" + "}" * 30 + "}) { totalCount } }",
        code="GRAPHQL_VALIDATION_FAILED",
    ),
    Case("syntax error", "{ searchMedia {", code="GRAPHQL_PARSE_FAILED"),
    Case(
        "query deeper than the limit",
        "{ searchMedia { edges { node { relations { node { relations { node { relations { node { relations "
        "{ node { relations { node { title } } } } } } } } } } } } } }",
        code="GRAPHQL_VALIDATION_FAILED",
    ),
    Case(
        "query above the cost limit",
        "{ searchMedia(first: 100) { edges { node { relations { node { relations { node { relations "
        "{ node { title } } } } } } } } } }",
        code="QUERY_TOO_COSTLY",
    ),
    Case("selections nested 1,000 deep", "{" + "a{" * 1000 + "b" + "}" * 1001, code="GRAPHQL_PARSE_FAILED"),
    Case(
        "two operations without operationName",
        "query A { mediaTypes { count } } query B { viewer { id } }",
        code="GRAPHQL_VALIDATION_FAILED",
    ),
    # NUL and unpaired surrogates in every kind of String/ID/JSON input.
    Case("NUL in search", SEARCH_FILTER, {"f": {"search": NUL}}, message="NUL"),
    Case("surrogate in search", SEARCH_FILTER, {"f": {"search": SURROGATE}}, message="surrogate"),
    Case("NUL in creator", SEARCH_FILTER, {"f": {"creator": NUL}}),
    Case("NUL in genres", SEARCH_FILTER, {"f": {"genresAny": ["x", NUL]}}, message="genresAny[1]"),
    Case("NUL in countries", SEARCH_FILTER, {"f": {"countries": [NUL]}}),
    Case("NUL in attribute key", SEARCH_FILTER, {"f": {"attributes": {NUL: 1}}}),
    Case("surrogate in attribute value", SEARCH_FILTER, {"f": {"attributes": {"a": [SURROGATE]}}}),
    Case("NUL in mediaByExternalId", BY_EXTERNAL_ID, {"s": "tmdb", "k": NUL}),
    Case("NUL in an ID", MEDIA, {"id": NUL}),
    Case(
        "NUL in register email",
        REGISTER,
        {"input": {"email": f"{NUL}@x.test", "username": "u", "password": "p" * 12}},
    ),
    Case("surrogate in login", LOGIN, {"input": {"login": SURROGATE, "password": "x"}}),
    Case("NUL in password", LOGIN, {"input": {"login": "someone", "password": NUL}}),
    Case(
        "NUL in changePassword",
        CHANGE_PASSWORD,
        {"input": {"currentPassword": NUL, "newPassword": "x" * 12}},
        who="user",
    ),
    Case("NUL in list name", CREATE_LIST, {"input": {"name": NUL}}, who="user"),
    Case(
        "NUL in list description", CREATE_LIST, {"input": {"name": "n", "description": SURROGATE}}, who="user"
    ),
    Case(
        "NUL in smart-list definition",
        CREATE_LIST,
        {"input": {"name": "n", "listType": "SMART", "definition": {"media": {"search": NUL}}}},
        who="user",
    ),
    Case("NUL in notes", TRACK, {"input": {"mediaId": MEDIA_ID, "notes": NUL}}, who="user"),
    Case("NUL in token name", CREATE_TOKEN, {"input": {"name": NUL, "scopes": ["READ"]}}, who="user"),
    Case("NUL in admin title", CREATE_MEDIA, media_input(title=NUL), who="admin"),
    Case("NUL in admin attributes", CREATE_MEDIA, media_input(attributes={"venue": NUL}), who="admin"),
    # Excessive nesting.
    Case(
        "admin attributes nested 1,000 deep",
        CREATE_MEDIA,
        '{"input": {"title": "T", "mediaType": "BOOK", "mediaClass": "written.book.novel", "attributes": '
        + nested_json(1000)
        + "}}",
        who="admin",
        message="nested",
        or_refused_as_body=True,
    ),
    Case(
        "admin attributes nested 100 deep",
        CREATE_MEDIA,
        '{"input": {"title": "T", "mediaType": "BOOK", "mediaClass": "written.book.novel", "attributes": '
        + nested_json(100)
        + "}}",
        who="admin",
        message="nested deeper than 20",
    ),
    Case("filter attributes nested 25 deep", SEARCH_FILTER, '{"f": {"attributes": ' + nested_json(25) + "}}"),
    Case(
        "a number beyond float range", SEARCH_FILTER, '{"f": {"attributes": {"a": 1e999}}}', message="finite"
    ),
    # Arguments that the columns cannot hold.
    Case("over-long ltree label in franchise", FRANCHISE, {"p": "a" * 2000}, status=200),
    Case("trailing newline in franchise path", FRANCHISE, {"p": "dune\n"}, status=200),
    Case("over-long ltree label in filter", SEARCH_FILTER, {"f": {"collectionPath": "a" * 300}}, status=200),
    Case("over-long mediaClass filter", SEARCH_FILTER, {"f": {"mediaClass": "b." + "a" * 300}}, status=200),
    # Forged cursors.
    Case("cursor of nested arrays", SEARCH_AFTER, {"c": forged_cursor([[[[[[]]]]]])}, status=200),
    Case(
        "cursor nested 10,000 deep",
        SEARCH_AFTER,
        {"c": base64.urlsafe_b64encode(b"[" * 10000 + b"]" * 10000).decode()},
        status=200,
    ),
    Case("cursor that is not base64", SEARCH_AFTER, {"c": "%%%"}, status=200),
]

ADMIN_CASES = [
    Case(
        "episodes beyond int32",
        CREATE_MEDIA,
        media_input(attributes={"episodes": 3_000_000_000}),
        who="admin",
        status=200,
        code="userErrors",
    ),
    Case(
        "pages of 10**20",
        CREATE_MEDIA,
        media_input(attributes={"page_count": 10**20}),
        who="admin",
        status=200,
        code="userErrors",
    ),
]


async def snapshot(engine: AsyncEngine) -> dict[str, Any]:
    """Every table's rows; sessions and tokens by count only (a request touches their last use)."""
    state: dict[str, Any] = {}
    async with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            name = f"{table.schema}.{table.name}"
            if name in ("auth.sessions", "auth.tokens"):
                query = f"SELECT count(*) FROM {name}"
            else:
                query = f"SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM {name} t"
            state[name] = (await conn.execute(text(query))).scalar()
    return state


@pytest.fixture
async def callers(engine: AsyncEngine) -> dict[str, Any]:
    _, user_token = await make_user(engine)
    _, admin_token = await make_user(engine, role="admin")
    media_id = await make_media(engine, title="Dune")
    return {"user": user_token, "admin": admin_token, "media": to_global_id("Media", media_id)}


def with_media(value: Any, media: str) -> Any:
    if value == MEDIA_ID:
        return media
    if isinstance(value, dict):
        return {key: with_media(item, media) for key, item in value.items()}
    if isinstance(value, list):
        return [with_media(item, media) for item in value]
    return value


async def post(client: GraphQLClient, case: Case, callers: dict[str, Any]) -> Result:
    """The request as a client sends it: JSON with \\u escapes (lone surrogates included)."""
    if isinstance(case.variables, str):
        variables = case.variables
    else:
        variables = json.dumps(with_media(case.variables, callers["media"]))
    headers = {"content-type": "application/json", "accept": GRAPHQL_RESPONSE_JSON}
    if case.who in ("user", "admin"):
        headers["authorization"] = f"Bearer {callers[case.who]}"
    body = '{"query": ' + json.dumps(case.query) + ', "variables": ' + variables + "}"
    return Result(await client.http.post("/graphql", content=body.encode(), headers=headers))


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
async def test_a_client_mistake_is_a_typed_error_that_changes_nothing(
    case: Case,
    client: GraphQLClient,
    engine: AsyncEngine,
    callers: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    before = await snapshot(engine)
    with caplog.at_level(logging.INFO):
        result = await post(client, case, callers)
    assert result.response.status_code == case.status, result.response.text
    codes = {error.get("extensions", {}).get("code") for error in result.errors}
    assert codes == {case.code} or (case.or_refused_as_body and codes == {"BAD_REQUEST"}), result.errors
    if case.message is not None:
        assert case.message in result.errors[0]["message"]
    if (
        case.code in ("BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED")
        and "nested" not in case.name
        and case.status == 400
    ):
        assert "locations" in result.errors[0], result.errors
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert await snapshot(engine) == before


@pytest.mark.parametrize("case", ADMIN_CASES, ids=[case.name for case in ADMIN_CASES])
async def test_counts_beyond_what_a_column_holds_are_refused(
    case: Case, client: GraphQLClient, engine: AsyncEngine, callers: dict[str, Any]
) -> None:
    before = await snapshot(engine)
    result = await post(client, case, callers)
    payload = result.data["createMedia"]
    assert payload["media"] is None
    assert payload["userErrors"][0]["field"][0] == "attributes"
    assert "2147483647" in payload["userErrors"][0]["message"]
    assert await snapshot(engine) == before


async def test_a_client_mistake_is_logged_on_one_info_line_without_its_values(
    client: GraphQLClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        result = await client(SEARCH_FILTER, {"f": {"search": "secret-value\u0000"}})
    request_id = result.response.headers["x-request-id"]
    records = [record for record in caplog.records if record.name.startswith(("omnimediatrak", "strawberry"))]
    assert len(records) == 1
    assert records[0].levelno == logging.INFO
    assert request_id in records[0].getMessage()
    assert "BAD_USER_INPUT" in records[0].getMessage()
    assert records[0].exc_info is None
    assert "secret-value" not in caplog.text


async def test_a_validation_failure_writes_no_error_line(
    client: GraphQLClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        result = await client("{ searchMedia { noSuchField } }")
    assert result.errors[0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


async def test_a_named_operation_of_several_runs(client: GraphQLClient) -> None:
    response = await client.http.post(
        "/graphql",
        json={"query": "query A { mediaTypes { count } } query B { viewer { id } }", "operationName": "B"},
    )
    assert response.json()["data"] == {"viewer": None}


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b'"hello"', "application/json", 400),
        (b"42", "application/json", 400),
        (b"null", "application/json", 400),
        (b'{"query": "{ mediaTypes { count } }", "variables": {"a": "\xff"}}', "application/json", 400),
        (b'{"query": "{ mediaTypes { count } }", "variables": {"a": NaN}}', "application/json", 400),
        (b'{"query": "{ mediaTypes { count } }", "operationName": 42}', "application/json", 400),
        (
            b'{"query": "query($a: JSON) { searchMedia(filter: {attributes: $a}) { totalCount } }", "variables": {"a": '
            + b"[" * 40_000
            + b"]" * 40_000
            + b"}}",
            "application/json",
            400,
        ),
        (b'{"query": "{ mediaTypes { count } }"}', "text/plain", 415),
    ],
    ids=[
        "string",
        "number",
        "null",
        "invalid UTF-8",
        "NaN",
        "operationName 42",
        "nested 40,000 deep",
        "text/plain",
    ],
)
async def test_a_malformed_request_is_a_4xx_with_a_graphql_error_body(
    client: GraphQLClient, caplog: pytest.LogCaptureFixture, body: bytes, content_type: str, status: int
) -> None:
    with caplog.at_level(logging.INFO):
        response = await client.http.post("/graphql", content=body, headers={"content-type": content_type})
    assert response.status_code == status
    error = response.json()["errors"][0]
    assert error["message"]
    assert error["extensions"]["code"] in ("BAD_REQUEST", "UNSUPPORTED_MEDIA_TYPE")
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


async def test_media_types_are_case_insensitive(client: GraphQLClient) -> None:
    response = await client.http.post(
        "/graphql",
        content=b'{"query": "{ mediaTypes { count } }"}',
        headers={"content-type": "APPLICATION/JSON; charset=UTF-8"},
    )
    assert response.status_code == 200
    assert "mediaTypes" in response.json()["data"]


async def test_a_defect_is_masked_and_logged_once_at_error_with_its_traceback(
    client: GraphQLClient, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from db import media as media_queries

    async def broken(*_: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(media_queries, "media_type_counts", broken)
    with caplog.at_level(logging.INFO):
        result = await client("{ mediaTypes { count } }")
    request_id = result.response.headers["x-request-id"]
    assert result.errors[0]["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id}
    assert "a bug" not in result.response.text
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert request_id in errors[0].getMessage()
    assert errors[0].exc_info is not None
