"""Ingestion of JSON Lines catalogs (format: docs/ingestion.md).

Minimal loader used by `serve` for the demo catalog; the full pipeline replaces it.
"""

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from db.models import INVERSE_RELATION, NON_CANONICAL_RELATIONS, ExternalLink, Media, Relationship

MEDIA_FIELDS = (
    "external_id",
    "media_type",
    "media_class",
    "title",
    "country_of_origin",
    "creators",
    "cover_url",
    "description",
    "attributes",
    "collection_path",
)


def _split_key(key: str) -> tuple[str, str]:
    source, _, external_key = key.partition(":")
    return source, external_key


async def load_jsonl(engine: AsyncEngine, path: Path) -> int:
    import datetime as dt

    records: list[dict[str, Any]] = [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    async with engine.begin() as conn:
        ids: dict[str, Any] = {}
        for record in records:
            values = {name: record.get(name) for name in MEDIA_FIELDS}
            values["creators"] = values["creators"] or []
            values["attributes"] = values["attributes"] or {}
            if record.get("release_date"):
                values["release_date"] = dt.date.fromisoformat(record["release_date"])
            media_id = (await conn.execute(insert(Media).values(**values).returning(Media.id))).scalar_one()
            ids[record["external_id"]] = media_id
            links = [_split_key(record["external_id"])] + [
                (link["source"], link["key"]) for link in record.get("external_links") or []
            ]
            await conn.execute(
                insert(ExternalLink)
                .values([{"media_id": media_id, "source_name": s, "external_key": k} for s, k in links])
                .on_conflict_do_nothing()
            )
        for record in records:
            for relation in record.get("relations") or []:
                source_id, target_id = ids[record["external_id"]], ids.get(relation["target"])
                if target_id is None:
                    continue
                relation_type = relation["type"]
                if relation_type in NON_CANONICAL_RELATIONS:
                    source_id, target_id = target_id, source_id
                    relation_type = INVERSE_RELATION[relation_type]
                await conn.execute(
                    insert(Relationship)
                    .values(
                        media_id=source_id,
                        related_media_id=target_id,
                        relation_type=relation_type,
                        notes=relation.get("notes"),
                        weight=relation.get("weight"),
                    )
                    .on_conflict_do_nothing()
                )
        return len(records)


async def catalog_is_empty(engine: AsyncEngine) -> bool:
    async with engine.connect() as conn:
        return (await conn.execute(select(Media.id).limit(1))).first() is None
