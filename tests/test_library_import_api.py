"""importLibrary over the GraphQL multipart request spec, the LibraryImportJob node, viewer.libraryImports,
the CSRF rule and size limit on uploads, and who may see a job."""

import asyncio
import json
from typing import Any

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from db.library_import.jobs import ABANDONED_ERROR, OWNER_LOCK
from db.models import LibraryImport, UserMedia
from gql.app import create_app
from gql.config import Limits, Settings
from gql.relay import from_global_id, to_global_id
from tests.client import GraphQLClient
from tests.factories import make_user
from tests.library_import_catalog import fixture_bytes, letterboxd_zip, make_import_catalog

IMPORT = """
mutation($input: ImportLibraryInput!) {
  importLibrary(input: $input) { job { id status fileName } userErrors { field code message } }
}"""
JOB = """
query($id: ID!, $first: Int, $after: String) {
  node(id: $id) {
    ... on LibraryImportJob {
      status error progress format mergePolicy
      counts {
        total processed matched created updated unchanged unmatched failed
        listsCreated listItemsUnmatched listItemsFailed
      }
      unmatched(first: $first, after: $after) {
        totalCount pageInfo { hasNextPage endCursor }
        edges { node { rowNumber listName reason message title year externalIds } }
      }
      failures(first: 10) { totalCount edges { node { rowNumber reason message } } }
    }
  }
}"""
IMPORTS = "{ viewer { libraryImports(first: 10) { totalCount edges { node { id status } } } } }"
OTHERS_IMPORTS = "query($u: String!) { user(username: $u) { libraryImports { totalCount } } }"
PREFLIGHT = {"Apollo-Require-Preflight": "true"}


async def upload(
    http: AsyncClient,
    token: str | None,
    file_format: str,
    data: bytes,
    name: str,
    headers: dict[str, str] | None = None,
    merge_policy: str | None = None,
) -> Any:
    variables: dict[str, Any] = {"input": {"format": file_format, "file": None}}
    if merge_policy:
        variables["input"]["mergePolicy"] = merge_policy
    operations = json.dumps({"query": IMPORT, "variables": variables})
    all_headers = {**PREFLIGHT, **(headers if headers is not None else {})}
    if headers is not None and not headers:
        all_headers = {}
    if token:
        all_headers["authorization"] = f"Bearer {token}"
    return await http.post(
        "/graphql",
        data={"operations": operations, "map": json.dumps({"0": ["variables.input.file"]})},
        files={"0": (name, data, "application/octet-stream")},
        headers=all_headers,
    )


async def import_and_wait(
    client: GraphQLClient, token: str, file_format: str, data: bytes, name: str, **kw: Any
) -> Any:
    response = await upload(client.http, token, file_format, data, name, **kw)
    assert response.status_code == 200, response.text
    payload = response.json()["data"]["importLibrary"]
    assert payload["userErrors"] == [], payload
    return await wait_for(client, token, payload["job"]["id"])


async def wait_for(client: GraphQLClient, token: str, job_id: str, first: int = 10) -> Any:
    for _ in range(400):
        job = (await client(JOB, {"id": job_id, "first": first}, token=token)).data["node"]
        if job["status"] not in ("QUEUED", "RUNNING"):
            return job
        await asyncio.sleep(0.05)
    raise AssertionError("the import did not finish")


