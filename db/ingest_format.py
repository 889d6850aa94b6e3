"""The JSON Lines catalog format (docs/ingestion.md): parsing one line, and streaming a file in batches."""

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from db.media_fields import RECORD_MEDIA_FIELDS, validate_media_fields
from db.media_validation import InvalidValue, external_key, external_link, relation_type, relation_weight
from db.storable import MAX_INPUT_DEPTH, UNSTORABLE_CHARACTERS, value_problem

Key = tuple[str, str]
RECORD_FIELDS = frozenset({"external_id", "external_links", "relations", *RECORD_MEDIA_FIELDS})
RAW_LINE_LIMIT = 2000
# Limits on one record (docs/ingestion.md), enforced before the line is parsed.
MAX_LINE_BYTES = 1_000_000
MAX_RECORD_DEPTH = MAX_INPUT_DEPTH
LINK_FIELDS = frozenset({"source", "key"})
RELATION_FIELDS = frozenset({"type", "target", "notes", "weight"})


class InvalidRecord(ValueError):
    pass


def _nesting(raw: str) -> int:
    """How deep the brackets of `raw` go, outside strings (the line may not be valid JSON)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in raw:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


@dataclass
class Relation:
    relation_type: str
    target: Key
    notes: str | None
    weight: int | None


@dataclass
class Record:
    line: int
    external_id: Key
    fields: dict[str, Any]
    keys: list[Key]
    relations: list[Relation]

    @property
    def external_id_text(self) -> str:
        return f"{self.external_id[0]}:{self.external_id[1]}"


@dataclass
class BadLine:
    line: int
    message: str
    raw: str | None
    level: str = "error"


@dataclass
class Batch:
    records: list[Record] = field(default_factory=list)
    bad_lines: list[BadLine] = field(default_factory=list)
    keys: set[Key] = field(default_factory=set)
    last_line: int = 0


def parse_record(line: int, raw: str) -> Record:
    """One line of the file; InvalidRecord names the first thing wrong with it."""
    if raw.count("{") + raw.count("[") > MAX_RECORD_DEPTH and _nesting(raw) > MAX_RECORD_DEPTH:
        # Refused before parsing: each level costs the parsers memory and recursion.
        raise InvalidRecord(f"nested deeper than {MAX_RECORD_DEPTH} levels")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as fast_error:
        # json's messages say what is wrong in words; bad lines are rare enough to parse twice.
        try:
            json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InvalidRecord(f"not valid JSON: {exc.msg} at column {exc.colno}") from exc
        except RecursionError as exc:
            raise InvalidRecord("not valid JSON: nested too deeply") from exc
        raise InvalidRecord(f"not valid JSON: {fast_error}") from fast_error
    if not isinstance(data, dict):
        raise InvalidRecord("a line must hold one JSON object")
    # A NUL can only come as the escape \u0000 (a raw one is not valid JSON), and orjson refuses
    # unpaired surrogates itself: lines without that escape need no walk.
    if "\\u0000" in raw:
        problem = value_problem(data, MAX_RECORD_DEPTH)
        if problem is not None:
            path, reason = problem
            raise InvalidRecord(f"{'.'.join(map(str, path)) or 'the record'}: the value {reason}")
    if not RECORD_FIELDS.issuperset(data):
        raise InvalidRecord(f"unknown field {sorted(set(data) - RECORD_FIELDS)[0]}")
    try:
        primary = external_key(data.get("external_id"))
    except InvalidValue as exc:
        raise InvalidRecord(f"external_id {exc}") from exc
    fields, errors = validate_media_fields(data, True)
    if errors:
        raise InvalidRecord(f"{'.'.join(errors[0].field)} {errors[0].message}")
    keys = [primary]
    links = data.get("external_links") or []
    if not isinstance(links, list):
        raise InvalidRecord("external_links must be a list")
    for index, link in enumerate(links):
        if not isinstance(link, dict) or not LINK_FIELDS.issuperset(link):
            raise InvalidRecord(f'external_links.{index} must be {{"source": ..., "key": ...}}')
        try:
            key = external_link(link.get("source"), link.get("key"))
        except InvalidValue as exc:
            raise InvalidRecord(f"external_links.{index} {exc}") from exc
        if key not in keys:
            keys.append(key)
    return Record(line, primary, fields, keys, _relations(data.get("relations")))


def _relations(value: Any) -> list[Relation]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidRecord("relations must be a list")
    relations = []
    for index, item in enumerate(value):
        if not isinstance(item, dict) or not RELATION_FIELDS.issuperset(item):
            raise InvalidRecord(f"relations.{index} must be {{type, target, notes?, weight?}}")
        try:
            notes = item.get("notes")
            if notes is not None and not isinstance(notes, str):
                raise InvalidValue("notes must be a string")
            relations.append(
                Relation(
                    relation_type(item.get("type")),
                    external_key(item.get("target")),
                    notes,
                    relation_weight(item.get("weight")),
                )
            )
        except InvalidValue as exc:
            raise InvalidRecord(f"relations.{index} {exc}") from exc
    return relations


def _bounded_lines(handle: BinaryIO) -> Iterator[bytes | None]:
    """The lines of `handle`; None for a line longer than MAX_LINE_BYTES, read past without keeping it."""
    while line := handle.readline(MAX_LINE_BYTES + 1):
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n"):
                line = handle.readline(1 << 20)
            yield None
        else:
            yield line


def _bad_line(number: int, message: str, raw: str | None) -> BadLine:
    """A bad line as ingest.import_logs can store it: a NUL in the line (or echoed in the message)
    becomes U+FFFD."""
    stored_raw = None if raw is None else UNSTORABLE_CHARACTERS.sub("\ufffd", raw[:RAW_LINE_LIMIT])
    return BadLine(number, UNSTORABLE_CHARACTERS.sub("\ufffd", message), stored_raw)


def scan_file(path: Path) -> tuple[str, int]:
    """SHA-256 and line count, read in chunks (a resumed run must see the same file)."""
    digest = hashlib.sha256()
    lines = 0
    last = b"\n"
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return digest.hexdigest(), lines + (last != b"\n")


def read_batches(
    path: Path, batch_size: int, skip_lines: int, pause_every: int = 20
) -> Iterator[Batch | None]:
    """Batches of up to batch_size lines; a record sharing a key with an earlier record of the
    batch starts the next batch, so the records of one batch never race for the same key.
    None comes every `pause_every` lines: an async caller lets its other tasks run there."""
    batch = Batch()
    with path.open("rb") as handle:
        for number, raw_bytes in enumerate(_bounded_lines(handle), start=1):
            if number <= skip_lines:
                continue
            if number % pause_every == 0:
                yield None
            record: Record | None = None
            bad: BadLine | None = None
            if raw_bytes is None:
                bad = _bad_line(number, f"longer than {MAX_LINE_BYTES:,} bytes", None)
                raw = ""
            else:
                try:
                    raw = raw_bytes.decode("utf-8").strip()
                except UnicodeDecodeError:
                    bad = _bad_line(number, "not valid UTF-8", None)
            if bad is None:
                if not raw:
                    batch.last_line = number
                    continue
                try:
                    record = parse_record(number, raw)
                except InvalidRecord as exc:
                    bad = _bad_line(number, str(exc), raw)
            if record is not None and batch.keys.intersection(record.keys):
                yield batch
                batch = Batch()
            if record is not None:
                batch.records.append(record)
                batch.keys.update(record.keys)
            if bad is not None:
                batch.bad_lines.append(bad)
            batch.last_line = number
            if len(batch.records) + len(batch.bad_lines) >= batch_size:
                yield batch
                batch = Batch()
    if batch.records or batch.bad_lines or batch.last_line:
        yield batch
