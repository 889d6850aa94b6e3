"""The demo catalog `serve` loads: real, cross-media, and consistent (checked without a database)."""

import json
from collections import defaultdict
from pathlib import Path

from db.media import MEDIA_TYPES
from db.media_filters import LTREE_PATTERN

CATALOG = Path(__file__).resolve().parent.parent / "data" / "demo_catalog.jsonl"
RECORDS = [json.loads(line) for line in CATALOG.read_text(encoding="utf-8").splitlines()]


def test_catalog_is_large_and_spans_media_types() -> None:
    assert len(RECORDS) >= 150
    assert len({record["media_type"] for record in RECORDS}) >= 8
    assert {record["media_type"] for record in RECORDS} <= set(MEDIA_TYPES)


def test_at_least_ten_franchises_cross_media_types_through_relations() -> None:
    types_by_franchise: dict[str, set[str]] = defaultdict(set)
    by_key = {record["external_id"]: record for record in RECORDS}
    for record in RECORDS:
        for relation in record.get("relations") or []:
            target = by_key[relation["target"]]
            if record["media_type"] != target["media_type"] and record.get("collection_path"):
                franchise = record["collection_path"].split(".")[0]
                types_by_franchise[franchise] |= {record["media_type"], target["media_type"]}
    assert len(types_by_franchise) >= 10


def test_records_are_well_formed_and_targets_exist() -> None:
    keys = [record["external_id"] for record in RECORDS]
    assert len(keys) == len(set(keys))
    for record in RECORDS:
        assert LTREE_PATTERN.match(record["media_class"]), record["external_id"]
        if record.get("collection_path"):
            assert LTREE_PATTERN.match(record["collection_path"]), record["external_id"]
        for relation in record.get("relations") or []:
            assert relation["target"] in keys
            assert relation["target"] != record["external_id"]