async def test_a_mal_export_imports_through_the_api_and_lists_its_unmatched_rows(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    await make_import_catalog(engine)
    _, token = await make_user(engine)
    job = await import_and_wait(client, token, "MAL", fixture_bytes("mal_anime.xml"), "animelist.xml")
    assert job["status"] == "SUCCEEDED"
    assert (job["format"], job["mergePolicy"], job["progress"]) == ("MAL", "NEWER", 100.0)
    counts = job["counts"]
    assert counts["total"] == counts["matched"] + counts["unmatched"] + counts["failed"] == 7
    assert (counts["created"], counts["unchanged"], counts["unmatched"], counts["failed"]) == (3, 1, 1, 2)
    (unmatched,) = [edge["node"] for edge in job["unmatched"]["edges"]]
    assert unmatched == {
        "rowNumber": 4,
        "listName": None,
        "reason": "NOT_FOUND",
        "message": unmatched["message"],
        "title": "A Show The Catalog Lacks",
        "year": None,
        "externalIds": ["mal-anime:99999", "mal:99999"],
    }
    assert [edge["node"]["rowNumber"] for edge in job["failures"]["edges"]] == [5, 7]
    assert job["failures"]["totalCount"] == 2


async def test_unmatched_rows_page_with_cursors(client: GraphQLClient, engine: AsyncEngine) -> None:
    await make_import_catalog(engine)
    _, token = await make_user(engine)
    job = await import_and_wait(
        client, token, "GOODREADS", fixture_bytes("goodreads_library_export.csv"), "g.csv"
    )
    response = await upload(
        client.http, token, "GOODREADS", fixture_bytes("goodreads_library_export.csv"), "g.csv"
    )
    job_id = response.json()["data"]["importLibrary"]["job"]["id"]
    await wait_for(client, token, job_id)
    seen, after = [], None
    while True:
        page = (await client(JOB, {"id": job_id, "first": 1, "after": after}, token=token)).data["node"]
        seen += [
            (edge["node"]["listName"], edge["node"]["rowNumber"], edge["node"]["reason"])
            for edge in page["unmatched"]["edges"]
        ]
        assert page["unmatched"]["totalCount"] == 4
        if not page["unmatched"]["pageInfo"]["hasNextPage"]:
            break
        after = page["unmatched"]["pageInfo"]["endCursor"]
    # The library's rows, then the shelves' (each a list), in file order.
    assert seen == [
        (None, 3, "NOT_FOUND"),
        (None, 6, "AMBIGUOUS"),
        ("sci-fi", 3, "NOT_FOUND"),
        ("classics", 6, "AMBIGUOUS"),
    ]
    assert (job["counts"]["unmatched"], job["counts"]["listItemsUnmatched"]) == (2, 2)


@pytest.mark.parametrize(
    ("file_format", "name"),
    [("GOODREADS", "goodreads_library_export.csv"), ("LETTERBOXD", None), ("TRAKT", "trakt.json")],
)
async def test_each_format_imports_through_the_api_and_a_second_time_changes_nothing(
    client: GraphQLClient, engine: AsyncEngine, file_format: str, name: str | None
) -> None:
    await make_import_catalog(engine)
    user_id, token = await make_user(engine)
    data = letterboxd_zip() if name is None else fixture_bytes(name)
    first = await import_and_wait(client, token, file_format, data, name or "letterboxd.zip")
    counts = first["counts"]
    assert counts["total"] == counts["matched"] + counts["unmatched"] + counts["failed"]
    assert counts["created"] > 0
    async with engine.connect() as conn:
        before = sorted(await conn.execute(select(UserMedia).where(UserMedia.user_id == user_id)))
    second = await import_and_wait(client, token, file_format, data, name or "letterboxd.zip")
    assert (second["counts"]["created"], second["counts"]["updated"]) == (0, 0)
    assert second["counts"]["unchanged"] == counts["matched"]
    async with engine.connect() as conn:
        assert sorted(await conn.execute(select(UserMedia).where(UserMedia.user_id == user_id))) == before


async def test_a_multipart_request_without_the_preflight_header_is_refused(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    _, token = await make_user(engine)
    response = await upload(client.http, token, "MAL", fixture_bytes("mal_anime.xml"), "a.xml", headers={})
    assert response.status_code == 415
    assert "Apollo-Require-Preflight" in response.json()["errors"][0]["message"]
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(LibraryImport))).scalar_one() == 0


