"""Batch ingestion (docs/ingestion.md): idempotent, resumable, safe against a concurrent run."""

import asyncio
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from db.ingest import IngestError, Progress, SourceBusy, ingest_file
from db.ingest_batch import Counts
from gql.cli import load_demo_catalog
from gql.ingest_command import EXIT_FAILED, IngestRequest, ProgressReport, run_ingest
from tests.factories import make_media

DUNE = {
    "external_id": "wikidata:Q190192",
    "media_type": "book",
    "media_class": "written.book.novel",
    "title": "Dune",
    "release_date": "1965-08-01",
    "country_of_origin": "US",
    "creators": ["Frank Herbert"],
    "cover_url": None,
    "description": "A desert planet.",
    "attributes": {"isbn": "9780441172719", "page_count": 412, "genres": ["science fiction"]},
    "collection_path": "dune.novels",
    "external_links": [{"source": "isbn", "key": "9780441172719"}],
    "relations": [
        {"type": "sequel", "target": "wikidata:Q1199555"},
        {"type": "adaptation", "target": "imdb:tt1160419", "notes": "Part One", "weight": 1},
    ],
}
MESSIAH = {
    "external_id": "wikidata:Q1199555",
    "media_type": "book",
    "media_class": "written.book.novel",
    "title": "Dune Messiah",
    "relations": [{"type": "prequel", "target": "wikidata:Q190192"}],
}
FILM = {
    "external_id": "imdb:tt1160419",
    "media_type": "film",
    "media_class": "video.film",
    "title": "Dune: Part One",
    "relations": [{"type": "source", "target": "wikidata:Q190192"}],
}


def write_jsonl(path: Path, *lines: dict[str, Any] | str) -> Path:
    path.write_text(
        "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines),
        encoding="utf-8",
    )
    return path


def generated(count: int, relate_every: int = 3) -> list[dict[str, Any]]:
    records = []
    for n in range(count):
        record: dict[str, Any] = {
            "external_id": f"gen:{n}",
            "media_type": "game",
            "media_class": "interactive.game",
            "title": f"Game {n}",
            "attributes": {"platforms": ["pc"]},
            "external_links": [{"source": "steam", "key": str(1000 + n)}],
        }
        if n % relate_every == 0:
            record["relations"] = [{"type": "prequel", "target": f"gen:{n + 1}"}]
        records.append(record)
    return records


async def rows(engine: AsyncEngine, sql: str) -> list[tuple[Any, ...]]:
    async with engine.connect() as conn:
        return [tuple(row) for row in await conn.execute(text(sql))]


async def catalog_state(engine: AsyncEngine) -> dict[str, list[tuple[Any, ...]]]:
    """Everything ingestion writes, keyed by external ids (uuids differ between databases)."""
    return {
        "media": await rows(
            engine,
            "SELECT external_id, media_type, media_class::text, title, release_date, country_of_origin, "
            "creators, cover_url, description, attributes::text, collection_path::text FROM media.media "
            "ORDER BY external_id",
        ),
        "links": await rows(
            engine,
            "SELECT m.external_id, l.source_name, l.external_key FROM media.external_links l "
            "JOIN media.media m ON m.id = l.media_id ORDER BY 2, 3",
        ),
        "relations": await rows(
            engine,
            "SELECT a.external_id, b.external_id, r.relation_type::text, r.notes, r.weight "
            "FROM media.relationships r JOIN media.media a ON a.id = r.media_id "
            "JOIN media.media b ON b.id = r.related_media_id ORDER BY 1, 2, 3",
        ),
        "pending": await rows(
            engine,
            "SELECT m.external_id, p.target_source, p.target_key, p.relation_type::text "
            "FROM ingest.pending_relations p JOIN media.media m ON m.id = p.media_id ORDER BY 1, 2, 3, 4",
        ),
    }


