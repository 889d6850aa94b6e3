"""Poison lines in an ingest file: however a line is bad, it is reported with its number and reason,
logged in ingest.import_logs and skipped, while the other lines of its batch land and --resume
continues past it. Limits on one record are enforced before the line is parsed."""

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from db.ingest import ingest_file
from db.ingest_format import MAX_LINE_BYTES, MAX_RECORD_DEPTH
from tests.test_ingest import catalog_state, rows, truncate_catalog

GOOD = {"media_type": "game", "media_class": "interactive.game", "title": "Game"}


def good(n: int) -> str:
    return json.dumps({**GOOD, "external_id": f"good:{n}", "title": f"Game {n}"})


def nested_value(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


POISON = {
    "nested 100,000 deep": ("[" * 100_000 + "]" * 100_000, f"nested deeper than {MAX_RECORD_DEPTH} levels"),
    "attributes nested 1,000 deep": (
        '{"external_id": "p:1", "media_type": "game", "media_class": "interactive.game", "title": "T", '
        '"attributes": ' + nested_value(1000) + "}",
        f"nested deeper than {MAX_RECORD_DEPTH} levels",
    ),
    "attributes nested 30 deep": (
        '{"external_id": "p:2", "media_type": "game", "media_class": "interactive.game", "title": "T", '
        '"attributes": ' + nested_value(30) + "}",
        f"nested deeper than {MAX_RECORD_DEPTH} levels",
    ),
    "NUL in an attribute value": (
        json.dumps({**GOOD, "external_id": "p:3", "attributes": {"note": "a\u0000b"}}),
        "attributes.note: the value must not contain NUL",
    ),
    "NUL in an attribute key": (
        json.dumps({**GOOD, "external_id": "p:4", "attributes": {"k\u0000": 1}}),
        "attributes.k\ufffd: the value key must not contain NUL",
    ),
    "unpaired surrogate in the title": (
        '{"external_id": "p:5", "media_type": "game", "media_class": "interactive.game", "title": "a\\ud800"}',
        "not valid JSON",
    ),
    "raw NUL byte": ('{"external_id": "p:6", "title": "a\x00b"}', "not valid JSON"),
    "a line over the length limit": ('{"title": "' + "x" * (MAX_LINE_BYTES + 10) + '"}', "longer than"),
    "a number beyond float range": (
        json.dumps({**GOOD, "external_id": "p:7"})[:-1] + ', "attributes": {"n": 1e999}}',
        "not valid JSON",
    ),
    "episodes beyond int32": (
        json.dumps({**GOOD, "external_id": "p:8", "attributes": {"episodes": 3_000_000_000}}),
        "attributes.episodes must be an integer from 0 to 2147483647",
    ),
}


def poisoned_file(path: Path) -> Path:
    lines = [good(0)]
    for line, _ in POISON.values():
        lines += [line, good(len(lines))]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def test_poison_lines_are_reported_by_number_and_the_rest_of_their_batch_lands(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    path = poisoned_file(tmp_path / "poison.jsonl")
    summary = await ingest_file(engine, path, batch_size=1000)
    assert summary.status == "succeeded"
    expected_lines = list(range(2, 2 * len(POISON) + 1, 2))
    assert [line for line, _ in summary.errors] == expected_lines
    for (line, message), (name, (_, reason)) in zip(summary.errors, POISON.items(), strict=True):
        assert reason in message, (line, name, message)
    assert summary.counts.inserted == len(POISON) + 1
    assert summary.counts.failed == len(POISON)
    titles = await rows(engine, "SELECT title FROM media.media ORDER BY title")
    assert len(titles) == len(POISON) + 1
    logged = await rows(engine, "SELECT line_number, level FROM ingest.import_logs ORDER BY line_number")
    assert logged == [(line, "error") for line in expected_lines]


async def test_resume_continues_past_poison_lines(engine: AsyncEngine, tmp_path: Path) -> None:
    path = poisoned_file(tmp_path / "poison.jsonl")
    unbroken = await ingest_file(engine, path, batch_size=4)
    unbroken_state = await catalog_state(engine)
    await truncate_catalog(engine)

    async def crash_in_batch_three(batch_number: int) -> None:
        if batch_number == 3:
            raise ConnectionResetError("simulated crash")

    with pytest.raises(ConnectionResetError):
        await ingest_file(engine, path, batch_size=4, before_commit=crash_in_batch_three)
    [(job_id,)] = await rows(engine, "SELECT id FROM ingest.import_jobs")
    resumed = await ingest_file(engine, path, resume_job=job_id)
    assert resumed.status == "succeeded"
    assert await catalog_state(engine) == unbroken_state
    assert (resumed.counts, resumed.errors) == (unbroken.counts, unbroken.errors)


async def run_cli(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gql.cli",
        *args,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["missing.jsonl"], "is not a file"),
        (["games.jsonl", "--batch-size", "0"], "--batch-size must be between"),
        (["games.jsonl", "--writers", "0"], "--writers must be between"),
        (["games.jsonl", "--resume", "0"], "--resume takes"),
    ],
)
async def test_arguments_are_checked_before_any_database_is_started(
    tmp_path: Path, arguments: list[str], message: str
) -> None:
    (tmp_path / "games.jsonl").write_text(good(1) + "\n", encoding="utf-8")
    data_dir = tmp_path / "data"
    env = {"DATABASE_URL": "", "OMT_DATA_DIR": str(data_dir)}
    status, _, err = await run_cli("ingest", *(str(tmp_path / arguments[0]), *arguments[1:]), env=env)
    assert status == 2
    assert message in err
    assert "Traceback" not in err
    assert not data_dir.exists()


async def test_the_summary_says_plainly_that_lines_failed(
    engine: AsyncEngine, tmp_path: Path, database_url: str
) -> None:
    path = tmp_path / "some-bad.jsonl"
    path.write_text("\n".join([good(1), "[" * 50_000, good(2)]) + "\n", encoding="utf-8")
    status, out, err = await run_cli("ingest", str(path), env={"DATABASE_URL": database_url})
    assert status == 1
    assert "finished, but 1 line failed and was skipped" in out
    assert "line 2: nested deeper than" in out
    assert "Traceback" not in err


async def test_an_unusable_data_dir_is_one_clear_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    status, _, err = await run_cli(
        "migrate", "--data-dir", str(blocker / "data"), env={"DATABASE_URL": "", "OMT_EMBEDDED_AS_ROOT": "1"}
    )
    assert status == 1
    assert "cannot use the data dir" in err
    assert "Traceback" not in err
