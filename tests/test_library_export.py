"""GET /export/library.json|csv: the signed-in user's own library, lists and settings; and the round
trip: our export imported into an empty account reproduces the library and the lists."""

import csv
import io
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from db.library_export import read_spreadsheet_cell
from gql.relay import to_global_id
from tests.client import GraphQLClient
from tests.factories import make_media, make_user
from tests.library_import_catalog import make_import_catalog
from tests.test_library_import_api import import_and_wait

TRACK = """
mutation($input: TrackMediaInput!) { trackMedia(input: $input) { userErrors { field code } } }"""
CREATE_LIST = """
mutation($input: CreateListInput!) { createList(input: $input) { list { id } userErrors { field code } } }"""
ADD_ITEM = """
mutation($input: AddListItemInput!) { addListItem(input: $input) { userErrors { field code } } }"""


async def export(client: GraphQLClient, token: str | None, file_format: str = "json") -> Any:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return await client.http.get(f"/export/library.{file_format}", headers=headers)


async def build_library(client: GraphQLClient, token: str, catalog: dict[str, Any]) -> None:
    entries: dict[str, dict[str, Any]] = {
        "Dune": {
            "status": "COMPLETED",
            "rating": 9,
            "notes": "spice",
            "repeatCount": 2,
            "startedAt": "2020-01-01T10:00:00+00:00",
            "completedAt": "2020-02-01T10:00:00+00:00",
        },
        "Heat": {"status": "IN_PROGRESS", "progress": 0, "rating": 7},
        "Cowboy Bebop": {"status": "PAUSED", "progress": 12},
        "Emma": {"status": "PLANNED"},
        "Emma (another edition)": {"status": "DROPPED", "rating": 3},
        "Monster": {"status": "PLANNED", "notes": "from a friend"},
    }
    for name, fields in entries.items():
        result = await client(
            TRACK, {"input": {"mediaId": to_global_id("Media", catalog[name]), **fields}}, token=token
        )
        assert result.data["trackMedia"]["userErrors"] == []
    created = await client(
        CREATE_LIST,
        {"input": {"name": "Favourites", "description": "the best", "isPublic": True}},
        token=token,
    )
    list_id = created.data["createList"]["list"]["id"]
    for name in ("Heat", "Dune", "Monster"):
        added = await client(
            ADD_ITEM,
            {"input": {"listId": list_id, "mediaId": to_global_id("Media", catalog[name])}},
            token=token,
        )
        assert added.data["addListItem"]["userErrors"] == []
    smart = {
        "media": {"mediaTypes": ["BOOK"]},
        "tracking": {"statuses": ["COMPLETED"]},
        "sort": {"field": "UPDATED_AT", "direction": "DESC"},
    }
    result = await client(
        CREATE_LIST,
        {"input": {"name": "Finished books", "listType": "SMART", "definition": smart}},
        token=token,
    )
    assert result.data["createList"]["userErrors"] == []


def comparable(document: dict[str, Any]) -> dict[str, Any]:
    kept = ("status", "progress", "rating", "notes", "repeatCount", "startedAt", "completedAt")
    return {
        "entries": sorted(
            ({"media": entry["media"], **{key: entry[key] for key in kept}} for entry in document["entries"]),
            key=lambda entry: (entry["media"]["title"], entry["media"]["releaseDate"]),
        ),
        "lists": [
            {key: value for key, value in found.items() if key != "createdAt"} for found in document["lists"]
        ],
    }


