"""Many feeds, one catalog (docs/ingestion.md, Provenance and Identity): admin edits survive feeds,
feeds take only what they may, attributes merge per key, every change is a revision, and keys that
disagree about identity are conflicts, never merges."""

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from db import curation
from db.ingest import ingest_file
from db.provenance import Precedence
from gql.relay import to_global_id
from tests.client import GraphQLClient
from tests.factories import make_media, make_user
from tests.test_ingest import row_versions, rows, write_jsonl

STAR_WARS = {
    "external_id": "wikidata:Q17738",
    "media_type": "film",
    "media_class": "video.film",
    "title": "Star Wars",
    "release_date": "1977-05-25",
    "description": "A farm boy joins a rebellion.",
    "attributes": {"runtime_minutes": 121, "studio": "Lucasfilm"},
    "external_links": [{"source": "imdb", "key": "tt0076759"}],
}
# The same film as another catalog lists it: it knows only the year, and other attributes.
STAR_WARS_ELSEWHERE = {
    "external_id": "movielens:260",
    "media_type": "anime",
    "media_class": "video.film",
    "title": "Star Wars: Episode IV - A New Hope",
    "release_date": "1977",
    "cover_url": "https://covers.example.org/260.jpg",
    "attributes": {"runtime_minutes": 125, "genres": ["science fiction"]},
    "external_links": [{"source": "imdb", "key": "tt0076759"}],
}
REVISIONS = """query($id: ID!) {
  media(id: $id) { revisions { action actorId importJobId source before after } }
}"""


async def the_item(engine: AsyncEngine) -> dict[str, Any]:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT id, title, media_type, release_date::text AS release_date, release_date_precision, "
                    "description, cover_url, attributes, field_sources FROM media.media"
                )
            )
        ).one()
    return dict(row._mapping)


