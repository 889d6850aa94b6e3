"""The ASGI application: /graphql, /healthz, /readyz."""

import contextlib
import datetime as dt
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.asgi import GraphQL

from db.accounts import credential_for_secret
from db.engine import PoolSettings, StatementStats, current_stats, make_engine
from db.migrate import head_revision
from gql.auth import Viewer, bearer_secret
from gql.config import Settings
from gql.context import Context
from gql.loaders import Loaders
from gql.request_state import current_request_id
from gql.schema import build_schema

log = logging.getLogger("omnimediatrak")


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex[:16]
        current_request_id.set(request_id)

        async def send_with_id(message: Any) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        await self.app(scope, receive, send_with_id)


class GraphQLView(GraphQL[Context, None]):
    def __init__(self, settings: Settings, engine: AsyncEngine) -> None:
        super().__init__(
            build_schema(settings.limits, expose_db_stats=not settings.is_production),
            graphql_ide=None if settings.is_production else "graphiql",
            allow_queries_via_get=True,
        )
        self.settings = settings
        self.engine = engine

    async def get_context(self, request: Any, response: Any) -> Context:
        if not self.settings.is_production:
            current_stats.set(StatementStats())
        viewer = None
        secret = bearer_secret(request.headers.get("authorization"))
        if secret is not None:
            async with self.engine.begin() as conn:
                credential = await credential_for_secret(
                    conn, secret, dt.timedelta(days=self.settings.session_idle_days)
                )
            viewer = None if credential is None else Viewer.from_credential(credential)
        return Context(
            request=request,
            response=response,
            engine=self.engine,
            settings=self.settings,
            viewer=viewer,
            loaders=Loaders(self.engine),
        )


def create_app(settings: Settings, database_url: str, engine: AsyncEngine | None = None) -> Starlette:
    engine = engine or make_engine(
        database_url,
        PoolSettings(
            size=settings.db_pool_size,
            overflow=settings.db_pool_overflow,
            timeout_seconds=settings.db_pool_timeout_seconds,
            statement_timeout_ms=settings.statement_timeout_ms,
        ),
    )
    graphql = GraphQLView(settings, engine)
    expected_revision = head_revision()

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        try:
            async with engine.connect() as conn:
                revision = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
        except SQLAlchemyError:
            return JSONResponse({"status": "unavailable", "reason": "database unreachable"}, status_code=503)
        if revision != expected_revision:
            return JSONResponse(
                {"status": "unavailable", "reason": f"database at {revision}, expected {expected_revision}"},
                status_code=503,
            )
        return JSONResponse({"status": "ready"})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await engine.dispose()

    middleware = [Middleware(RequestIdMiddleware)]
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "Content-Type"],
                max_age=600,
            )
        )
    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
        ],
        middleware=middleware,
        lifespan=lifespan,
    )
    app.state.engine = engine
    app.state.settings = settings
    return app