async def row_versions(engine: AsyncEngine) -> list[tuple[Any, ...]]:
    """xmin of every catalog row: it moves whenever PostgreSQL writes the row, even with equal values."""
    return await rows(
        engine,
        "SELECT 'media', id::text, xmin::text, updated_at::text FROM media.media "
        "UNION ALL SELECT 'link', source_name || ':' || external_key, xmin::text, '' FROM media.external_links "
        "UNION ALL SELECT 'relation', media_id::text || related_media_id::text || relation_type::text, "
        "xmin::text, '' FROM media.relationships "
        "UNION ALL SELECT 'pending', media_id::text || target_source || target_key, xmin::text, '' "
        "FROM ingest.pending_relations ORDER BY 1, 2",
    )


async def truncate_catalog(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "TRUNCATE media.media, media.external_links, media.relationships, ingest.pending_relations, "
                "ingest.import_jobs, ingest.import_logs, ingest.conflicts CASCADE"
            )
        )


async def test_a_file_lands_with_links_and_canonical_relations(engine: AsyncEngine, tmp_path: Path) -> None:
    summary = await ingest_file(engine, write_jsonl(tmp_path / "dune.jsonl", DUNE, MESSIAH, FILM))
    assert (summary.status, summary.counts.inserted, summary.counts.failed) == ("succeeded", 3, 0)
    state = await catalog_state(engine)
    assert [row[0] for row in state["media"]] == ["imdb:tt1160419", "wikidata:Q1199555", "wikidata:Q190192"]
    assert ("wikidata:Q190192", "isbn", "9780441172719") in state["links"]
    assert ("wikidata:Q190192", "wikidata", "Q190192") in state["links"]
    # Messiah's "prequel Dune" and the film's "source Dune" are the same facts as Dune's own relations.
    assert state["relations"] == [
        ("wikidata:Q190192", "imdb:tt1160419", "adaptation", "Part One", 1),
        ("wikidata:Q190192", "wikidata:Q1199555", "sequel", None, None),
    ]
    assert state["pending"] == []


async def test_a_second_run_of_the_same_file_changes_no_row(engine: AsyncEngine, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "dune.jsonl", DUNE, MESSIAH, FILM, *generated(40))
    await ingest_file(engine, path, batch_size=7)
    before = await row_versions(engine)
    summary = await ingest_file(engine, path, batch_size=7)
    assert await row_versions(engine) == before
    assert (summary.counts.inserted, summary.counts.updated, summary.counts.unchanged) == (0, 0, 43)