async def test_a_feed_fills_empty_fields_merges_attributes_and_leaves_another_feeds_values(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await ingest_file(engine, write_jsonl(tmp_path / "curated.jsonl", STAR_WARS), source="curated")
    summary = await ingest_file(
        engine, write_jsonl(tmp_path / "ml.jsonl", STAR_WARS_ELSEWHERE), source="movielens"
    )
    item = await the_item(engine)
    assert (item["title"], item["media_type"], item["release_date"], item["release_date_precision"]) == (
        "Star Wars",
        "film",
        "1977-05-25",
        "day",
    )
    assert item["cover_url"] == "https://covers.example.org/260.jpg"
    assert item["attributes"] == {
        "runtime_minutes": 121,
        "studio": "Lucasfilm",
        "genres": ["science fiction"],
    }
    assert item["field_sources"] == {
        "*": "feed:curated",
        "cover_url": "feed:movielens",
        "attributes.genres": "feed:movielens",
    }
    assert dict(summary.counts.changed_fields) == {"cover_url": 1, "attributes.genres": 1}
    assert dict(summary.counts.kept_fields) == {
        "title": 1,
        "media_type": 1,
        "release_date": 1,
        "attributes.runtime_minutes": 1,
    }


async def test_a_feed_ranked_higher_takes_over_fields_of_a_lower_one(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await ingest_file(engine, write_jsonl(tmp_path / "curated.jsonl", STAR_WARS), source="curated")
    await ingest_file(
        engine,
        write_jsonl(tmp_path / "ml.jsonl", STAR_WARS_ELSEWHERE),
        source="movielens",
        precedence=Precedence(("movielens", "curated")),
    )
    item = await the_item(engine)
    assert (item["title"], item["release_date"], item["release_date_precision"]) == (
        "Star Wars: Episode IV - A New Hope",
        "1977-01-01",
        "year",
    )
    assert item["attributes"]["runtime_minutes"] == 125
    # A lower feed gets nothing back, even when it sends its values again.
    summary = await ingest_file(
        engine,
        write_jsonl(tmp_path / "curated2.jsonl", STAR_WARS),
        source="curated",
        precedence=Precedence(("movielens", "curated")),
    )
    assert (await the_item(engine))["title"] == "Star Wars: Episode IV - A New Hope"
    assert summary.counts.kept_fields["title"] == 1


async def test_an_admin_edit_survives_every_feed_even_a_ranked_one(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "curated.jsonl", STAR_WARS)
    await ingest_file(engine, path, source="curated")
    item = await the_item(engine)
    async with engine.begin() as conn:
        await curation.update_media(
            conn,
            None,
            item["id"],
            {"title": "Star Wars (1977)", "description": None, "attributes": {"runtime_minutes": 130}},
        )
    await ingest_file(engine, path, source="curated")
    await ingest_file(
        engine,
        write_jsonl(tmp_path / "ml.jsonl", STAR_WARS_ELSEWHERE),
        source="movielens",
        precedence=Precedence(("movielens",)),
    )
    item = await the_item(engine)
    # Cleared by the admin: a feed does not fill it again; the removed studio stays removed.
    assert (item["title"], item["description"]) == ("Star Wars (1977)", None)
    assert item["attributes"] == {"runtime_minutes": 130, "genres": ["science fiction"]}


async def test_attribute_keys_merge_and_a_null_key_removes_what_the_feed_owns(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await ingest_file(engine, write_jsonl(tmp_path / "curated.jsonl", STAR_WARS), source="curated")
    await ingest_file(engine, write_jsonl(tmp_path / "ml.jsonl", STAR_WARS_ELSEWHERE), source="movielens")
    changed = {**STAR_WARS, "attributes": {"studio": None, "episodes": 1}}
    await ingest_file(engine, write_jsonl(tmp_path / "curated2.jsonl", changed), source="curated")
    assert (await the_item(engine))["attributes"] == {
        "runtime_minutes": 121,
        "genres": ["science fiction"],
        "episodes": 1,
    }


async def test_every_feed_change_is_a_revision_of_its_import_job(
    client: GraphQLClient, engine: AsyncEngine, tmp_path: Path
) -> None:
    first = await ingest_file(engine, write_jsonl(tmp_path / "curated.jsonl", STAR_WARS), source="curated")
    second = await ingest_file(
        engine,
        write_jsonl(tmp_path / "ml.jsonl", STAR_WARS_ELSEWHERE),
        source="movielens",
    )
    _, token = await make_user(engine, role="admin")
    media_id = (await the_item(engine))["id"]
    revisions = (await client(REVISIONS, {"id": to_global_id("Media", media_id)}, token=token)).data["media"][
        "revisions"
    ]
    by_action = {revision["action"]: revision for revision in revisions}
    assert [revision["action"] for revision in revisions] == ["ADD_EXTERNAL_LINK", "UPDATE", "CREATE"]
    create = by_action["CREATE"]
    assert (create["actorId"], create["importJobId"], create["source"]) == (None, first.job_id, "curated")
    assert create["after"]["title"] == "Star Wars"
    assert create["after"]["releaseDate"] == "1977-05-25"
    update = by_action["UPDATE"]
    assert (update["importJobId"], update["source"]) == (second.job_id, "movielens")
    assert update["before"] == {
        "coverUrl": None,
        "attributes": {"runtime_minutes": 121, "studio": "Lucasfilm"},
    }
    assert update["after"] == {
        "coverUrl": "https://covers.example.org/260.jpg",
        "attributes": {"runtime_minutes": 121, "studio": "Lucasfilm", "genres": ["science fiction"]},
    }
    assert by_action["ADD_EXTERNAL_LINK"]["after"] == {"sourceName": "movielens", "externalKey": "260"}


async def test_a_dry_run_reports_each_field_it_would_change_or_keep(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await ingest_file(engine, write_jsonl(tmp_path / "curated.jsonl", STAR_WARS), source="curated")
    before = await row_versions(engine)
    summary = await ingest_file(
        engine, write_jsonl(tmp_path / "ml.jsonl", STAR_WARS_ELSEWHERE), source="movielens", dry_run=True
    )
    assert await row_versions(engine) == before
    assert dict(summary.counts.changed_fields) == {"cover_url": 1, "attributes.genres": 1}
    logged = await rows(engine, "SELECT line_number, level, message FROM ingest.import_logs ORDER BY id")
    assert (
        1,
        "changed",
        'cover_url would change from null to "https://covers.example.org/260.jpg"',
    ) in logged
    assert (
        1,
        "kept",
        'title kept at "Star Wars" (set by feed:curated), not "Star Wars: Episode IV - A New Hope"',
    ) in (logged)
    assert await rows(engine, "SELECT count(*) FROM media.revisions") == [(1,)]


async def test_a_record_whose_keys_point_at_two_items_is_a_conflict_and_changes_nothing(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    film = await make_media(engine, title="Heat", external_id=None, external_links=[("tmdb", "949")])
    other = await make_media(
        engine, title="Heat (1986)", external_id=None, external_links=[("imdb", "tt0113277")]
    )
    before = await row_versions(engine)
    record = {
        "external_id": "movielens:6",
        "media_type": "film",
        "media_class": "video.film",
        "title": "Heat",
        "external_links": [{"source": "tmdb", "key": "949"}, {"source": "imdb", "key": "tt0113277"}],
    }
    summary = await ingest_file(engine, write_jsonl(tmp_path / "ml.jsonl", record))
    assert await row_versions(engine) == before
    assert (summary.counts.inserted, summary.counts.updated, summary.counts.conflicts) == (0, 0, 1)
    assert await rows(
        engine,
        "SELECT kind, source_name, external_key, existing_media_id, incoming_media_id FROM ingest.conflicts",
    ) == [("keys_of_two_items", "imdb", "tt0113277", film, other)]
    assert [(c.line, c.kind, c.key) for c in summary.conflicts] == [
        (1, "keys_of_two_items", "imdb:tt0113277")
    ]


async def test_two_records_of_one_run_claiming_one_key_are_a_conflict_and_reruns_are_stable(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    first = {
        "external_id": "tmdb:100",
        "media_type": "film",
        "media_class": "video.film",
        "title": "Solaris",
        "release_date": "1972",
        "external_links": [{"source": "imdb", "key": "tt0069293"}],
    }
    second = {**first, "external_id": "tmdb:200", "title": "Solaris (2002)", "release_date": "2002"}
    path = write_jsonl(tmp_path / "tmdb.jsonl", first, second)
    summary = await ingest_file(engine, path)
    # The second record becomes its own item, without the key: an admin merges the two or moves the key.
    assert (summary.counts.inserted, summary.counts.conflicts) == (2, 1)
    items = dict(await rows(engine, "SELECT external_id, id FROM media.media"))
    assert await rows(engine, "SELECT title, release_date::text FROM media.media ORDER BY title") == [
        ("Solaris", "1972-01-01"),
        ("Solaris (2002)", "2002-01-01"),
    ]
    assert await rows(engine, "SELECT media_id FROM media.external_links WHERE source_name = 'imdb'") == [
        (items["tmdb:100"],)
    ]
    conflict = await rows(
        engine,
        "SELECT line_number, kind, source_name, external_key, existing_media_id, incoming_media_id, "
        "details ->> 'earlier_line', details ->> 'earlier_external_id' FROM ingest.conflicts",
    )
    assert conflict == [
        (2, "key_shared_in_run", "imdb", "tt0069293", items["tmdb:100"], items["tmdb:200"], "1", "tmdb:100")
    ]
    versions = await row_versions(engine)
    for _ in range(2):
        again = await ingest_file(engine, path)
        assert (
            again.counts.inserted,
            again.counts.updated,
            again.counts.unchanged,
            again.counts.conflicts,
        ) == (0, 0, 2, 1)
        assert await row_versions(engine) == versions


async def test_a_secondary_key_cannot_take_over_another_item(engine: AsyncEngine, tmp_path: Path) -> None:
    dune = await make_media(
        engine,
        title="Dune",
        external_id="wikidata:Q190192",
        external_links=[("wikidata", "Q190192"), ("tmdb", "438631")],
    )
    intruder = {
        "external_id": "tmdb:999",
        "media_type": "film",
        "media_class": "video.film",
        "title": "Something else",
        "external_links": [{"source": "wikidata", "key": "Q190192"}],
    }
    summary = await ingest_file(engine, write_jsonl(tmp_path / "tmdb.jsonl", intruder))
    assert (summary.counts.inserted, summary.counts.updated, summary.counts.conflicts) == (0, 0, 1)
    assert await rows(engine, "SELECT id, title FROM media.media") == [(dune, "Dune")]
    assert await rows(engine, "SELECT source_name, external_key FROM media.external_links ORDER BY 1") == [
        ("tmdb", "438631"),
        ("wikidata", "Q190192"),
    ]
    details = await rows(engine, "SELECT kind, existing_media_id, details ->> 'holder' FROM ingest.conflicts")
    assert details == [("secondary_key_of_another_item", dune, "tmdb:438631")]


async def test_a_secondary_key_matches_an_item_its_source_does_not_know_yet(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    dune = await make_media(engine, title="Dune", external_id=None, external_links=[("wikidata", "Q190192")])
    record = {
        "external_id": "tmdb:438631",
        "media_type": "book",
        "media_class": "written.book",
        "title": "Dune (novel)",
        "external_links": [{"source": "wikidata", "key": "Q190192"}],
    }
    summary = await ingest_file(engine, write_jsonl(tmp_path / "tmdb.jsonl", record))
    assert (summary.counts.updated, summary.counts.conflicts) == (1, 0)
    assert await rows(engine, "SELECT media_id FROM media.external_links WHERE source_name = 'tmdb'") == [
        (dune,)
    ]
    # The title was set before sources were recorded: it is nobody's feed's to change.
    assert await rows(engine, "SELECT title FROM media.media") == [("Dune",)]


def test_precedence_ranks_listed_feeds_above_unlisted_ones_and_never_above_admins() -> None:
    precedence = Precedence(("wikidata", "legacy"))
    assert precedence.may_take("feed:wikidata", "legacy")
    assert precedence.may_take("feed:wikidata", "feed:tmdb")
    assert not precedence.may_take("feed:tmdb", "legacy")
    assert not precedence.may_take("feed:tmdb", "feed:imdb")
    assert not precedence.may_take("feed:wikidata", "admin")
    assert precedence.may_take("feed:tmdb", "feed:tmdb")


async def test_the_command_takes_a_precedence_and_prints_field_counts_and_conflicts(
    engine: AsyncEngine, tmp_path: Path, database_url: str
) -> None:
    await ingest_file(engine, write_jsonl(tmp_path / "curated.jsonl", STAR_WARS), source="curated")
    twin = {**STAR_WARS_ELSEWHERE, "external_id": "movielens:261", "title": "A twin"}
    path = write_jsonl(tmp_path / "ml.jsonl", STAR_WARS_ELSEWHERE, twin)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gql.cli",
        "ingest",
        str(path),
        "--source",
        "movielens",
        "--precedence",
        "movielens,curated",
        env={**os.environ, "DATABASE_URL": database_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out = (await process.communicate())[0].decode()
    assert process.returncode == 1
    assert "field title: 1 changed, 0 kept" in out
    assert "line 2: conflict (key_shared_in_run) on imdb:tt0076759" in out
    assert await rows(engine, "SELECT external_id, title FROM media.media ORDER BY title") == [
        ("movielens:261", "A twin"),
        ("wikidata:Q17738", "Star Wars: Episode IV - A New Hope"),
    ]


async def test_a_feeds_relation_between_existing_items_is_a_revision(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    book = {
        "external_id": "wikidata:Q190192",
        "media_type": "book",
        "media_class": "written.book",
        "title": "Dune",
    }
    film = {
        "external_id": "imdb:tt1160419",
        "media_type": "film",
        "media_class": "video.film",
        "title": "Dune",
    }
    await ingest_file(engine, write_jsonl(tmp_path / "a.jsonl", book, film), source="wiki")
    related = {**book, "relations": [{"type": "adaptation", "target": "imdb:tt1160419"}]}
    first = await ingest_file(engine, write_jsonl(tmp_path / "b.jsonl", related), source="wiki")
    annotated = {**book, "relations": [{"type": "adaptation", "target": "imdb:tt1160419", "notes": "2021"}]}
    second = await ingest_file(engine, write_jsonl(tmp_path / "c.jsonl", annotated), source="wiki")
    links = await rows(
        engine,
        "SELECT job_id, changes -> 'before' ->> 'notes', changes -> 'after' ->> 'notes', "
        "changes -> 'after' ->> 'relation_type' FROM media.revisions WHERE action = 'link' ORDER BY id",
    )
    assert links == [(first.job_id, None, None, "adaptation"), (second.job_id, None, "2021", "adaptation")]


def _film(external_id: str, title: str, *links: tuple[str, str]) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "media_type": "film",
        "media_class": "video.film",
        "title": title,
        "external_links": [{"source": source, "key": key} for source, key in links],
    }


async def test_records_of_one_run_sharing_a_key_conflict_whatever_their_ids_and_batches(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    """The second record's own id is in another namespace, and it comes batches later: it used to
    be matched to the first record's item through the shared key, merging the two."""
    first = _film("tmdb:100", "Solaris", ("imdb", "tt0069293"))
    filler = [_film(f"tmdb:{n}", f"Film {n}") for n in range(200, 204)]
    second = _film("wikidata:Q1", "Solaris (2002)", ("imdb", "tt0069293"))
    summary = await ingest_file(
        engine, write_jsonl(tmp_path / "mixed.jsonl", first, *filler, second), batch_size=2
    )
    items = dict(await rows(engine, "SELECT external_id, id FROM media.media"))
    assert (summary.counts.inserted, summary.counts.updated, summary.counts.conflicts) == (6, 0, 1)
    assert await rows(engine, "SELECT title FROM media.media WHERE external_id = 'tmdb:100'") == [
        ("Solaris",)
    ]
    assert await rows(
        engine,
        "SELECT line_number, kind, existing_media_id, incoming_media_id, details ->> 'earlier_line' "
        "FROM ingest.conflicts",
    ) == [(6, "key_shared_in_run", items["tmdb:100"], items["wikidata:Q1"], "1")]
    # The run's claims are gone once it has succeeded.
    assert await rows(engine, "SELECT count(*) FROM ingest.job_keys") == [(0,)]


async def test_records_sharing_a_key_with_an_item_one_of_them_already_is_do_not_merge_into_it(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    """One record is an existing item by its own id; another record of the same run, in the same
    batch and another namespace, reaches that item through a key both give."""
    known = await make_media(
        engine, title="Heat", external_id="tmdb:949", external_links=[("tmdb", "949"), ("imdb", "tt0113277")]
    )
    same = _film("tmdb:949", "Heat", ("imdb", "tt0113277"))
    other = _film("movielens:6", "Heat (remake)", ("imdb", "tt0113277"))
    summary = await ingest_file(engine, write_jsonl(tmp_path / "f.jsonl", same, other))
    assert await rows(engine, f"SELECT title FROM media.media WHERE id = '{known}'") == [("Heat",)]
    assert (summary.counts.inserted, summary.counts.conflicts) == (1, 1)
    assert [(c.line, c.kind, c.key, c.existing_media_id) for c in summary.conflicts] == [
        (2, "key_shared_in_run", "imdb:tt0113277", str(known))
    ]


async def test_a_dry_run_reports_conflicts_between_its_own_records_and_changes_nothing(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    first = _film("tmdb:100", "Solaris", ("imdb", "tt0069293"))
    second = _film("wikidata:Q1", "Solaris (2002)", ("imdb", "tt0069293"))
    path = write_jsonl(tmp_path / "mixed.jsonl", first, _film("tmdb:200", "Filler"), second)
    summary = await ingest_file(engine, path, batch_size=2, dry_run=True)
    assert await rows(engine, "SELECT count(*) FROM media.media") == [(0,)]
    assert [(c.line, c.kind, c.key) for c in summary.conflicts] == [
        (3, "key_shared_in_run", "imdb:tt0069293")
    ]
    assert summary.counts.conflicts == 1
    # No item of a dry run exists: its conflicts name none.
    assert [(c.existing_media_id, c.incoming_media_id) for c in summary.conflicts] == [(None, None)]
    real = await ingest_file(engine, path, batch_size=2)
    assert [(c.line, c.kind, c.key) for c in real.conflicts] == [(3, "key_shared_in_run", "imdb:tt0069293")]


async def test_the_relations_of_items_a_feed_creates_are_revisions_of_its_job(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    book = {
        "external_id": "wikidata:Q190192",
        "media_type": "book",
        "media_class": "written.book",
        "title": "Dune",
        "relations": [{"type": "adaptation", "target": "imdb:tt1160419", "notes": "2021"}],
    }
    film = {
        "external_id": "imdb:tt1160419",
        "media_type": "film",
        "media_class": "video.film",
        "title": "Dune",
        "relations": [{"type": "sequel", "target": "imdb:tt15239678"}],
    }
    sequel = {**film, "external_id": "imdb:tt15239678", "title": "Dune: Part Two", "relations": []}
    # The film's sequel arrives in a later batch: its relation waits, then lands with the sequel.
    summary = await ingest_file(engine, write_jsonl(tmp_path / "a.jsonl", book, film, sequel), batch_size=2)
    stored = await rows(
        engine, "SELECT media_id, related_media_id, relation_type::text FROM media.relationships"
    )
    links = await rows(
        engine,
        "SELECT media_id, changes -> 'after' ->> 'related_media_id', changes -> 'after' ->> 'relation_type', "
        "changes -> 'after' ->> 'notes', changes -> 'before', job_id, source FROM media.revisions "
        "WHERE action = 'link' ORDER BY id",
    )
    assert len(stored) == 2
    assert sorted(links) == sorted(
        (
            media_id,
            str(related),
            relation_type,
            "2021" if relation_type == "adaptation" else None,
            None,
            summary.job_id,
            "a",
        )
        for media_id, related, relation_type in stored
    )


async def test_the_dry_run_command_prints_its_conflicts_without_items_it_did_not_create(
    engine: AsyncEngine, tmp_path: Path, database_url: str
) -> None:
    first = _film("tmdb:100", "Solaris", ("imdb", "tt0069293"))
    second = _film("wikidata:Q1", "Solaris (2002)", ("imdb", "tt0069293"))
    path = write_jsonl(tmp_path / "mixed.jsonl", first, second)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gql.cli",
        "ingest",
        str(path),
        "--dry-run",
        env={**os.environ, "DATABASE_URL": database_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out = (await process.communicate())[0].decode()
    assert process.returncode == 1
    assert (
        "line 2: conflict (key_shared_in_run) on imdb:tt0069293: line 1 (tmdb:100) of this run has the same "
        "key; the record was applied without it\n"
    ) in out
    assert "None" not in out
