"""The per-request context: settings, engine, the viewer, and fresh dataloaders."""

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from strawberry.types import Info as StrawberryInfo

from gql.auth import Viewer
from gql.config import Settings
from gql.loaders import Loaders

if TYPE_CHECKING:
    from gql.live import ChangeHub, LiveConnection


@dataclass
class Context:
    request: Request
    engine: AsyncEngine
    # The same pool in AUTOCOMMIT, for plain reads (db/engine.py).
    reads: AsyncEngine
    settings: Settings
    viewer: Viewer | None
    loaders: Loaders
    state: dict[str, Any] = field(default_factory=dict)
    # WebSocket connections only (`request` is then the WebSocket): the process's fan-out, and this
    # connection once `connection_init` has been accepted.
    hub: "ChangeHub | None" = None
    live: "LiveConnection | None" = None


Info = StrawberryInfo[Context, None]
