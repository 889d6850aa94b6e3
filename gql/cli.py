"""The `omnimediatrak` command: serve, migrate, ingest, create-admin, import-library, export-library."""

import argparse
import asyncio
import getpass
import logging
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from db import account_commands
from db.cluster import DATABASE_NAME, ClusterSupervisor, EmbeddedCluster, RunningAsRoot, asyncpg_url
from db.engine import make_engine
from db.ingest import DEFAULT_WRITERS, catalog_is_empty, ingest_file
from db.library_import.entry import DEFAULT_MERGE_POLICY, FORMATS, MERGE_POLICIES
from db.migrate import upgrade
from db.refusals import Refused
from gql.config import Settings
from gql.logs import configure_logging

log = logging.getLogger("omnimediatrak")


@contextmanager
def database(settings: Settings, supervise: bool = False) -> Iterator[str]:
    """The database every command uses: DATABASE_URL, else the embedded cluster in the data dir,
    restarted whenever it dies while `supervise`d (the server)."""
    if settings.database_url:
        yield asyncpg_url(settings.database_url)
        return
    cluster = EmbeddedCluster(
        settings.data_dir.resolve(),
        allow_root=settings.embedded_as_root,
        shared_buffers=settings.embedded_shared_buffers,
    )
    try:
        cluster.start()
    except OSError as exc:
        # An operator's mistake, not a defect: say what to fix instead of a traceback.
        raise SystemExit(
            f"omnimediatrak: cannot use the data dir {settings.data_dir}: {exc.strerror} ({exc.filename});"
            " choose a writable one with --data-dir or OMT_DATA_DIR"
        ) from exc
    supervisor = ClusterSupervisor(cluster) if supervise else None
    try:
        cluster.ensure_database(DATABASE_NAME)
        if supervisor is not None:
            supervisor.start()
        yield cluster.url(DATABASE_NAME)
    finally:
        if supervisor is not None:
            supervisor.stop()
        cluster.stop()


async def load_demo_catalog(url: str, catalog: Path) -> None:
    """Into an empty catalog only, through the ingestion pipeline (source `demo`)."""
    if not catalog.is_file():
        log.warning("no demo catalog at %s", catalog)
        return
    engine = make_engine(url)
    try:
        if await catalog_is_empty(engine):
            summary = await ingest_file(engine, catalog, source="demo")
            log.info("loaded the demo catalog: %d items (job %d)", summary.counts.inserted, summary.job_id)
    finally:
        await engine.dispose()


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


async def _create_admin(url: str, email: str, username: str, password: str) -> list[str]:
    """Create an admin account; the problems that prevented it, if any."""
    engine = make_engine(url)
    try:
        await account_commands.create_admin(engine, email, username, password)
    except Refused as refusal:
        return [one.message for one in refusal.refusals]
    finally:
        await engine.dispose()
    return []


def create_admin(settings: Settings, email: str, username: str, password: str | None) -> int:
    password = password if password is not None else getpass.getpass("Password for the new admin: ")
    with database(settings) as url:
        upgrade(url)
        problems = asyncio.run(_create_admin(url, email, username, password))
    for problem in problems:
        print(f"create-admin: {problem}", file=sys.stderr)
    if not problems:
        log.info("created admin %s", username)
    return 1 if problems else 0


def serve(settings: Settings, load_demo: bool) -> None:
    from gql.processes import run_server

    # uvicorn drains requests on SIGTERM/SIGINT, then re-raises the signal with the handlers found at
    # start; these turn it into SystemExit so `database()` still stops the embedded cluster (the
    # default SIGTERM action would kill the process and leave PostgreSQL running). With several
    # workers, the supervisor handles the signals and returns once they have exited.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    signal.signal(signal.SIGINT, _exit_cleanly)
    with database(settings, supervise=True) as url:
        upgrade(url)
        if load_demo:
            asyncio.run(load_demo_catalog(url, settings.demo_catalog))
        run_server(settings, url)


def main(argv: list[str] | None = None) -> int:
    try:
        return run(argv)
    except RunningAsRoot as refusal:
        print(f"omnimediatrak: {refusal}", file=sys.stderr)
        return 2


