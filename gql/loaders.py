"""Per-request dataloaders. Each batch borrows its own pooled connection for one statement, so
concurrently running resolvers never share a connection (see db/engine.py)."""

import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from aiodataloader import DataLoader
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from db import curation
from db import media as media_queries

K = TypeVar("K")
V = TypeVar("V")


def batch_loader(
    engine: AsyncEngine, fetch: Callable[[AsyncConnection, Sequence[K]], Awaitable[Sequence[V]]]
) -> "DataLoader[K, V]":
    async def load(keys: list[K]) -> list[V]:
        async with engine.connect() as conn:
            return list(await fetch(conn, keys))

    return DataLoader(load, max_batch_size=1000)


class Loaders:
    def __init__(self, engine: AsyncEngine) -> None:
        self.media_by_id = batch_loader(engine, media_queries.media_by_ids)
        # curation
        self.revisions_by_media_id = batch_loader(engine, curation.revisions_by_media_ids)

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"no loader named {name}")


async def load_media(loaders: Loaders, media_id: uuid.UUID) -> Any:
    return await loaders.media_by_id.load(media_id)
