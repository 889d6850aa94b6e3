"""The ASGI application: /graphql (GraphQL over HTTP, GraphiQL in development), /healthz, /readyz."""

import asyncio
import contextlib
import datetime as dt
import json
import logging
import uuid
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import orjson
from cross_web import HTTPException
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute, request_response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData, process_result
from strawberry.http.parse_content_type import parse_content_type
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.unset import UNSET
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from db.accounts import credential_for_secret
from db.availability import is_database_unavailable
from db.change_feed import ChangeListener
from db.engine import PoolSettings, StatementStats, current_stats, make_engine, reads_of
from db.housekeeping import interrupt_abandoned_imports, prune_auth_history_once
from db.migrate import head_revision
from gql.auth import Viewer, bearer_secret
from gql.commands import RETRY_AFTER_SECONDS as THROTTLED_WAIT
from gql.config import Settings
from gql.context import Context
from gql.errors import present_all
from gql.library_export import export_library
from gql.library_import import LibraryImportRunner
from gql.limits import BodySizeLimit, RateLimit, RateLimiter, rate_limiter
from gql.live import ChangeHub
from gql.loaders import Loaders
from gql.outage import RETRY_AFTER_SECONDS, DatabaseAvailability, describe, service_unavailable_body
from gql.request_state import current_request_id
from gql.schema import build_schema, document_cache
from gql.websocket import LiveTransportHandler

log = logging.getLogger("omnimediatrak")

STATIC_DIR = Path(__file__).resolve().parent / "static"
GRAPHIQL_ASSETS_PATH = "/graphiql-assets"
GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
# A header no HTML form can send: a browser must ask (CORS preflight) before a cross-site page sends it,
# which is the CSRF guard for multipart uploads (the one content type of them a form can send).
PREFLIGHT_HEADERS = ("apollo-require-preflight", "x-apollo-operation-name")
GRAPHIQL_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def prefers_graphql_response_json(accept: str | None) -> bool:
    """Content negotiation of GraphQL over HTTP: application/json unless the client asks for
    application/graphql-response+json at least as strongly."""
    graphql_json = plain_json = 0.0
    for entry in (accept or "").split(","):
        media_type, *parameters = (part.strip() for part in entry.split(";"))
        quality = 1.0
        for parameter in parameters:
            key, _, value = parameter.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        media_type = media_type.lower()
        if media_type == GRAPHQL_RESPONSE_JSON:
            graphql_json = max(graphql_json, quality)
        elif media_type in ("application/json", "application/*", "*/*"):
            plain_json = max(plain_json, quality)
    return graphql_json > 0 and graphql_json >= plain_json


def is_request_error(result: ExecutionResult) -> bool:
    """True when the operation never started executing (parse, validation, limits, variables)."""
    if isinstance(result, PreExecutionError):
        return True
    return result.data is None and bool(result.errors) and all(e.path is None for e in result.errors or ())


HTTP_ERROR_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMITED",
    503: "SERVICE_UNAVAILABLE",
}


def lower_media_type(scope: Scope) -> None:
    """Media types are case-insensitive (RFC 9110): `APPLICATION/JSON` is `application/json`."""
    headers = []
    for name, value in scope["headers"]:
        if name == b"content-type":
            media_type, semicolon, parameters = value.partition(b";")
            value = media_type.strip().lower() + semicolon + parameters
        headers.append((name, value))
    scope["headers"] = headers


