"""MyAnimeList's list export (XML, as served gzipped): one <anime> or <manga> element per entry."""

import gzip
import xml.etree.ElementTree as ET
import zlib

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from db.library_import.entry import (
    ImportEntry,
    ParsedFile,
    RowProblem,
    UnreadableFile,
    latest,
    parse_day,
    score_from_ten,
)

STATUSES = {
    "watching": "in-progress",
    "reading": "in-progress",
    "completed": "completed",
    "on-hold": "paused",
    "dropped": "dropped",
    "plan to watch": "planned",
    "plan to read": "planned",
}
# MAL numbers statuses in some exports (1 watching ... 6 plan to watch).
STATUS_NUMBERS = {"1": "in-progress", "2": "completed", "3": "paused", "4": "dropped", "6": "planned"}
KINDS = {
    # element: (id element, title element, media types, id sources, progress elements, repeat element)
    "anime": (
        "series_animedb_id",
        "series_title",
        ("anime",),
        ("mal-anime", "mal"),
        ("my_watched_episodes",),
        "my_times_watched",
    ),
    "manga": (
        "manga_mangadb_id",
        "manga_title",
        ("manga", "comic", "book"),
        ("mal-manga", "mal"),
        ("my_read_chapters", "my_read_volumes"),
        "my_times_read",
    ),
}


def _decompress(data: bytes) -> bytes:
    if data[:2] != b"\x1f\x8b":
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise UnreadableFile("the gzip file is damaged") from exc


def _text(element: ET.Element, name: str) -> str:
    child = element.find(name)
    return (child.text or "").strip() if child is not None else ""


def _int(element: ET.Element, name: str) -> int | None:
    text = _text(element, name)
    return int(text) if text else None


def _entry(row: int, element: ET.Element) -> ImportEntry:
    id_name, title_name, media_types, sources, progress_names, repeat_name = KINDS[element.tag]
    title = _text(element, title_name) or None
    media_key = _text(element, id_name)
    if not media_key.isdigit():
        raise ValueError(f"{id_name} must be a number")
    status_text = _text(element, "my_status")
    status = STATUSES.get(status_text.lower()) or STATUS_NUMBERS.get(status_text)
    if status is None:
        raise ValueError(f"unknown my_status {status_text!r}")
    progress = next((value for name in progress_names if (value := _int(element, name))), None)
    score = _int(element, "my_score")
    if score is not None and not 0 <= score <= 10:
        raise ValueError("my_score must be 0 to 10")
    started, finished = (
        parse_day(_text(element, "my_start_date")),
        parse_day(_text(element, "my_finish_date")),
    )
    return ImportEntry(
        row=row,
        title=title,
        media_types=media_types,
        external_ids=tuple((source, media_key) for source in sources),
        status=status,
        progress=progress,
        rating=None if score is None else score_from_ten(score),
        notes=_text(element, "my_comments") or None,
        repeat_count=_int(element, repeat_name) or None,
        started_at=started,
        completed_at=finished,
        source_updated_at=latest(started, finished),
    )


def parse(data: bytes) -> ParsedFile:
    try:
        root = fromstring(_decompress(data))
    except (ET.ParseError, DefusedXmlException) as exc:
        raise UnreadableFile(f"not a MyAnimeList XML export: {exc}") from exc
    if root.tag != "myanimelist":
        raise UnreadableFile("not a MyAnimeList XML export: the root element is not <myanimelist>")
    parsed = ParsedFile()
    for row, element in enumerate((child for child in root if child.tag in KINDS), start=1):
        try:
            parsed.entries.append(_entry(row, element))
        except ValueError as exc:
            title = _text(element, KINDS[element.tag][1]) or None
            parsed.problems.append(RowProblem(row, str(exc), title))
    return parsed
