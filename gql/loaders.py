"""Per-request dataloaders. Each batch borrows its own pooled connection for one statement, so
concurrently running resolvers never share a connection (see db/engine.py)."""

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any, TypeVar

from aiodataloader import DataLoader
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from db import accounts as account_queries
from db import curation, identity
from db import lists as list_queries
from db import media as media_queries
from db import relations as relation_queries
from db import tracking as tracking_queries

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
    def __init__(self, engine: AsyncEngine, session_idle: dt.timedelta) -> None:
        # catalog
        self.media_by_id = batch_loader(engine, media_queries.media_by_ids)
        self.redirect_by_old_id = batch_loader(engine, identity.redirects_by_old_ids)
        # accounts
        self.user_by_id = batch_loader(engine, account_queries.users_by_ids)
        self.user_by_username = batch_loader(engine, account_queries.users_by_usernames)
        self.api_tokens_by_user_id = batch_loader(engine, account_queries.api_tokens_by_user_ids)
        self.api_token_by_id = batch_loader(engine, account_queries.api_tokens_by_ids)
        self.sessions_by_user_id = batch_loader(
            engine, partial(account_queries.sessions_by_user_ids, session_idle=session_idle)
        )
        self.session_by_id = batch_loader(
            engine, partial(account_queries.sessions_by_ids, session_idle=session_idle)
        )
        # tracking and lists
        self.entry_by_user_media = batch_loader(engine, tracking_queries.entries_by_keys)
        self.library_stats_by_user = batch_loader(engine, tracking_queries.stats_by_users)
        self.list_by_id = batch_loader(engine, list_queries.lists_by_ids)
        self.list_items_page = batch_loader(engine, list_queries.list_item_pages)
        self.list_item_count = batch_loader(engine, list_queries.list_item_counts)
        # catalog relations and stats
        self.external_links_by_media_id = batch_loader(engine, media_queries.external_links_by_media_ids)
        self.stats_by_media_id = batch_loader(engine, media_queries.stats_by_media_ids)
        self.relations_by_key = batch_loader(engine, relation_queries.relations_by_keys)
        self.graph_by_key = batch_loader(engine, relation_queries.graphs_by_keys)

        # curation
        self.revisions_by_media_id = batch_loader(engine, curation.revisions_by_media_ids)

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"no loader named {name}")


async def load_media(loaders: Loaders, media_id: uuid.UUID) -> Any:
    return await loaders.media_by_id.load(media_id)
