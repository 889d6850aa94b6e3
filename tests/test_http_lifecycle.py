"""The `serve` lifecycle: a clean exit on SIGTERM, and adoption of a cluster whose owner was killed."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from db.cluster import forget_dead_handles
from tests.server_process import free_port, wait_until_healthy


def test_sigterm_drains_and_exits_cleanly(database_url: str) -> None:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "OMT_PORT": str(port), "OMT_LOG_LEVEL": "INFO"}
    server = subprocess.Popen(
        [sys.executable, "-m", "gql.cli", "serve", "--no-demo"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until_healthy(port, server)
        server.send_signal(signal.SIGTERM)
        # 0, not -SIGTERM: the process unwound normally, so the embedded cluster would be stopped.
        assert server.wait(timeout=20) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert b"Finished server process" in (server.stderr.read() if server.stderr else b"")


def test_handles_of_dead_processes_are_forgotten(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    dead_pid = child.pid
    handles = tmp_path / ".handle_pids.json"
    handles.write_text(json.dumps([dead_pid, os.getpid()]))
    forget_dead_handles(tmp_path)
    assert json.loads(handles.read_text()) == [os.getpid()]