def run(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="omnimediatrak", description=__doc__)
    parser.add_argument("--data-dir", type=Path, help="embedded PostgreSQL data dir (default .data)")
    commands = parser.add_subparsers(dest="command", required=True)

    serve_parser = commands.add_parser("serve", help="run the GraphQL server")
    serve_parser.add_argument("--host")
    serve_parser.add_argument("--port", type=int)
    serve_parser.add_argument("--data-dir", type=Path, dest="sub_data_dir")
    serve_parser.add_argument("--no-demo", action="store_true", help="do not load the demo catalog")
    serve_parser.add_argument(
        "--workers", type=int, help="worker processes (default: OMT_WORKERS, else one per core)"
    )

    migrate_parser = commands.add_parser("migrate", help="apply database migrations up to head")
    migrate_parser.add_argument("--data-dir", type=Path, dest="sub_data_dir")

    admin_parser = commands.add_parser(
        "create-admin",
        help="create an admin account",
        description="Create an account with the admin role, which may curate the catalog.",
    )
    admin_parser.add_argument("--email", required=True, help="the admin's email address (unique)")
    admin_parser.add_argument(
        "--username", required=True, help="the admin's username (unique, for signing in)"
    )
    admin_parser.add_argument("--password", help="prompted for when left out (keeps it out of shell history)")
    admin_parser.add_argument(
        "--data-dir", type=Path, dest="sub_data_dir", help="embedded PostgreSQL data dir (default .data)"
    )

    ingest_parser = commands.add_parser("ingest", help="load a JSON Lines catalog (docs/ingestion.md)")
    ingest_parser.add_argument("file", type=Path)
    ingest_parser.add_argument("--source", help="name of the feed (default: the file name without extension)")
    ingest_parser.add_argument("--dry-run", action="store_true", help="validate and count, write nothing")
    ingest_parser.add_argument("--batch-size", type=int, help="lines per transaction (default 2000)")
    ingest_parser.add_argument("--resume", type=int, metavar="JOB", help="continue an interrupted job")
    ingest_parser.add_argument(
        "--writers",
        type=int,
        default=DEFAULT_WRITERS,
        help=f"database connections writing batches at the same time (default {DEFAULT_WRITERS})",
    )
    ingest_parser.add_argument(
        "--precedence",
        metavar="SOURCES",
        help="feed names, highest first, comma-separated (default: OMT_SOURCE_PRECEDENCE)",
    )
    ingest_parser.add_argument("--data-dir", type=Path, dest="sub_data_dir")

    import_parser = commands.add_parser(
        "import-library", help="import a user's library file (docs/import.md)"
    )
    import_parser.add_argument("file", type=Path)
    import_parser.add_argument("--user", required=True, help="the username whose library it is")
    import_parser.add_argument("--format", required=True, choices=FORMATS)
    import_parser.add_argument(
        "--merge-policy", choices=MERGE_POLICIES, help=f"default {DEFAULT_MERGE_POLICY} (docs/import.md)"
    )
    import_parser.add_argument("--data-dir", type=Path, dest="sub_data_dir")

    library_export_parser = commands.add_parser(
        "export-library", help="write a user's library as JSON or CSV"
    )
    library_export_parser.add_argument("--user", required=True)
    library_export_parser.add_argument("--format", choices=("json", "csv"), default="json")
    library_export_parser.add_argument("--out", type=Path, help="default: standard output")
    library_export_parser.add_argument("--data-dir", type=Path, dest="sub_data_dir")

    export_parser = commands.add_parser("export-schema", help="write the SDL to schema.graphql (or --out)")
    export_parser.add_argument("--out", type=Path, default=Path("schema.graphql"))

    args = parser.parse_args(argv)
    if getattr(args, "workers", None) is not None and args.workers < 1:
        parser.error("--workers must be at least 1")
    if args.command == "export-schema":
        from gql.schema import schema

        args.out.write_text(str(schema).strip() + "\n", encoding="utf-8")
        return 0
    settings = Settings.from_env()
    overrides: dict[str, object] = {}
    data_dir = getattr(args, "sub_data_dir", None) or args.data_dir
    if data_dir:
        overrides["data_dir"] = data_dir
    if getattr(args, "host", None):
        overrides["host"] = args.host
    if getattr(args, "port", None):
        overrides["port"] = args.port
    if getattr(args, "workers", None):
        overrides["workers"] = args.workers
    if overrides:
        import dataclasses

        settings = dataclasses.replace(settings, **overrides)  # type: ignore[arg-type]
    configure_logging(settings)

    if args.command == "serve":
        serve(settings, load_demo=not args.no_demo)
    elif args.command == "create-admin":
        return create_admin(settings, args.email, args.username, args.password)

    elif args.command == "ingest":
        from gql.ingest_command import EXIT_FAILED, IngestRequest, request_problem, run_ingest

        precedence = (
            settings.source_precedence
            if args.precedence is None
            else tuple(name.strip() for name in args.precedence.split(",") if name.strip())
        )
        request = IngestRequest(
            args.file, args.source, args.batch_size, args.dry_run, args.resume, args.writers, precedence
        )
        problem = request_problem(request)
        if problem is not None:
            log.error("%s", problem)
            return EXIT_FAILED
        with database(settings) as url:
            upgrade(url)
            return run_ingest(url, request)
    elif args.command in ("import-library", "export-library"):
        from gql import library_commands

        with database(settings) as url:
            upgrade(url)
            if args.command == "import-library":
                return library_commands.import_library(
                    url, args.user, args.format, args.file, args.merge_policy
                )
            return library_commands.export_library(url, args.user, args.format, args.out)
    elif args.command == "migrate":
        with database(settings) as url:
            upgrade(url)
            log.info("database migrated to head")
    return 0


if __name__ == "__main__":
    sys.exit(main())