async def test_changed_source_data_updates_the_item_and_keeps_absent_fields(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await ingest_file(engine, write_jsonl(tmp_path / "v1.jsonl", DUNE))
    changed = {key: DUNE[key] for key in ("external_id", "media_type", "media_class")} | {
        "title": "Dune (1965)"
    }
    before = await rows(engine, "SELECT updated_at, description FROM media.media")
    summary = await ingest_file(engine, write_jsonl(tmp_path / "v2.jsonl", changed), source="v1")
    after = await rows(engine, "SELECT updated_at, description, title FROM media.media")
    assert summary.counts.updated == 1
    assert after[0][0] > before[0][0]
    assert after[0][1:] == ("A desert planet.", "Dune (1965)")


async def test_a_record_matches_through_any_external_link(engine: AsyncEngine, tmp_path: Path) -> None:
    media_id = await make_media(
        engine, title="Dune", external_id=None, external_links=[("isbn", "9780441172719")]
    )
    summary = await ingest_file(engine, write_jsonl(tmp_path / "dune.jsonl", DUNE))
    assert (summary.counts.inserted, summary.counts.updated) == (0, 1)
    links = await rows(engine, "SELECT media_id, source_name FROM media.external_links ORDER BY 2")
    assert links == [(media_id, "isbn"), (media_id, "wikidata")]


async def test_a_malformed_line_is_reported_with_its_number_and_good_lines_land(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "bad.jsonl", DUNE, '{"external_id": "x:1", "title": ', FILM)
    summary = await ingest_file(engine, path)
    assert summary.errors == [(2, "not valid JSON: Expecting value at column 32")]
    assert (summary.counts.inserted, summary.counts.failed) == (2, 1)
    logged = await rows(engine, "SELECT line_number, level, raw_line FROM ingest.import_logs")
    assert logged == [(2, "error", '{"external_id": "x:1", "title":')]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("[1, 2]", "a line must hold one JSON object"),
        ({**FILM, "titel": "x"}, "unknown field titel"),
        ({**FILM, "external_id": "tt1160419"}, 'external_id must be "<source>:<key>"'),
        ({**FILM, "external_id": "IMDB:tt1"}, "external_id the source must be lower-case"),
        ({k: v for k, v in FILM.items() if k != "title"}, "title is required"),
        ({**FILM, "title": "  "}, "title must not be empty"),
        ({**FILM, "media_type": "movie"}, "media_type must be one of"),
        ({**FILM, "media_class": "video film"}, "media_class must be a dotted path"),
        ({**FILM, "collection_path": "dune..films"}, "collection_path must be a dotted path"),
        ({**FILM, "release_date": "2021-02-30"}, "release_date must be a date YYYY-MM-DD, a month YYYY-MM"),
        ({**FILM, "release_date": "2021-13"}, "release_date must be a date YYYY-MM-DD, a month YYYY-MM"),
        ({**FILM, "release_date": "21"}, "release_date must be a date YYYY-MM-DD, a month YYYY-MM"),
        ({**FILM, "release_date_precision": "year"}, "unknown field release_date_precision"),
        ({**FILM, "alternative_titles": "Dune"}, "alternative_titles must be a list of titles"),
        ({**FILM, "alternative_titles": ["Dune", " "]}, "alternative_titles.1 must not be empty"),
        (
            {**FILM, "alternative_titles": [{"title": "Duna", "lang": "es"}]},
            "alternative_titles.0 must be a title",
        ),
        (
            {**FILM, "alternative_titles": [{"title": "Duna", "language": "Spanish!"}]},
            "alternative_titles.0.language must be a language tag",
        ),
        ({**FILM, "country_of_origin": "USA"}, "country_of_origin must be an ISO 3166-1"),
        ({**FILM, "creators": "Denis"}, "creators must be a list of strings"),
        ({**FILM, "creators": ["Denis", 3]}, "creators.1 must be a string"),
        ({**FILM, "cover_url": "ftp://x/y.jpg"}, "cover_url must be an absolute http(s) URL"),
        ({**FILM, "attributes": []}, "attributes must be a JSON object"),
        ({**FILM, "attributes": {"isbn": 9780441172719}}, "attributes.isbn must be a string of 10 or 13"),
        ({**FILM, "attributes": {"isbn": "978-0441"}}, "attributes.isbn must be a string of 10 or 13"),
        (
            {**FILM, "attributes": {"runtime_minutes": -1}},
            "attributes.runtime_minutes must be an integer from 0 to",
        ),
        ({**FILM, "attributes": {"episodes": 2.5}}, "attributes.episodes must be an integer from 0 to"),
        ({**FILM, "attributes": {"page_count": True}}, "attributes.page_count must be an integer from 0 to"),
        ({**FILM, "attributes": {"genres": "drama"}}, "attributes.genres must be a list of strings"),
        ({**FILM, "attributes": {"platforms": [1]}}, "attributes.platforms.0 must be a string"),
        ({**FILM, "external_links": [{"source": "imdb"}]}, "external_links.0 the key must be"),
        ({**FILM, "relations": [{"type": "inspired", "target": "a:b"}]}, "relations.0 must be one of"),
        ({**FILM, "relations": [{"type": "sequel", "target": "ab"}]}, 'relations.0 must be "<source>:<key>"'),
        (
            {**FILM, "relations": [{"type": "sequel", "target": "a:b", "weight": 10**6}]},
            "relations.0 must be an",
        ),
    ],
)
async def test_every_invalid_value_fails_its_line(
    engine: AsyncEngine, tmp_path: Path, line: dict[str, Any] | str, message: str
) -> None:
    summary = await ingest_file(engine, write_jsonl(tmp_path / "one.jsonl", line))
    assert len(summary.errors) == 1
    assert summary.errors[0][0] == 1
    assert summary.errors[0][1].startswith(message), summary.errors[0][1]
    assert await rows(engine, "SELECT id FROM media.media") == []


