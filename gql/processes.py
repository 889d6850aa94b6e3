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

import gc
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess
from uvicorn.supervisors.multiprocess import Process

from gql.config import Settings
from gql.limits import RateLimiter, rate_limiter
from gql.logs import configure_logging
from gql.slow_clients import TimedHttpToolsProtocol, set_read_timeouts

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
    parent_pid: int | None = None

    def __call__(self) -> "Starlette":
        from gql.app import create_app

        configure_logging(self.settings)
        if self.parent_pid is not None:
            stop_when_orphaned(self.parent_pid)
        set_read_timeouts(self.settings.header_timeout_seconds, self.settings.body_timeout_seconds)
        app = create_app(self.settings, self.database_url, limiter=self.limiter)
        # What exists now (modules, the schema, the app) lives as long as the process: keep it out of
        # the collector's scans, which otherwise walk all of it on every full collection. A request
        # allocates tens of thousands of objects, nearly all freed by reference counting: collecting
        # every 20,000 allocations instead of 700 leaves the cycles no longer. Together -15 % CPU per
        # depth-3 traversal (bench/README.md).
        gc.collect()
        gc.freeze()
        gc.set_threshold(20_000, 20, 20)
        return app


PARENT_CHECK_SECONDS = 1.0


def stop_when_orphaned(parent_pid: int) -> None:
    """A worker whose parent is gone (killed with SIGKILL: no chance to stop its workers) stops as on
    SIGTERM, draining its requests, rather than serving on without supervision and holding the port
    and its database connections. The kernel re-parents an orphan, so its parent pid changes."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_CHECK_SECONDS)
        log.warning("the parent process %s is gone; this worker stops", parent_pid)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


class Supervisor(Multiprocess):
    """uvicorn's supervisor, with each worker on its own listening socket (see `listening_sockets`);
    a replacement worker takes over the socket of the one it replaces. The number of workers is
    fixed: SIGTTIN/SIGTTOU change nothing."""

    def __init__(
        self,
        config: uvicorn.Config,
        worker_sockets: Sequence[list[socket.socket]],
        checks: Sequence[Callable[[], None]] = (),
    ) -> None:
        super().__init__(config, worker_sockets[0])
        self.worker_sockets = list(worker_sockets)
        self.checks = list(checks)

    def _start_worker(self, slot: int) -> Process:
        process = Process(self.config, self.worker_sockets[slot])
        process.start()
        return process

    def init_processes(self) -> None:
        self.processes = [self._start_worker(slot) for slot in range(self.processes_num)]

    def keep_subprocess_alive(self) -> None:
        if self.should_exit.is_set():
            return
        for slot, process in enumerate(self.processes):
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()  # hung, or dead already
            process.join()
            if process.exitcode == STARTUP_FAILURE:
                log.error("worker process %s failed to start; stopping", process.pid)
                self.should_exit.set()
                return
            if self.should_exit.is_set():
                return
            log.warning("worker process %s died; starting another", process.pid)
            self.processes[slot] = self._start_worker(slot)
        for check in self.checks:
            check()

    def restart_all(self) -> None:
        """SIGHUP: replace the workers one by one, each new one serving before the old one stops."""
        for slot, old in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            new = self._start_worker(slot)
            if not new.wait_until_ready(self.config.timeout_worker_healthcheck, self.should_exit):
                new.kill()
                new.join()
                log.error("worker process %s was not ready in time; keeping %s", new.pid, old.pid)
                return
            old.terminate()
            old.join()
            self.processes[slot] = new

    def handle_ttin(self) -> None:
        log.info("the number of worker processes is fixed (--workers)")

    def handle_ttou(self) -> None:
        log.info("the number of worker processes is fixed (--workers)")


def listening_sockets(config: uvicorn.Config, workers: int) -> list[list[socket.socket]]:
    """The listening sockets of each worker.

    On Linux, one socket per worker with SO_REUSEPORT, so the kernel spreads new connections
    evenly over the workers. With one socket shared by all, every idle worker wakes on a new
    connection and the first takes all that are waiting: 8 long-lived connections opened at once
    ended up 8/0 or 6/2 on two workers, leaving a core idle. A plain bind first makes a port in use
    (another server, or another reuse-port group) an error instead of a silent share.
    """
    if workers == 1 or not sys.platform.startswith("linux"):
        return [[config.bind_socket()]] * workers
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((config.host, config.port))
        except OSError as error:
            log.error("cannot listen on %s:%d: %s", config.host, config.port, error.strerror)
            raise SystemExit(1) from error
    sockets = []
    for _ in range(workers):
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((config.host, config.port))
        sock.listen(config.backlog)
        sock.set_inheritable(True)
        sockets.append([sock])
    return sockets


def uvicorn_config(settings: Settings, app: WorkerApp, workers: int) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        loop="uvloop",
        http=TimedHttpToolsProtocol,  # httptools with header and body read timeouts
        log_config=None,
        proxy_headers=False,  # the app applies OMT_TRUSTED_PROXIES itself (gql/app.py)
        timeout_graceful_shutdown=10,
        # Keep-alive: a peer that does not answer a ping in the interval is dropped. No permessage-deflate:
        # its zlib state was half the memory of an idle connection (bench/README.md), for small events.
        ws="websockets-sansio",
        ws_per_message_deflate=False,
        ws_ping_interval=settings.ws_ping_interval_seconds,
        ws_ping_timeout=settings.ws_ping_interval_seconds,
        ws_max_size=settings.limits.max_body_bytes,
    )


def run_server(settings: Settings, database_url: str, checks: Sequence[Callable[[], None]] = ()) -> None:
    """Serve until SIGTERM/SIGINT; returns once every worker has drained and exited."""
    workers = settings.workers or available_cores()
    limiter = rate_limiter(settings.limits.rate_limit_per_minute)
    app = WorkerApp(settings, database_url, limiter, parent_pid=os.getpid() if workers > 1 else None)
    config = uvicorn_config(settings, app, workers)
    log.info("GraphQL at http://%s:%d/graphql (%d worker processes)", settings.host, settings.port, workers)
    if workers == 1:
        uvicorn.Server(config).run()
        return
    Supervisor(config, listening_sockets(config, workers), checks).run()
