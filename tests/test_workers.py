"""`serve --workers 2` as a real server: both workers answer, the rate limit holds across them, a second
server on the same port is refused, SIGTERM drains both workers and the parent exits cleanly, and an
idle process stays small."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO

from tests.server_process import free_port, wait_until_healthy

PER_MINUTE = 6
IDLE_RSS_LIMIT_KB = 150 * 1024


class LogReader:
    """Collects the server's JSON log lines (stderr) as they come."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.entries: list[dict[str, object]] = []
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream: IO[bytes]) -> None:
        for line in stream:
            try:
                self.entries.append(json.loads(line))
            except ValueError:
                continue

    def pids_with(self, text: str) -> set[object]:
        return {entry["pid"] for entry in list(self.entries) if text in str(entry["message"])}


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - our own server over http
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def wait_for(condition, server: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert server.poll() is None, "server exited"
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


def test_two_workers_share_the_rate_limit_and_stop_cleanly(database_url: str) -> None:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "OMT_PORT": str(port),
        "OMT_LOG_FORMAT": "json",
        "OMT_LOG_LEVEL": "INFO",
        "OMT_RATE_LIMIT_PER_MINUTE": str(PER_MINUTE),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "gql.cli", "serve", "--no-demo", "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert server.stderr is not None
    log = LogReader(server.stderr)
    try:
        wait_until_healthy(port, server)
        wait_for(lambda: len(log.pids_with("Application startup complete")) == 2, server)
        workers = log.pids_with("Application startup complete")
        assert server.pid not in workers
        memory = {pid: rss_kb(int(str(pid))) for pid in (server.pid, *workers)}
        assert max(memory.values()) < IDLE_RSS_LIMIT_KB, memory

        url = f"http://127.0.0.1:{port}/graphql?query=%7B__typename%7D"
        statuses: list[int] = []
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=8) as pool:
            # Each request on its own connection; both workers accept from the shared socket.
            for _ in range(10):
                statuses += pool.map(status_of, [url] * 16)
                if log.pids_with('"GET /graphql') >= workers:
                    break
        elapsed = time.monotonic() - started
        wait_for(
            lambda: len([e for e in log.entries if "GET /graphql" in str(e["message"])]) == len(statuses),
            server,
        )
        assert log.pids_with('"GET /graphql') == workers, "both workers answer"
        assert set(statuses) == {200, 429}
        # One bucket for the client across both workers: its capacity plus what refilled meanwhile
        # (each worker on its own would allow twice the capacity).
        refilled = int(elapsed * PER_MINUTE / 60) + 1
        assert PER_MINUTE <= statuses.count(200) <= PER_MINUTE + refilled

        # Each worker listens on its own socket of a reuse-port group: a second server on the same
        # port must fail, not silently take a share of the connections.
        second = subprocess.run(
            [sys.executable, "-m", "gql.cli", "serve", "--no-demo", "--workers", "2"],
            env=env,
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert second.returncode == 1
        assert b"cannot listen on" in second.stderr

        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    log.thread.join(timeout=5)
    assert log.pids_with("Finished server process") == workers
    assert log.pids_with("Stopping parent process") == {server.pid}


def is_gone(pid: int) -> bool:
    try:
        state = next(
            line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("State:")
        )
    except FileNotFoundError:
        return True
    return "Z" in state.split()[1]  # exited; whoever adopted it has not reaped it yet


def test_workers_stop_when_the_parent_is_killed(database_url: str) -> None:
    """SIGKILL gives the parent no chance to stop its workers: each notices and stops by itself,
    instead of serving on unsupervised with the port and its database connections."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "OMT_PORT": str(port), "OMT_LOG_FORMAT": "json"}
    server = subprocess.Popen(
        [sys.executable, "-m", "gql.cli", "serve", "--no-demo", "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert server.stderr is not None
    log = LogReader(server.stderr)
    workers: set[object] = set()
    try:
        wait_until_healthy(port, server)
        wait_for(lambda: len(log.pids_with("Application startup complete")) == 2, server)
        workers = log.pids_with("Application startup complete")
        server.kill()
        server.wait()
        deadline = time.monotonic() + 30
        while not all(is_gone(int(str(pid))) for pid in workers):
            assert time.monotonic() < deadline, "the workers outlived their parent"
            time.sleep(0.1)
    finally:
        for pid in workers:
            if not is_gone(int(str(pid))):
                os.kill(int(str(pid)), signal.SIGKILL)
    log.thread.join(timeout=5)
    assert log.pids_with("is gone; this worker stops") == workers
