"""The per-request context: settings, engine, the viewer, and fresh dataloaders."""

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import Response
from strawberry.types import Info as StrawberryInfo

from gql.auth import Viewer
from gql.config import Settings
from gql.loaders import Loaders


@dataclass
class Context:
    request: Request
    response: Response | None
    engine: AsyncEngine
    # The same pool in AUTOCOMMIT, for plain reads (db/engine.py).
    reads: AsyncEngine
    settings: Settings
    viewer: Viewer | None
    loaders: Loaders
    state: dict[str, Any] = field(default_factory=dict)


Info = StrawberryInfo[Context, None]
