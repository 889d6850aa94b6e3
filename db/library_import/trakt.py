"""Trakt's JSON export: watched-movies.json, watched-shows.json, ratings-movies.json,
ratings-shows.json, watchlist-movies.json, watchlist-shows.json (their items as Trakt's API returns
them), as a ZIP, as one of those files, or as one JSON object keyed by those names."""

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import orjson

from db.library_import.archive import is_zip, zip_members
from db.library_import.entry import (
    ImportEntry,
    ParsedFile,
    RowProblem,
    UnreadableFile,
    latest,
    parse_timestamp,
)

KINDS = ("watched", "ratings", "watchlist")
MEDIA_TYPES = {"movie": ("film",), "show": ("series", "anime")}
# Most specific first: tmdb and trakt numbers are shared by a movie and a show, so a key also has
# to land on an item of the right type.
ID_SOURCES = ("imdb", "tmdb", "tvdb", "trakt")


@dataclass
class Title:
    row: int
    kind: str
    title: str | None
    year: int | None
    ids: tuple[tuple[str, str], ...]
    watched: bool = False
    listed: bool = False
    plays: int = 0
    episodes: int = 0
    last_watched: dt.datetime | None = None
    rating: int | None = None
    touched: list[dt.datetime | None] = field(default_factory=list)


def _file_kind(name: str) -> tuple[str, str] | None:
    """('watched', 'movie') for watched-movies.json, watched_movies, ..."""
    stem = name.lower().removesuffix(".json").replace("_", "-")
    for kind in KINDS:
        for media in ("movie", "show"):
            if stem == f"{kind}-{media}s":
                return kind, media
    return None


def _item_kind(item: Any) -> str:
    if "plays" in item:
        return "watched"
    if "rating" in item:
        return "ratings"
    return "watchlist"


def _documents(data: bytes, file_name: str) -> list[tuple[str, str | None, Any]]:
    """(kind, movie/show or None to read from each item, the list of items)."""
    if is_zip(data):
        files = zip_members(data, ".json")
        documents = {name: _load(content, name) for name, content in files.items()}
    else:
        loaded = _load(data, file_name or "the file")
        documents = loaded if isinstance(loaded, dict) else {file_name.rsplit("/", 1)[-1]: loaded}
    found: list[tuple[str, str | None, Any]] = []
    for name, items in documents.items():
        kind = _file_kind(name)
        if kind is not None:
            found.append((kind[0], kind[1], items))
        elif isinstance(items, list) and items and isinstance(items[0], dict):
            found.append((_item_kind(items[0]), None, items))
    if not found:
        raise UnreadableFile("no Trakt watched, ratings or watchlist data found")
    return found


def _load(content: bytes, name: str) -> Any:
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        raise UnreadableFile(f"{name} is not JSON") from exc


def _title(row: int, item: Any, media: str | None) -> tuple[str, Title]:
    if not isinstance(item, dict):
        raise ValueError("an item must be a JSON object")
    media = media or item.get("type") or ("movie" if "movie" in item else "show")
    if media not in MEDIA_TYPES or not isinstance(item.get(media), dict):
        raise ValueError(f"the item has no {media or 'movie or show'}")
    described = item[media]
    ids = described.get("ids") or {}
    keys = tuple((source, str(ids[source])) for source in ID_SOURCES if ids.get(source) not in (None, ""))
    title = described.get("title")
    year = described.get("year")
    if not keys and not (isinstance(title, str) and isinstance(year, int)):
        raise ValueError("the item has neither ids nor a title and year")
    identity = f"{media}:{keys[-1][1] if keys else f'{title}/{year}'}"
    return identity, Title(
        row, media, title if isinstance(title, str) else None, year if isinstance(year, int) else None, keys
    )


def _add(found: Title, kind: str, item: dict[str, Any]) -> None:
    """Checks everything first, so a refused item changes nothing."""
    if kind == "watched":
        plays = item.get("plays")
        if not isinstance(plays, int) or plays < 0:
            raise ValueError("plays must be a whole number")
        watched_at = parse_timestamp(item.get("last_watched_at"))
        updated_at = parse_timestamp(item.get("last_updated_at"))
        episodes = sum(len(season.get("episodes") or []) for season in item.get("seasons") or [])
        found.watched = True
        found.plays = max(found.plays, plays)
        found.last_watched = latest(found.last_watched, watched_at)
        found.episodes = max(found.episodes, episodes)
        found.touched += [watched_at, updated_at]
    elif kind == "ratings":
        rating = item.get("rating")
        if not isinstance(rating, int) or not 1 <= rating <= 10:
            raise ValueError("rating must be 1 to 10")
        rated_at = parse_timestamp(item.get("rated_at"))
        found.rating = rating
        found.touched.append(rated_at)
    else:
        listed_at = parse_timestamp(item.get("listed_at"))
        found.listed = True
        found.touched.append(listed_at)


def _entry(found: Title) -> ImportEntry:
    if found.kind == "movie":
        status = "completed" if found.watched else "planned" if found.listed else None
        progress = None
        repeat = found.plays - 1 if found.plays > 1 else None
        completed = found.last_watched
    else:
        status = "in-progress" if found.watched else "planned" if found.listed else None
        progress, repeat, completed = found.episodes or None, None, None
    return ImportEntry(
        row=found.row,
        title=found.title,
        year=found.year,
        media_types=MEDIA_TYPES[found.kind],
        external_ids=found.ids,
        status=status,
        progress=progress,
        rating=found.rating,
        repeat_count=repeat,
        completed_at=completed,
        source_updated_at=latest(*found.touched),
    )


def parse(data: bytes, file_name: str = "") -> ParsedFile:
    parsed = ParsedFile()
    titles: dict[str, Title] = {}
    row = 0
    for kind, media, items in _documents(data, file_name):
        if not isinstance(items, list):
            raise UnreadableFile(f"Trakt {kind} data must be a JSON array")
        for item in items:
            row += 1
            try:
                identity, described = _title(row, item, media)
                target = titles.get(identity, described)
                _add(target, kind, item)
                titles[identity] = target
            except (ValueError, TypeError, AttributeError) as exc:
                parsed.problems.append(RowProblem(row, f"{kind}: {exc}"))
    parsed.entries = [_entry(found) for found in titles.values()]
    return parsed
