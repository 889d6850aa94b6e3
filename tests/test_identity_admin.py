"""Admin tools for identity conflicts: mergeMedia and moveExternalLink."""

from pathlib import Path

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

from db.ingest import ingest_file
from db.models import Conflict, ImportJob, ListItem, Source, UserList, UserMedia
from gql.relay import to_global_id
from tests.client import GraphQLClient
from tests.factories import link_media, make_media, make_user
from tests.test_ingest import rows, write_jsonl

ERRORS = "userErrors { field code message }"
MERGE = f"""mutation($input: MergeMediaInput!) {{
  mergeMedia(input: $input) {{ media {{ id title externalId externalLinks {{ sourceName externalKey }} }}
                               mergedMediaId {ERRORS} }}
}}"""
MOVE = f"""mutation($input: ExternalLinkInput!) {{
  moveExternalLink(input: $input) {{ media {{ externalId externalLinks {{ sourceName externalKey }} }} {ERRORS} }}
}}"""
MEDIA = "query($id: ID!) { media(id: $id) { id title } node(id: $id) { id } }"


async def _conflict(engine: AsyncEngine, source: str, key: str, existing: object, incoming: object) -> None:
    async with engine.begin() as conn:
        source_id = (await conn.execute(insert(Source).values(name="feed").returning(Source.id))).scalar_one()
        job_id = (
            await conn.execute(
                insert(ImportJob)
                .values(source_id=source_id, file_name="f", batch_size=1)
                .returning(ImportJob.id)
            )
        ).scalar_one()
        await conn.execute(
            insert(Conflict).values(
                job_id=job_id,
                source_name=source,
                external_key=key,
                existing_media_id=existing,
                incoming_media_id=incoming,
                details={},
            )
        )