async def test_export_then_import_into_an_empty_account_reproduces_library_and_lists(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    catalog = await make_import_catalog(engine)
    _, source = await make_user(engine, profile_visibility="public")
    _, target = await make_user(engine)
    await build_library(client, source, catalog)
    exported = await export(client, source)
    assert exported.status_code == 200
    document = exported.json()
    assert len(document["entries"]) == 6
    assert document["user"]["settings"] == {"profile_visibility": "public"}
    job = await import_and_wait(client, target, "OMNIMEDIATRAK", exported.content, "library.json")
    assert job["status"] == "SUCCEEDED", job
    assert (job["counts"]["created"], job["counts"]["listsCreated"]) == (6, 2)
    assert comparable((await export(client, target)).json()) == comparable(document)
    again = await import_and_wait(client, target, "OMNIMEDIATRAK", exported.content, "library.json")
    assert (again["counts"]["unchanged"], again["counts"]["listsCreated"]) == (6, 0)
    assert comparable((await export(client, target)).json()) == comparable(document)


async def test_the_csv_has_one_row_per_entry_with_ids_and_lists(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    catalog = await make_import_catalog(engine)
    _, token = await make_user(engine)
    await build_library(client, token, catalog)
    response = await export(client, token, "csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = {row["title"] + row["release_date"]: row for row in csv.DictReader(io.StringIO(response.text))}
    assert len(rows) == 6
    dune = rows["Dune1965-08-01"]
    assert (dune["status"], dune["rating"], dune["repeat_count"], dune["lists"]) == (
        "completed",
        "9",
        "2",
        "Favourites",
    )
    assert set(dune["external_ids"].split()) >= {"isbn:9780441172719"}


async def test_export_needs_a_credential_and_shows_only_the_callers_library(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    catalog = await make_import_catalog(engine)
    _, owner = await make_user(engine, username="owner")
    _, admin = await make_user(engine, role="admin")
    await build_library(client, owner, catalog)
    assert (await export(client, None)).status_code == 401
    assert (await export(client, "not-a-token")).status_code == 401
    assert (
        await client.http.get("/export/library.xml", headers={"authorization": f"Bearer {owner}"})
    ).status_code == 404
    response = await client.http.get(
        "/export/library.json?user=owner&username=owner", headers={"authorization": f"Bearer {admin}"}
    )
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.json()["entries"] == []
    assert response.json()["lists"] == []
    assert len((await export(client, owner)).json()["entries"]) == 6


FORMULAS = ('=HYPERLINK("http://evil.test","x")', "+1+2", "-2+3", "@SUM(A1)", "\tTab", "\rCR", "'=already")


async def test_csv_cells_never_start_a_formula_and_read_back_to_the_json_values(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    _, token = await make_user(engine)
    for index, formula in enumerate(FORMULAS):
        media_id = await make_media(engine, title=formula, external_id=f"test:formula-{index}")
        result = await client(
            TRACK,
            {"input": {"mediaId": to_global_id("Media", media_id), "status": "PLANNED", "notes": formula}},
            token=token,
        )
        assert result.data["trackMedia"]["userErrors"] == []
        created = await client(CREATE_LIST, {"input": {"name": f"{formula} list"}}, token=token)
        list_id = created.data["createList"]["list"]["id"]
        added = await client(
            ADD_ITEM, {"input": {"listId": list_id, "mediaId": to_global_id("Media", media_id)}}, token=token
        )
        assert added.data["addListItem"]["userErrors"] == []
    document = (await export(client, token)).json()
    assert sorted(entry["notes"] for entry in document["entries"]) == sorted(FORMULAS)
    rows = list(csv.reader(io.StringIO((await export(client, token, "csv")).text, newline="")))
    cells = [cell for row in rows[1:] for cell in row]
    assert not [cell for cell in cells if cell.startswith(("=", "+", "-", "@", "\t", "\r"))]
    read_back = [
        dict(zip(rows[0], (read_spreadsheet_cell(cell) for cell in row), strict=True)) for row in rows[1:]
    ]
    lists_of = {
        item["media"]["title"]: found["name"] for found in document["lists"] for item in found["items"]
    }
    assert sorted((row["title"], row["notes"], row["lists"]) for row in read_back) == sorted(
        (entry["media"]["title"], entry["notes"], lists_of[entry["media"]["title"]])
        for entry in document["entries"]
    )
    assert {row["lists"] for row in read_back} >= {'=HYPERLINK("http://evil.test","x") list', "@SUM(A1) list"}