async def test_relations_to_records_of_a_later_file_wait_and_then_resolve(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    first = await ingest_file(engine, write_jsonl(tmp_path / "books.jsonl", DUNE), source="books")
    assert first.pending_relations == 2
    await ingest_file(engine, write_jsonl(tmp_path / "films.jsonl", FILM), source="films")
    state = await catalog_state(engine)
    assert state["relations"] == [("wikidata:Q190192", "imdb:tt1160419", "adaptation", "Part One", 1)]
    assert state["pending"] == [("wikidata:Q190192", "wikidata", "Q1199555", "sequel")]


async def test_a_relation_to_a_later_line_of_the_same_file_resolves(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await ingest_file(
        engine, write_jsonl(tmp_path / "saga.jsonl", DUNE, *generated(5), MESSIAH), batch_size=2
    )
    state = await catalog_state(engine)
    assert ("wikidata:Q190192", "wikidata:Q1199555", "sequel", None, None) in state["relations"]
    assert ("gen:1", "gen:0", "sequel", None, None) in state["relations"]


async def test_a_key_claimed_by_another_item_is_recorded_as_a_conflict_and_left_alone(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    dune = await make_media(engine, title="Dune", external_id=None, external_links=[("wikidata", "Q190192")])
    other = await make_media(
        engine, title="Other", external_id=None, external_links=[("isbn", "9780441172719")]
    )
    summary = await ingest_file(engine, write_jsonl(tmp_path / "dune.jsonl", DUNE))
    assert summary.counts.conflicts == 1
    conflicts = await rows(
        engine,
        "SELECT line_number, source_name, external_key, existing_media_id, incoming_media_id FROM ingest.conflicts",
    )
    assert conflicts == [(1, "isbn", "9780441172719", other, dune)]
    assert await rows(engine, "SELECT media_id FROM media.external_links WHERE source_name = 'isbn'") == [
        (other,)
    ]
    assert await rows(
        engine, "SELECT title FROM media.media WHERE id = :id".replace(":id", f"'{other}'")
    ) == [("Other",)]


async def test_a_killed_run_resumed_ends_like_an_unbroken_run(engine: AsyncEngine, tmp_path: Path) -> None:
    records: list[dict[str, Any] | str] = [
        DUNE,
        MESSIAH,
        FILM,
        *generated(60),
        "not json",
        {**MESSIAH, "title": "Dune Messiah (1969)"},
    ]
    path = write_jsonl(tmp_path / "saga.jsonl", *records)
    unbroken_job = await ingest_file(engine, path, batch_size=10)
    unbroken = await catalog_state(engine)
    await truncate_catalog(engine)

    async def kill_in_batch_four(batch_number: int) -> None:
        if batch_number == 4:
            raise ConnectionResetError("simulated crash before the fourth commit")

    with pytest.raises(ConnectionResetError):
        await ingest_file(engine, path, batch_size=10, before_commit=kill_in_batch_four)
    [(job_id, status, last_line)] = await rows(
        engine, "SELECT id, status, last_committed_line FROM ingest.import_jobs"
    )
    assert (status, last_line) == ("failed", 30)
    assert len(await rows(engine, "SELECT id FROM media.media")) == 30
    resumed = await ingest_file(engine, path, resume_job=job_id)
    assert await catalog_state(engine) == unbroken
    assert (resumed.counts, resumed.errors) == (unbroken_job.counts, unbroken_job.errors)


def crossing_batches() -> list[dict[str, Any] | str]:
    """Relations across batch boundaries in both directions, later records of earlier items, a fact
    stated from both ends (notes on the later one), keys shared by records (conflicts), a bad line."""
    records: list[dict[str, Any] | str] = list(generated(40, relate_every=2))
    for n in range(0, 40, 3):
        record = records[n]
        assert isinstance(record, dict)
        record["relations"] = [
            *record.get("relations", []),
            {"type": "adaptation", "target": f"gen:{(n + 7) % 40}", "notes": f"from {n}"},
            {"type": "sequel", "target": f"gen:{(n + 33) % 40}"},
        ]
    records += [
        {
            "external_id": "other:3",
            "media_type": "game",
            "media_class": "interactive.game",
            "title": "Game 3 (HD)",
            "external_links": [{"source": "steam", "key": "1003"}],
        },
        {**GAME_FOUR_RENAMED},
        {
            "external_id": "gen:8",
            "media_type": "game",
            "media_class": "interactive.game",
            "title": "Game 8",
            "attributes": {"platforms": ["pc"]},
            "relations": [{"type": "source", "target": "gen:1", "notes": "late"}],
        },
        {
            "external_id": "gen:6",
            "media_type": "game",
            "media_class": "interactive.game",
            "title": "Thief",
            "external_links": [{"source": "steam", "key": "1007"}],
        },
        "not json",
        *generated(12, relate_every=5)[6:],
    ]
    return records


GAME_FOUR_RENAMED = {
    "external_id": "gen:4",
    "media_type": "game",
    "media_class": "interactive.game",
    "title": "Game 4: Remastered",
    "relations": [{"type": "spin-off", "target": "gen:39", "weight": 2}],
}


@pytest.mark.parametrize("writers", [2, 3])
async def test_parallel_writers_end_in_the_state_of_one_writer(
    engine: AsyncEngine, tmp_path: Path, writers: int
) -> None:
    path = write_jsonl(tmp_path / "crossing.jsonl", *crossing_batches())
    alone = await ingest_file(engine, path, batch_size=4, writers=1)
    expected = await catalog_state(engine)
    assert expected["relations"]
    counts = alone.counts
    # other:3 and the second gen:6 share a steam key with earlier records: two conflicts, no merge.
    assert (counts.inserted, counts.updated, counts.conflicts, counts.failed) == (41, 3, 2, 1)
    await truncate_catalog(engine)

    together = await ingest_file(engine, path, batch_size=4, writers=writers)
    assert await catalog_state(engine) == expected
    assert (together.counts, together.errors, together.pending_relations) == (
        alone.counts,
        alone.errors,
        alone.pending_relations,
    )
    # The file states some items twice, differently, so a second run rewrites them, and ends the same.
    again = await ingest_file(engine, path, batch_size=4, writers=writers)
    assert await catalog_state(engine) == expected
    assert again.counts.inserted == 0


async def test_a_batch_after_a_failed_one_never_commits(engine: AsyncEngine, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "games.jsonl", *generated(12))
    later_batch_waiting = asyncio.Event()

    async def fail_second_batch(batch_number: int) -> None:
        if batch_number == 2:
            # Batch 3 is written at the same time and waits for this one before it commits.
            await asyncio.sleep(0.2)
            raise ConnectionResetError("simulated crash before the second commit")
        if batch_number == 3:
            later_batch_waiting.set()

    with pytest.raises(ConnectionResetError):
        await ingest_file(engine, path, batch_size=4, writers=2, before_commit=fail_second_batch)
    assert not later_batch_waiting.is_set()
    assert await rows(engine, "SELECT last_committed_line, inserted FROM ingest.import_jobs") == [(4, 4)]
    assert len(await rows(engine, "SELECT id FROM media.media")) == 4


async def test_a_concurrent_run_on_the_same_source_is_refused(engine: AsyncEngine, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "games.jsonl", *generated(4))
    first_batch_written = asyncio.Event()
    release = asyncio.Event()

    async def hold(batch_number: int) -> None:
        first_batch_written.set()
        await release.wait()

    first = asyncio.create_task(ingest_file(engine, path, batch_size=2, before_commit=hold))
    await first_batch_written.wait()
    with pytest.raises(SourceBusy):
        await ingest_file(engine, path)
    release.set()
    assert (await first).counts.inserted == 4


async def test_a_dry_run_counts_but_writes_nothing(engine: AsyncEngine, tmp_path: Path) -> None:
    summary = await ingest_file(engine, write_jsonl(tmp_path / "dune.jsonl", DUNE, "{"), dry_run=True)
    assert (summary.counts.inserted, summary.counts.failed, summary.dry_run) == (1, 1, True)
    assert await rows(engine, "SELECT id FROM media.media") == []
    assert await rows(engine, "SELECT line_number FROM ingest.import_logs") == [(2,)]


async def test_the_same_key_twice_in_one_file_updates_the_first_item(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    renamed = {**FILM, "title": "Dune (2021)"}
    summary = await ingest_file(engine, write_jsonl(tmp_path / "twice.jsonl", FILM, renamed), batch_size=100)
    assert (summary.counts.inserted, summary.counts.updated) == (1, 1)
    assert await rows(engine, "SELECT title FROM media.media") == [("Dune (2021)",)]


async def test_the_command_prints_bad_lines_and_exits_with_status_one(
    engine: AsyncEngine, tmp_path: Path, database_url: str
) -> None:
    path = write_jsonl(tmp_path / "cli.jsonl", FILM, "{oops", MESSIAH)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gql.cli",
        "ingest",
        str(path),
        env={**os.environ, "DATABASE_URL": database_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, _ = await process.communicate()
    assert process.returncode == 1
    assert "2 inserted" in out.decode()
    assert "line 2: not valid JSON" in out.decode()


async def test_the_demo_catalog_loads_through_ingestion_into_an_empty_catalog_only(
    engine: AsyncEngine, tmp_path: Path, database_url: str
) -> None:
    path = write_jsonl(tmp_path / "demo.jsonl", DUNE, MESSIAH, FILM)
    await load_demo_catalog(database_url, path)
    await load_demo_catalog(database_url, path)
    jobs = await rows(
        engine,
        "SELECT s.name, j.status, j.inserted FROM ingest.import_jobs j JOIN ingest.sources s ON s.id = j.source_id",
    )
    assert jobs == [("demo", "succeeded", 3)]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_shows_rate_and_eta_on_a_terminal() -> None:
    screen = Terminal()
    report = ProgressReport(screen)
    report(Progress(lines_done=500, lines_total=2000, counts=Counts(inserted=490, failed=10)))
    report.close()
    line = screen.getvalue()
    assert line.startswith("\r[#######.......................] 500/2,000  25.0%")
    assert "lines/s" in line
    assert "ETA 0:" in line
    assert "+490" in line
    assert "!10" in line


def test_without_a_terminal_progress_goes_to_plain_log_lines(caplog: pytest.LogCaptureFixture) -> None:
    stream = io.StringIO()
    report = ProgressReport(stream)
    with caplog.at_level("INFO", logger="omnimediatrak.ingest"):
        report(Progress(lines_done=2000, lines_total=2000, counts=Counts(inserted=2000)))
    assert stream.getvalue() == ""
    assert "line 2000 of 2000 (100.0%)" in caplog.text


@pytest.mark.parametrize(("batch_size", "writers"), [(0, 2), (50_001, 2), (100, 0), (100, 17)])
def test_out_of_range_options_are_refused_before_anything_runs(
    tmp_path: Path, batch_size: int, writers: int
) -> None:
    path = write_jsonl(tmp_path / "games.jsonl", *generated(2))
    unreachable = "postgresql+asyncpg://nobody@127.0.0.1:1/none"
    request = IngestRequest(path, batch_size=batch_size, writers=writers)
    assert run_ingest(unreachable, request) == EXIT_FAILED


async def test_ingest_file_needs_a_writer(engine: AsyncEngine, tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="at least one writer"):
        await ingest_file(engine, write_jsonl(tmp_path / "games.jsonl", *generated(2)), writers=0)
    assert await rows(engine, "SELECT id FROM ingest.import_jobs") == []


async def test_runs_on_different_sources_take_turns_and_never_duplicate_an_item(
    engine: AsyncEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same games under their own ids and, in the second feed, their shared Steam keys: a race
    # between the two runs would create each game twice.
    monkeypatch.setattr("db.ingest.BATCHES_PER_TURN", 1)
    games = generated(24, relate_every=4)
    by_steam = [
        {**game, "external_id": f"steam:{1000 + n}", "external_links": [{"source": "gen", "key": str(n)}]}
        for n, game in enumerate(games)
    ]
    first = write_jsonl(tmp_path / "gen.jsonl", *games)
    second = write_jsonl(tmp_path / "steam.jsonl", *by_steam)
    summaries = await asyncio.gather(
        ingest_file(engine, first, batch_size=3), ingest_file(engine, second, batch_size=3)
    )
    assert sum(summary.counts.inserted for summary in summaries) == 24
    assert sum(summary.counts.conflicts for summary in summaries) == 0
    assert len(await rows(engine, "SELECT id FROM media.media")) == 24
    assert len(await rows(engine, "SELECT 1 FROM media.external_links")) == 48