async def test_merge_moves_keys_relations_entries_and_list_items_and_the_old_id_redirects(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    _, token = await make_user(engine, role="admin")
    keep = await make_media(engine, title="Heat", external_id=None, external_links=[("tmdb", "949")])
    merged = await make_media(
        engine, title="Heat (dup)", external_id="imdb:tt0113277", external_links=[("imdb", "tt0113277")]
    )
    sequel = await make_media(engine, title="Heat 2")
    await link_media(engine, merged, sequel, "sequel")
    await link_media(engine, keep, merged, "remake")
    only_merged, _ = await make_user(engine, profile_visibility="public")
    both, _ = await make_user(engine, profile_visibility="public")
    private, _ = await make_user(engine)
    async with engine.begin() as conn:
        await conn.execute(
            insert(UserMedia),
            [
                {"user_id": only_merged, "media_id": merged, "status": "completed", "rating": 9},
                {"user_id": both, "media_id": keep, "status": "planned", "rating": None},
                {"user_id": both, "media_id": merged, "status": "dropped", "rating": None},
                {"user_id": private, "media_id": merged, "status": "completed", "rating": 1},
            ],
        )
        lists = (
            (
                await conn.execute(
                    insert(UserList).returning(UserList.id),
                    [
                        {"user_id": both, "name": "one", "list_type": "static"},
                        {"user_id": both, "name": "two", "list_type": "static"},
                    ],
                )
            )
            .scalars()
            .all()
        )
        await conn.execute(
            insert(ListItem),
            [
                {"list_id": lists[0], "media_id": merged, "position": 1},
                {"list_id": lists[1], "media_id": keep, "position": 1},
                {"list_id": lists[1], "media_id": merged, "position": 2},
            ],
        )
    await _conflict(engine, "imdb", "tt0113277", merged, keep)

    result = await client(
        MERGE,
        {"input": {"keepId": to_global_id("Media", keep), "mergeId": to_global_id("Media", merged)}},
        token=token,
    )
    payload = result.data["mergeMedia"]
    assert payload["userErrors"] == []
    assert payload["mergedMediaId"] == to_global_id("Media", merged)
    assert payload["media"]["externalId"] == "imdb:tt0113277"
    assert payload["media"]["externalLinks"] == [
        {"sourceName": "imdb", "externalKey": "tt0113277"},
        {"sourceName": "tmdb", "externalKey": "949"},
    ]
    assert await rows(engine, f"SELECT id FROM media.media WHERE id = '{merged}'") == []
    assert await rows(
        engine, "SELECT media_id, related_media_id, relation_type::text FROM media.relationships"
    ) == [(keep, sequel, "sequel")]
    assert sorted(
        await rows(engine, "SELECT user_id, media_id, status FROM interaction.user_media")
    ) == sorted([(only_merged, keep, "completed"), (both, keep, "planned"), (private, keep, "completed")])
    # The private profile's entry moved too, but counts in no aggregate.
    assert await rows(engine, f"SELECT tracker_count FROM media.media WHERE id = '{keep}'") == [(2,)]
    assert sorted(await rows(engine, "SELECT list_id, media_id FROM interaction.list_items")) == sorted(
        [(lists[0], keep), (lists[1], keep)]
    )
    assert await rows(engine, "SELECT resolved_at IS NOT NULL FROM ingest.conflicts") == [(True,)]
    old = (await client(MEDIA, {"id": to_global_id("Media", merged)})).data
    assert old["media"] == {"id": to_global_id("Media", keep), "title": "Heat"}
    assert old["node"] == {"id": to_global_id("Media", keep)}
    actions = await rows(engine, "SELECT media_id, action FROM media.revisions ORDER BY id")
    assert actions == [(keep, "merge"), (merged, "merge")]


async def test_merging_again_into_a_third_item_keeps_old_ids_resolving(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    _, token = await make_user(engine, role="admin")
    first, second, third = [await make_media(engine, title=title) for title in ("A", "B", "C")]
    for keep, merged in ((second, first), (third, second)):
        result = await client(
            MERGE,
            {"input": {"keepId": to_global_id("Media", keep), "mergeId": to_global_id("Media", merged)}},
            token=token,
        )
        assert result.data["mergeMedia"]["userErrors"] == []
    resolved = (await client(MEDIA, {"id": to_global_id("Media", first)})).data["media"]
    assert resolved == {"id": to_global_id("Media", third), "title": "C"}


async def test_merge_refuses_an_item_into_itself_a_missing_item_and_non_admins(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    _, admin = await make_user(engine, role="admin")
    _, user = await make_user(engine)
    item = to_global_id("Media", await make_media(engine, title="A"))
    missing = to_global_id("Media", await make_media(engine, title="B"))
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM media.media WHERE title = 'B'"))
    cases = [
        (admin, {"keepId": item, "mergeId": item}, ("mergeId", "INVALID")),
        (admin, {"keepId": item, "mergeId": missing}, ("mergeId", "NOT_FOUND")),
        (user, {"keepId": item, "mergeId": item}, (None, "FORBIDDEN")),
    ]
    for token, merge_input, (field, code) in cases:
        errors = (await client(MERGE, {"input": merge_input}, token=token)).data["mergeMedia"]["userErrors"]
        assert [(error["field"][0] if error["field"] else None, error["code"]) for error in errors] == [
            (field, code)
        ]
    assert await rows(engine, "SELECT title FROM media.media") == [("A",)]


async def test_moving_a_key_repoints_it_with_its_external_id_and_resolves_its_conflicts(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    _, token = await make_user(engine, role="admin")
    wrong = await make_media(
        engine, title="Not Dune", external_id="wikidata:Q190192", external_links=[("wikidata", "Q190192")]
    )
    right = await make_media(engine, title="Dune", external_id=None)
    await _conflict(engine, "wikidata", "Q190192", wrong, None)
    result = await client(
        MOVE,
        {
            "input": {
                "mediaId": to_global_id("Media", right),
                "sourceName": "wikidata",
                "externalKey": "Q190192",
            }
        },
        token=token,
    )
    assert result.data["moveExternalLink"] == {
        "media": {
            "externalId": "wikidata:Q190192",
            "externalLinks": [{"sourceName": "wikidata", "externalKey": "Q190192"}],
        },
        "userErrors": [],
    }
    assert await rows(engine, f"SELECT external_id FROM media.media WHERE id = '{wrong}'") == [(None,)]
    assert await rows(engine, "SELECT resolved_at IS NOT NULL FROM ingest.conflicts") == [(True,)]
    unknown = await client(
        MOVE,
        {"input": {"mediaId": to_global_id("Media", right), "sourceName": "tmdb", "externalKey": "1"}},
        token=token,
    )
    assert [error["code"] for error in unknown.data["moveExternalLink"]["userErrors"]] == ["NOT_FOUND"]


CONFLICTS = """query($status: IngestConflictStatus, $first: Int, $after: String) {
  ingestConflicts(status: $status, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node {
      importJobId source lineNumber kind sourceName externalKey externalId title reason details resolvedAt
      existingMedia { id title } incomingMedia { id title }
    } }
  }
}"""


def _film(external_id: str, title: str, *links: tuple[str, str]) -> dict[str, object]:
    return {
        "external_id": external_id,
        "media_type": "film",
        "media_class": "video.film",
        "title": title,
        "external_links": [{"source": source, "key": key} for source, key in links],
    }


async def test_admins_list_open_conflicts_with_both_items_page_by_page_and_settle_them(
    client: GraphQLClient, engine: AsyncEngine, tmp_path: Path
) -> None:
    _, admin = await make_user(engine, role="admin")
    records = [
        _film("tmdb:100", "Solaris", ("imdb", "tt0069293")),
        _film("wikidata:Q1", "Solaris (dup)", ("imdb", "tt0069293")),
        _film("tmdb:300", "Stalker", ("imdb", "tt0079944")),
        _film("wikidata:Q3", "Stalker (dup)", ("imdb", "tt0079944")),
    ]
    path = write_jsonl(tmp_path / "films.jsonl", *records)
    await ingest_file(engine, path, source="films", dry_run=True)
    job = await ingest_file(engine, path, source="films")
    items = dict(await rows(engine, "SELECT external_id, id FROM media.media"))

    first = (await client(CONFLICTS, {"first": 1}, token=admin)).data["ingestConflicts"]
    # Newest first; the dry run's report is not an admin's work.
    assert (first["totalCount"], first["pageInfo"]["hasNextPage"]) == (2, True)
    assert first["edges"][0]["node"] == {
        "importJobId": job.job_id,
        "source": "films",
        "lineNumber": 4,
        "kind": "KEY_SHARED_IN_RUN",
        "sourceName": "imdb",
        "externalKey": "tt0079944",
        "externalId": "wikidata:Q3",
        "title": "Stalker (dup)",
        "reason": "line 3 (tmdb:300) of this run has the same key; the record was applied without it",
        "details": {
            "externalId": "wikidata:Q3",
            "title": "Stalker (dup)",
            "reason": "line 3 (tmdb:300) of this run has the same key; the record was applied without it",
            "earlierLine": 3,
            "earlierExternalId": "tmdb:300",
        },
        "resolvedAt": None,
        "existingMedia": {"id": to_global_id("Media", items["tmdb:300"]), "title": "Stalker"},
        "incomingMedia": {"id": to_global_id("Media", items["wikidata:Q3"]), "title": "Stalker (dup)"},
    }
    rest = (await client(CONFLICTS, {"first": 5, "after": first["pageInfo"]["endCursor"]}, token=admin)).data[
        "ingestConflicts"
    ]
    assert [edge["node"]["lineNumber"] for edge in rest["edges"]] == [2]
    assert rest["pageInfo"]["hasNextPage"] is False

    node = first["edges"][0]["node"]
    merged = await client(
        MERGE,
        {"input": {"keepId": node["existingMedia"]["id"], "mergeId": node["incomingMedia"]["id"]}},
        token=admin,
    )
    assert merged.data["mergeMedia"]["userErrors"] == []
    still_open = (await client(CONFLICTS, {}, token=admin)).data["ingestConflicts"]
    assert [edge["node"]["lineNumber"] for edge in still_open["edges"]] == [2]
    resolved = (await client(CONFLICTS, {"status": "RESOLVED"}, token=admin)).data["ingestConflicts"]
    assert [edge["node"]["lineNumber"] for edge in resolved["edges"]] == [4]
    assert resolved["edges"][0]["node"]["resolvedAt"] is not None


async def test_only_admins_list_conflicts(client: GraphQLClient, engine: AsyncEngine) -> None:
    film = await make_media(engine, title="Heat")
    await _conflict(engine, "imdb", "tt0113277", film, None)
    _, user = await make_user(engine)
    for token in (None, user):
        result = await client(CONFLICTS, {}, token=token)
        assert result.body["data"] is None
        assert [error["extensions"]["code"] for error in result.errors] == ["FORBIDDEN"]