async def test_a_form_post_is_still_refused_as_before(client: GraphQLClient) -> None:
    response = await client.http.post("/graphql", data={"query": "{ __typename }"}, headers=PREFLIGHT)
    assert response.status_code == 415


async def test_uploads_have_their_own_size_limit_and_json_keeps_its_own(
    engine: AsyncEngine, database_url: str
) -> None:
    _, token = await make_user(engine)
    settings = Settings(
        environment="development", limits=Limits(max_body_bytes=2_000, max_upload_bytes=20_000)
    )
    app = create_app(settings, database_url, engine=engine)
    async with AsyncClient(
        transport=ASGITransport(app=app, client=("10.9.0.1", 1)), base_url="http://t"
    ) as http:
        fits = await upload(http, token, "MAL", fixture_bytes("mal_anime.xml"), "a.xml")
        assert fits.status_code == 200, fits.text
        too_big = await upload(http, token, "MAL", b"x" * 30_000, "a.xml")
        assert too_big.status_code == 413
        json_body = {"query": "{ __typename }", "variables": {"pad": "x" * 5_000}}
        assert (await http.post("/graphql", json=json_body)).status_code == 413
    await app.state.library_imports.stop()


async def test_anonymous_and_read_only_callers_cannot_import(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    from tests.test_tracking import make_read_token

    user_id, _ = await make_user(engine)
    anonymous = await upload(client.http, None, "MAL", fixture_bytes("mal_anime.xml"), "a.xml")
    assert anonymous.json()["data"]["importLibrary"]["userErrors"][0]["code"] == "UNAUTHENTICATED"
    reader = await make_read_token(engine, user_id)
    read_only = await upload(client.http, reader, "MAL", fixture_bytes("mal_anime.xml"), "a.xml")
    assert read_only.json()["data"]["importLibrary"]["userErrors"][0]["code"] == "FORBIDDEN"
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(LibraryImport))).scalar_one() == 0


async def test_a_job_and_its_rows_are_the_owners_only(client: GraphQLClient, engine: AsyncEngine) -> None:
    await make_import_catalog(engine)
    _, owner = await make_user(engine, username="owner", profile_visibility="public")
    _, other = await make_user(engine)
    _, admin = await make_user(engine, role="admin")
    job = await import_and_wait(client, owner, "MAL", fixture_bytes("mal_anime.xml"), "a.xml")
    imports = (await client(IMPORTS, token=owner)).data["viewer"]["libraryImports"]
    assert imports["totalCount"] == 1
    job_id = imports["edges"][0]["node"]["id"]
    assert job["status"] == "SUCCEEDED"
    for stranger in (other, admin, None):
        assert (await client(JOB, {"id": job_id}, token=stranger)).data["node"] is None
        assert (await client(OTHERS_IMPORTS, {"u": "owner"}, token=stranger)).data["user"][
            "libraryImports"
        ] is None
    assert (await client(IMPORTS, token=other)).data["viewer"]["libraryImports"]["totalCount"] == 0


