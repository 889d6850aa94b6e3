"""GET /export/library.json and /export/library.csv: the signed-in user's own library as a file.

The bearer credential decides whose library it is; nothing in the request can name another user,
so an admin too gets only their own."""

import datetime as dt

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from db.library_export import export_csv, export_for_secret
from gql.auth import bearer_secret
from gql.config import Settings
from gql.permissions import READ

MEDIA_TYPES = {"json": "application/json", "csv": "text/csv; charset=utf-8"}


def _unauthenticated() -> Response:
    return JSONResponse(
        {"errors": [{"message": "Sign in first", "extensions": {"code": "UNAUTHENTICATED"}}]},
        status_code=401,
        headers={"WWW-Authenticate": "Bearer"},
    )


async def export_library(request: Request) -> Response:
    file_format = request.path_params["format"]
    if file_format not in MEDIA_TYPES:
        return JSONResponse({"errors": [{"message": "Not found"}]}, status_code=404)
    settings: Settings = request.app.state.settings
    secret = bearer_secret(request.headers.get("authorization"))
    if secret is None:
        return _unauthenticated()
    now = dt.datetime.now(dt.UTC)
    document = await export_for_secret(
        request.app.state.engine,
        secret,
        dt.timedelta(days=settings.session_idle_days),
        now,
        lambda credential: READ in credential.scopes,
    )
    if document is None:
        return _unauthenticated()
    body = orjson.dumps(document) if file_format == "json" else export_csv(document).encode()
    name = f"omnimediatrak-library-{now:%Y%m%d}.{file_format}"
    return Response(
        body,
        media_type=MEDIA_TYPES[file_format],
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )
