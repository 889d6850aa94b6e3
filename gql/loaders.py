"""Per-request dataloaders. Each batch borrows its own pooled connection (AUTOCOMMIT: no BEGIN and
ROLLBACK around the statement) for one statement, so concurrently running resolvers never share a
connection (see db/engine.py)."""

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable, Sequence
from functools import cached_property, partial
from typing import Concatenate, ParamSpec, TypeVar

from aiodataloader import DataLoader
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import PoolProxiedConnection

from db import accounts as account_queries
from db import curation, identity
from db import lists as list_queries
from db import media as media_queries
from db import relations as relation_queries
from db import tracking as tracking_queries
from db.accounts import ApiTokenRow, SessionRow, UserRow
from db.direct import pooled_connection
from db.keyset import Page
from db.library_import import jobs as library_import_jobs
from db.media_rows import EntryRow, ExternalLinkRow, LibraryRow, MediaRow, RelationRow

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")
P = ParamSpec("P")


def batch_loader(
    engine: AsyncEngine, fetch: Callable[[AsyncConnection, Sequence[K]], Awaitable[Sequence[V]]]
) -> DataLoader[K, V]:
    async def load(keys: list[K]) -> list[V]:
        async with engine.connect() as conn:
            return list(await fetch(conn, keys))

    return DataLoader(load, max_batch_size=1000)


def direct_loader(
    engine: AsyncEngine, fetch: Callable[[PoolProxiedConnection, Sequence[K]], Awaitable[Sequence[V]]]
) -> DataLoader[K, V]:
    """For batch functions that run only direct statements (db/direct.py)."""

    async def load(keys: list[K]) -> list[V]:
        async with pooled_connection(engine) as conn:
            return list(await fetch(conn, keys))

    return DataLoader(load, max_batch_size=1000)