async def test_an_unreadable_file_fails_the_job_with_its_reason(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    _, token = await make_user(engine)
    job = await import_and_wait(client, token, "TRAKT", b"{not json", "trakt.json")
    assert job["status"] == "FAILED"
    assert job["error"] == "trakt.json is not JSON"


async def test_an_empty_file_is_refused(client: GraphQLClient, engine: AsyncEngine) -> None:
    _, token = await make_user(engine)
    response = await upload(client.http, token, "MAL", b"", "a.xml")
    errors = response.json()["data"]["importLibrary"]["userErrors"]
    assert [(error["field"], error["code"]) for error in errors] == [(["file"], "INVALID")]


async def test_a_users_second_import_while_the_first_runs_is_refused_and_others_are_not(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    await make_import_catalog(engine)
    _, token = await make_user(engine)
    _, other = await make_user(engine)
    data = letterboxd_zip()
    responses = await asyncio.gather(
        *(upload(client.http, token, "LETTERBOXD", data, "letterboxd.zip") for _ in range(2)),
        upload(client.http, other, "LETTERBOXD", data, "letterboxd.zip"),
    )
    payloads = [response.json()["data"]["importLibrary"] for response in responses]
    mine = payloads[:2]
    started = [payload["job"] for payload in mine if payload["job"] is not None]
    assert len(started) == 1
    (refused,) = [payload["userErrors"] for payload in mine if payload["job"] is None]
    assert [error["code"] for error in refused] == ["CONFLICT"]
    assert started[0]["id"] in refused[0]["message"]
    assert payloads[2]["userErrors"] == []
    job = await wait_for(client, token, started[0]["id"])
    assert (job["status"], job["counts"]["created"]) == ("SUCCEEDED", 3)
    assert (await wait_for(client, other, payloads[2]["job"]["id"]))["status"] == "SUCCEEDED"
    again = await import_and_wait(client, token, "LETTERBOXD", data, "letterboxd.zip")
    assert (again["counts"]["created"], again["counts"]["unchanged"]) == (0, 3)


async def test_at_start_up_the_jobs_no_process_runs_any_more_are_marked_interrupted(
    client: GraphQLClient, engine: AsyncEngine, settings: Settings, database_url: str
) -> None:
    user_id, token = await make_user(engine)
    async with engine.begin() as conn:
        abandoned = (
            await conn.execute(
                insert(LibraryImport)
                .values(
                    user_id=user_id, format="mal", file_name="a.xml", merge_policy="newer", status="running"
                )
                .returning(LibraryImport.id)
            )
        ).scalar_one()
    job_id = to_global_id("LibraryImportJob", abandoned)
    assert (await client(JOB, {"id": job_id}, token=token)).data["node"]["status"] == "RUNNING"
    app = create_app(settings, database_url)
    async with app.router.lifespan_context(app):
        for _ in range(400):
            job = (await client(JOB, {"id": job_id}, token=token)).data["node"]
            if job["status"] != "RUNNING":
                break
            await asyncio.sleep(0.05)
    assert (job["status"], job["error"]) == ("INTERRUPTED", ABANDONED_ERROR)


async def test_a_server_that_stops_mid_import_marks_the_job_interrupted_and_releases_it(
    engine: AsyncEngine, settings: Settings, database_url: str
) -> None:
    catalog = await make_import_catalog(engine)
    user_id, token = await make_user(engine)
    async with engine.begin() as conn:
        await conn.execute(
            insert(UserMedia).values(user_id=user_id, media_id=catalog["Heat"], status="planned")
        )
    app = create_app(settings, database_url, engine=engine)
    async with (
        engine.connect() as blocker,
        AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as http,
    ):
        # The job's batch waits for this row lock: the server stops in the middle of a statement.
        await blocker.begin()
        await blocker.execute(select(UserMedia).where(UserMedia.user_id == user_id).with_for_update())
        response = await upload(http, token, "LETTERBOXD", letterboxd_zip(), "letterboxd.zip")
        job_id = response.json()["data"]["importLibrary"]["job"]["id"]
        client = GraphQLClient(http)
        for _ in range(400):
            if (await client(JOB, {"id": job_id}, token=token)).data["node"]["status"] == "RUNNING":
                break
            await asyncio.sleep(0.05)
        await app.state.library_imports.stop()
        await blocker.rollback()
        job = (await client(JOB, {"id": job_id}, token=token)).data["node"]
    assert (job["status"], job["error"]) == ("INTERRUPTED", "the server stopped during the import")
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    async with engine.begin() as conn:
        probe = text(f"SELECT pg_try_advisory_xact_lock({OWNER_LOCK.format(job_id=':job_id')})")
        raw = from_global_id(job_id, "LibraryImportJob")
        assert raw is not None
        assert (await conn.execute(probe, {"job_id": raw[1]})).scalar() is True
