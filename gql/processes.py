"""The process model of `serve`: one parent process, N worker processes.

The parent owns what exists once per server: the embedded PostgreSQL cluster (started before the
workers, stopped after the last one has exited, by `cli.database`), the listening socket and the
rate limiter's shared memory. It spawns the workers and supervises them with uvicorn's supervisor:
a dead worker is replaced; on SIGTERM or SIGINT each worker stops accepting, drains its requests and
exits, then the parent returns. Each worker builds its own app, engine and connection pool. With one
worker, the app runs in the parent itself.

`Supervisor.checks` run in the parent every half second, beside the check of the workers: the place
for supervising anything else the parent owns.
"""

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from socket import socket
from typing import TYPE_CHECKING

import uvicorn
from uvicorn.supervisors import Multiprocess

from gql.config import Settings
from gql.limits import RateLimiter, rate_limiter
from gql.logs import configure_logging

if TYPE_CHECKING:
    from starlette.applications import Starlette

log = logging.getLogger("omnimediatrak")


def available_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@dataclass(frozen=True)
class WorkerApp:
    """Builds the app inside a worker (pickled to it when the worker is spawned)."""

    settings: Settings
    database_url: str
    limiter: RateLimiter | None

    def __call__(self) -> "Starlette":
        from gql.app import create_app

        configure_logging(self.settings)
        return create_app(self.settings, self.database_url, limiter=self.limiter)


class Supervisor(Multiprocess):
    def __init__(self, config: uvicorn.Config, sockets: list[socket], checks: Sequence[Callable[[], None]]):
        super().__init__(config, sockets)
        self.checks = list(checks)

    def keep_subprocess_alive(self) -> None:
        super().keep_subprocess_alive()
        if not self.should_exit.is_set():
            for check in self.checks:
                check()


def uvicorn_config(settings: Settings, app: WorkerApp, workers: int) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        log_config=None,
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=",".join(settings.trusted_proxies) or None,
        timeout_graceful_shutdown=10,
    )


def run_server(settings: Settings, database_url: str, checks: Sequence[Callable[[], None]] = ()) -> None:
    """Serve until SIGTERM/SIGINT; returns once every worker has drained and exited."""
    workers = settings.workers or available_cores()
    app = WorkerApp(settings, database_url, rate_limiter(settings.limits.rate_limit_per_minute))
    config = uvicorn_config(settings, app, workers)
    log.info("GraphQL at http://%s:%d/graphql (%d worker processes)", settings.host, settings.port, workers)
    if workers == 1:
        uvicorn.Server(config).run()
        return
    Supervisor(config, [config.bind_socket()], checks).run()