def reject_nonfinite(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


class HTTPError(HTTPException):
    def __init__(
        self,
        status_code: int,
        reason: str,
        headers: Mapping[str, str] | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(status_code, reason)
        self.headers = dict(headers or {})
        self.code = code


def invalid_token() -> HTTPError:
    """RFC 6750: a credential was sent and does not work (unknown, expired, revoked or malformed)."""
    return HTTPError(
        401,
        "The bearer token is invalid, expired or revoked; sign in again",
        {"WWW-Authenticate": 'Bearer error="invalid_token"'},
        code="UNAUTHENTICATED",
    )


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
    """GraphQL over HTTP: POST application/json, GET for queries only, application/graphql-response+json
    (400 when the operation could not start) or application/json (200), errors as JSON bodies.
    Subscriptions over a WebSocket (graphql-transport-ws) at the same path (gql/websocket.py)."""

    def __init__(
        self, settings: Settings, engine: AsyncEngine, availability: DatabaseAvailability, hub: ChangeHub
    ) -> None:
        self.documents = document_cache(settings.limits)
        limits = settings.limits
        super().__init__(
            build_schema(
                settings.limits,
                expose_db_stats=not settings.is_production,
                documents=self.documents,
                introspection=settings.allows_introspection,
            ),
            graphql_ide=None if settings.is_production else "graphiql",
            allow_queries_via_get=True,
            multipart_uploads_enabled=True,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=dt.timedelta(seconds=limits.ws_init_timeout_seconds),
            max_subscriptions_per_connection=limits.ws_subscriptions_per_connection,
            # Browsers apply no CORS to WebSockets: the same origins as the HTTP CORS configuration.
            allowed_origins=settings.cors_origins,
        )
        self.hub = hub
        handler = type("Handler", (LiveTransportHandler,), {"authenticate": staticmethod(self.authenticate)})
        self.graphql_transport_ws_handler_class = handler
        self.settings = settings
        self.engine = engine
        self.availability = availability
        self.reads = reads_of(engine)
        self.graphiql_page = (STATIC_DIR / "graphiql.html").read_text(encoding="utf-8")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        lower_media_type(scope)
        request = Request(scope, receive)
        try:
            response = await self.run(request)
        except HTTPException as error:
            code = getattr(error, "code", None) or HTTP_ERROR_CODES.get(error.status_code, "BAD_REQUEST")
            log.log(
                logging.WARNING if error.status_code >= 500 else logging.INFO,
                "%s (request %s): HTTP %d %s",
                "refused" if error.status_code >= 500 else "client error",
                current_request_id.get(),
                error.status_code,
                code,
            )
            response = self.error_response(
                request,
                error.status_code,
                {"message": error.reason, "extensions": {"code": code}},
                getattr(error, "headers", None),
            )
        except Exception as error:
            # Outside execution (get_context's credential lookup, ...), so MaskUnexpectedErrors never saw it.
            if is_database_unavailable(error):
                self.availability.failed(error)
                response = self.error_response(
                    request, 503, service_unavailable_body(), {"Retry-After": str(RETRY_AFTER_SECONDS)}
                )
            else:
                request_id = current_request_id.get()
                log.exception("unexpected error outside execution (request %s)", request_id)
                masked = {
                    "message": f"Internal server error (request id {request_id})",
                    "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
                }
                response = self.error_response(request, 500, masked)
        await response(scope, receive, send)

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        if request.scope["type"] == "websocket":
            return await super().run(request, context, root_value)
        if request.method == "POST":
            content_type, _ = parse_content_type(request.headers.get("content-type", ""))
            if content_type == "multipart/form-data":
                if not any(request.headers.get(name) for name in PREFLIGHT_HEADERS):
                    raise HTTPError(
                        415,
                        "Send GraphQL requests as POST with Content-Type: application/json; multipart "
                        "requests (file uploads) must carry the Apollo-Require-Preflight header",
                    )
            elif content_type != "application/json":
                # Also the CSRF guard: a cross-site form can send only urlencoded, multipart or text/plain.
                raise HTTPError(415, "Send GraphQL requests as POST with Content-Type: application/json")
        response = await super().run(request, context, root_value)
        database_error = getattr(request.state, "database_error", None)
        if database_error is not None:
            self.availability.failed(database_error)
            response.status_code = 503
            response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        elif getattr(request.state, "graphql_result", False) and prefers_graphql_response_json(
            request.headers.get("accept")
        ):
            response.headers["content-type"] = GRAPHQL_RESPONSE_JSON
            if request.state.graphql_request_error:
                response.status_code = 400
        return response

    def encode_json(self, data: object) -> str:
        """orjson: under a tenth of the json module's time for a page of results. A str still, as the
        WebSocket transport sends text frames of it; an integer beyond 64 bits (in a JSON value)
        falls back to the json module."""
        try:
            return orjson.dumps(data).decode()
        except TypeError:
            return super().encode_json(data)  # type: ignore[return-value]

    def parse_json(self, data: str | bytes) -> Any:
        """The body as JSON, or 400 saying what is wrong with it (never a 500)."""
        try:
            text = data.decode("utf-8") if isinstance(data, bytes) else data
        except UnicodeDecodeError as exc:
            raise HTTPError(400, "The request body is not valid UTF-8") from exc
        try:
            parsed = json.loads(text, parse_constant=reject_nonfinite)
        except RecursionError as exc:
            raise HTTPError(400, "The request body is nested too deeply") from exc
        except ValueError as exc:
            raise HTTPError(400, "Unable to parse request body as JSON") from exc
        if not isinstance(parsed, dict | list):  # a list is a batch, refused with its own message
            raise HTTPError(400, 'Expected a JSON object such as {"query": "{ viewer { id } }"}')
        return parsed

    def should_render_graphql_ide(self, request: Any) -> bool:
        return (
            self.graphql_ide is not None
            and request.method == "GET"
            and request.query_params.get("query") is None
            and "text/html" in request.headers.get("accept", "")
        )

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(
            self.graphiql_page,
            headers={"Content-Security-Policy": GRAPHIQL_CSP, "X-Content-Type-Options": "nosniff"},
        )

    async def execute_single(
        self,
        request: Request,
        request_adapter: Any,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        if not isinstance(request_data.operation_name, str | None):
            raise HTTPError(400, "`operationName` must be a string or null")
        try:
            result = await super().execute_single(
                request, request_adapter, sub_response, context, root_value, request_data
            )
        except HTTPException as error:
            if request_adapter.method == "GET" and isinstance(error.__cause__, InvalidOperationTypeError):
                raise HTTPError(
                    405, "Only queries may be sent with GET; use POST", {"Allow": "POST"}
                ) from error
            raise
        throttled_wait = context.state.get(THROTTLED_WAIT)
        if throttled_wait is not None:
            # A command refused a throttled caller (a RATE_LIMITED userError): say so in HTTP too.
            sub_response.status_code = 429
            sub_response.headers["Retry-After"] = str(throttled_wait)
        return result

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        if result.errors:
            # Errors raised outside the operation (by an extension, say) never met MaskUnexpectedErrors.
            result.errors = present_all(result.errors)
        response_data = process_result(result)
        request.state.graphql_result = True
        request.state.graphql_request_error = is_request_error(result)
        if request.state.graphql_request_error:
            # The GraphQL spec: no `data` entry when execution did not start.
            response_data.pop("data", None)
        return response_data

    def error_response(
        self,
        request: Request,
        status_code: int,
        error: dict[str, Any],
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        media_type = (
            GRAPHQL_RESPONSE_JSON
            if prefers_graphql_response_json(request.headers.get("accept"))
            else "application/json"
        )
        return Response(
            json.dumps({"errors": [error]}), status_code=status_code, media_type=media_type, headers=headers
        )

    async def authenticate(self, secret: str) -> Viewer | None:
        """The viewer of a bearer secret, or None when it does not work (any more)."""
        session_idle = dt.timedelta(days=self.settings.session_idle_days)
        async with self.reads.connect() as conn:
            credential = await credential_for_secret(conn, secret, session_idle)
        return None if credential is None else Viewer.from_credential(credential)

    async def get_context(self, request: Any, response: Any) -> Context:
        session_idle = dt.timedelta(days=self.settings.session_idle_days)
        if request.scope["type"] == "websocket":
            # Signed in by connection_init (gql/websocket.py); loaders renewed for every event.
            return Context(
                request=request,
                engine=self.engine,
                reads=self.reads,
                settings=self.settings,
                viewer=None,
                loaders=Loaders(self.reads, session_idle),
                hub=self.hub,
            )
        if not self.settings.is_production:
            current_stats.set(StatementStats())
        viewer = None
        authorization = request.headers.get("authorization")
        if authorization:
            secret = bearer_secret(authorization)
            credential = None
            if secret is not None:
                # A SELECT, and at most hourly an UPDATE of the last use (db/accounts.py), each atomic
                # on its own: no BEGIN and COMMIT around them.
                async with self.reads.connect() as conn:
                    credential = await credential_for_secret(conn, secret, session_idle)
            if credential is None:
                raise invalid_token()
            viewer = Viewer.from_credential(credential)
        return Context(
            request=request,
            engine=self.engine,
            reads=self.reads,
            settings=self.settings,
            viewer=viewer,
            loaders=Loaders(self.reads, session_idle),
        )


HOUSEKEEPING_INTERVAL_SECONDS = 3600


async def keep_house(engine: AsyncEngine, keep: dt.timedelta) -> None:
    """At start and then hourly: the library imports of server processes that died are marked
    interrupted, and sign-in history older than `keep` goes (db/housekeeping.py); every worker process
    runs this loop, one at a time prunes."""
    while True:
        try:
            abandoned = await interrupt_abandoned_imports(engine)
            if abandoned:
                log.warning(
                    "marked %d library imports of a stopped server process interrupted", len(abandoned)
                )
            pruned = await prune_auth_history_once(engine, keep)
            if pruned and (pruned.login_events or pruned.sessions or pruned.api_tokens):
                log.info(
                    "pruned sign-in history older than %d days: %d login events, %d sessions, %d API tokens",
                    keep.days,
                    pruned.login_events,
                    pruned.sessions,
                    pruned.api_tokens,
                )
        except Exception as error:
            if not is_database_unavailable(error) and not isinstance(error, SQLAlchemyError):
                raise
            log.warning(
                "could not look for abandoned imports or prune sign-in history (%s); trying again in an hour",
                describe(error),
                exc_info=not is_database_unavailable(error),
            )
        await asyncio.sleep(HOUSEKEEPING_INTERVAL_SECONDS)


def create_app(
    settings: Settings,
    database_url: str,
    engine: AsyncEngine | None = None,
    limiter: RateLimiter | None = None,
) -> Starlette:
    """`limiter`: the one shared by the workers of a multi-process server (gql/processes.py)."""
    engine = engine or make_engine(
        database_url,
        PoolSettings(
            size=settings.db_pool_size,
            overflow=settings.db_pool_overflow,
            timeout_seconds=settings.db_pool_timeout_seconds,
            statement_timeout_ms=settings.statement_timeout_ms,
        ),
    )
    availability = DatabaseAvailability(engine)
    reads = reads_of(engine)
    session_idle = dt.timedelta(days=settings.session_idle_days)

    async def credential_works(secret: str) -> bool:
        async with reads.connect() as conn:
            return await credential_for_secret(conn, secret, session_idle) is not None

    hub = ChangeHub(
        settings.limits.ws_connections_per_client,
        settings.limits.ws_queue_size,
        credential_works,
        settings.ws_credential_recheck_seconds,
    )
    # The engine's URL: a test may pass an engine of its own beside a placeholder database_url.
    listener = ChangeListener(engine.url.render_as_string(hide_password=False), hub.publish, hub.gap)
    hub.listening = listener.listening
    graphql = GraphQLView(settings, engine, availability, hub)
    expected_revision = head_revision()

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        try:
            async with reads_of(engine).connect() as conn:
                revision = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
        except Exception as error:
            if not is_database_unavailable(error) and not isinstance(error, SQLAlchemyError):
                raise
            availability.failed(error)
            return JSONResponse(
                {"status": "unavailable", "reason": "database unreachable"},
                status_code=503,
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        availability.back()
        if revision != expected_revision:
            return JSONResponse(
                {"status": "unavailable", "reason": f"database at {revision}, expected {expected_revision}"},
                status_code=503,
            )
        return JSONResponse({"status": "ready"})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        housekeeping = asyncio.create_task(keep_house(engine, dt.timedelta(days=settings.auth_history_days)))
        hub.start()
        listener.start()
        yield
        # uvicorn has closed the WebSockets it serves by now (1012, service restart); any left go too.
        hub.close_all(1001, "Server shutting down; reconnect")
        await listener.stop()
        await hub.stop()
        await library_imports.stop()
        housekeeping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await housekeeping
        await availability.close()
        await engine.dispose()

    middleware = [Middleware(RequestIdMiddleware)]
    if settings.trusted_proxies:
        # In the app rather than uvicorn's option, so the ASGI app alone behaves as served.
        middleware.insert(0, Middleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.trusted_proxies)))
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "Content-Type", "Apollo-Require-Preflight"],
                expose_headers=["X-Request-ID", "Retry-After"],
                max_age=600,
            )
        )
    limiter = limiter or rate_limiter(settings.limits.rate_limit_per_minute)
    limited_graphql = RateLimit(
        BodySizeLimit(graphql, settings.limits.max_body_bytes, settings.limits.max_upload_bytes), limiter
    )
    library_imports = LibraryImportRunner(engine)
    routes: list[BaseRoute] = [
        Route("/graphql", limited_graphql, methods=["GET", "POST"]),
        # Each handshake costs a credential lookup at connection_init: counted like a request.
        WebSocketRoute("/graphql", RateLimit(graphql, limiter)),
        Route(
            "/export/library.{format:str}",
            RateLimit(request_response(export_library), limiter),
            methods=["GET"],
        ),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
    ]
    if not settings.is_production:
        routes.append(
            Mount(
                GRAPHIQL_ASSETS_PATH, StaticFiles(directory=STATIC_DIR / "graphiql"), name="graphiql-assets"
            )
        )
    app = Starlette(
        routes=routes,
        middleware=middleware,
        lifespan=lifespan,
    )
    app.state.engine = engine
    app.state.availability = availability
    app.state.documents = graphql.documents
    app.state.settings = settings
    app.state.library_imports = library_imports
    app.state.hub = hub
    app.state.change_listener = listener
    return app