class Loaders:
    """Each loader is made on first use: a request needs a few of them, and making all of them
    cost a noticeable part of a point lookup."""

    def __init__(self, engine: AsyncEngine, session_idle: dt.timedelta) -> None:
        self.engine = engine
        self.session_idle = session_idle

    async def read(
        self,
        fetch: Callable[Concatenate[AsyncConnection, P], Awaitable[T]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """A read that is no batch (a top-level page, its count, a filter menu), on the loaders' path:
        its own pooled AUTOCOMMIT connection, so resolvers never open one. Not cached: a subscription
        rereads the same key after every change."""
        async with self.engine.connect() as conn:
            return await fetch(conn, *args, **kwargs)

    # catalog
    @cached_property
    def media_by_id(self) -> DataLoader[uuid.UUID, MediaRow | None]:
        return direct_loader(self.engine, media_queries.media_by_ids)

    @cached_property
    def redirect_by_old_id(self) -> DataLoader[uuid.UUID, uuid.UUID | None]:
        return batch_loader(self.engine, identity.redirects_by_old_ids)

    # accounts
    @cached_property
    def user_by_id(self) -> DataLoader[uuid.UUID, UserRow | None]:
        return batch_loader(self.engine, account_queries.users_by_ids)

    @cached_property
    def user_by_username(self) -> DataLoader[str, UserRow | None]:
        return batch_loader(self.engine, account_queries.users_by_usernames)

    @cached_property
    def api_tokens_by_user_id(self) -> DataLoader[uuid.UUID, list[ApiTokenRow]]:
        return batch_loader(self.engine, account_queries.api_tokens_by_user_ids)

    @cached_property
    def api_token_by_id(self) -> DataLoader[uuid.UUID, ApiTokenRow | None]:
        return batch_loader(self.engine, account_queries.api_tokens_by_ids)

    @cached_property
    def sessions_by_user_id(self) -> DataLoader[uuid.UUID, list[SessionRow]]:
        return batch_loader(
            self.engine, partial(account_queries.sessions_by_user_ids, session_idle=self.session_idle)
        )

    @cached_property
    def session_by_id(self) -> DataLoader[uuid.UUID, SessionRow | None]:
        return batch_loader(
            self.engine, partial(account_queries.sessions_by_ids, session_idle=self.session_idle)
        )

    # tracking and lists
    @cached_property
    def entry_by_user_media(self) -> DataLoader[tuple[uuid.UUID, uuid.UUID], EntryRow | None]:
        return batch_loader(self.engine, tracking_queries.entries_by_keys)

    @cached_property
    def library_stats_by_user(self) -> DataLoader[uuid.UUID, tracking_queries.LibraryStats]:
        return batch_loader(self.engine, tracking_queries.stats_by_users)

    @cached_property
    def library_page(self) -> DataLoader[tracking_queries.LibraryRequest, Page[LibraryRow]]:
        return batch_loader(self.engine, tracking_queries.library_pages)

    @cached_property
    def library_count(self) -> DataLoader[tracking_queries.LibraryRequest, int]:
        return batch_loader(self.engine, tracking_queries.library_counts)

    @cached_property
    def lists_page(self) -> DataLoader[list_queries.ListsRequest, Page[list_queries.UserListRow]]:
        return direct_loader(self.engine, list_queries.list_pages_of_owners)

    @cached_property
    def lists_count(self) -> DataLoader[list_queries.ListsRequest, int]:
        return batch_loader(self.engine, list_queries.list_counts_of_owners)

    @cached_property
    def list_by_id(self) -> DataLoader[uuid.UUID, list_queries.UserListRow | None]:
        return batch_loader(self.engine, list_queries.lists_by_ids)

    @cached_property
    def list_items_page(self) -> DataLoader[list_queries.ItemsRequest, Page[list_queries.ListItemRow]]:
        return batch_loader(self.engine, list_queries.list_item_pages)

    @cached_property
    def list_item_count(self) -> DataLoader[list_queries.ItemsRequest, int]:
        return batch_loader(self.engine, list_queries.list_item_counts)

    # catalog relations and stats
    @cached_property
    def external_links_by_media_id(self) -> DataLoader[uuid.UUID, list[ExternalLinkRow]]:
        return batch_loader(self.engine, media_queries.external_links_by_media_ids)

    @cached_property
    def stats_by_media_id(self) -> DataLoader[uuid.UUID, media_queries.MediaStats]:
        return batch_loader(self.engine, media_queries.stats_by_media_ids)

    @cached_property
    def relations_by_key(self) -> DataLoader[relation_queries.RelationKey, list[RelationRow]]:
        return direct_loader(self.engine, relation_queries.relations_by_keys)

    @cached_property
    def graph_by_key(self) -> DataLoader[relation_queries.GraphKey, relation_queries.Graph]:
        return batch_loader(self.engine, relation_queries.graphs_by_keys)

    # library imports
    @cached_property
    def library_import_job_by_id(self) -> DataLoader[uuid.UUID, library_import_jobs.JobRow | None]:
        return batch_loader(self.engine, library_import_jobs.jobs_by_ids)

    @cached_property
    def library_imports_page(
        self,
    ) -> DataLoader[library_import_jobs.JobsRequest, Page[library_import_jobs.JobRow]]:
        return batch_loader(self.engine, library_import_jobs.jobs_pages)

    @cached_property
    def library_import_count(self) -> DataLoader[uuid.UUID, int]:
        return batch_loader(self.engine, library_import_jobs.job_counts)

    @cached_property
    def import_problems_page(
        self,
    ) -> DataLoader[library_import_jobs.ProblemsRequest, Page[library_import_jobs.ProblemRow]]:
        return batch_loader(self.engine, library_import_jobs.problems_pages)

    # curation
    @cached_property
    def revisions_by_media_id(self) -> DataLoader[uuid.UUID, list[curation.RevisionRow]]:
        return batch_loader(self.engine, curation.revisions_by_media_ids)
