"""`serve` with the embedded cluster supervises it: kill -9 of the postmaster under load gives 503s
with Retry-After while it is down, the server is ready again by itself, and no acknowledged write is
lost. Only this test's own cluster (its own data dir) is killed."""

import asyncio
import collections
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import httpx

from tests.conftest import embedded_base_dir
from tests.server_process import ServerProcess, running_server

REGISTER = """
mutation($input: RegisterInput!) { register(input: $input) { token userErrors { code } } }"""
CREATE_LIST = """
mutation($input: CreateListInput!) { createList(input: $input) { list { id } userErrors { code } } }"""
SEARCH = "{ searchMedia { totalCount } }"


class Load:
    """Writes (createList, one name each) and reads in threads; every answer is recorded."""

    def __init__(self, server: ServerProcess, token: str) -> None:
        self.server = server
        self.token = token
        self.acknowledged: list[str] = []
        self.statuses: collections.Counter[int] = collections.Counter()
        self.missing_retry_after = 0
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._write), threading.Thread(target=self._read)]

    def __enter__(self) -> "Load":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join()

    def _record(self, response: httpx.Response) -> None:
        self.statuses[response.status_code] += 1
        if response.status_code == 503 and (
            "retry-after" not in response.headers
            or response.json()["errors"][0]["extensions"]["code"] != "SERVICE_UNAVAILABLE"
        ):
            self.missing_retry_after += 1

    def _write(self) -> None:
        n = 0
        while not self.stopping.is_set():
            n += 1
            name = f"write {n}"
            try:
                response = self.server.graphql(CREATE_LIST, {"input": {"name": name}}, token=self.token)
            except httpx.HTTPError:
                continue
            self._record(response)
            if response.status_code == 200 and response.json()["data"]["createList"]["list"]:
                self.acknowledged.append(name)
            time.sleep(0.01)

    def _read(self) -> None:
        while not self.stopping.is_set():
            try:
                self._record(self.server.graphql(SEARCH))
            except httpx.HTTPError:
                continue
            time.sleep(0.01)


def ready(server: ServerProcess) -> bool:
    try:
        return httpx.get(f"{server.url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def wait_for(condition: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


async def stored_list_names(pgdata: Path) -> set[str]:
    socket_dir = (pgdata / "postmaster.pid").read_text().splitlines()[4]
    conn = await asyncpg.connect(host=socket_dir, user="postgres", database="omnimediatrak")
    try:
        return {row["name"] for row in await conn.fetch("SELECT name FROM interaction.user_lists")}
    finally:
        await conn.close()


def test_kill_9_of_the_postmaster_under_load_recovers_by_itself(tmp_path: Path) -> None:
    data_dir = embedded_base_dir() / f"supervised-{os.getpid()}"
    env = {
        "OMT_DATA_DIR": str(data_dir),
        "OMT_EMBEDDED_AS_ROOT": "1",  # as root, embedded_base_dir() is a place where that is safe
        "OMT_RATE_LIMIT_PER_MINUTE": "0",
        "OMT_LOG_LEVEL": "INFO",
    }
    env_without_url = {"DATABASE_URL": ""} | env
    try:
        with running_server(tmp_path / "server.log", env_without_url) as server:
            wait_for(lambda: ready(server))
            variables = {
                "input": {"email": "w@example.test", "username": "writer", "password": "a long passphrase"}
            }
            token = server.graphql(REGISTER, variables).json()["data"]["register"]["token"]
            pgdata = data_dir / "pg"
            with Load(server, token) as load:
                wait_for(lambda: len(load.acknowledged) >= 5)
                postmaster = int((pgdata / "postmaster.pid").read_text().splitlines()[0])
                os.kill(postmaster, signal.SIGKILL)
                wait_for(lambda: load.statuses[503] > 0)
                wait_for(lambda: ready(server))
                settled = len(load.acknowledged)
                wait_for(lambda: len(load.acknowledged) >= settled + 5)
            assert (pgdata / "postmaster.pid").read_text().splitlines()[0] != str(postmaster)
            # Each worker process logs its own "unavailable" and, once its probe succeeds, "again".
            wait_for(lambda: server.log().count("database available again") >= 1)
            wait_for(
                lambda: (
                    server.log().count("database unavailable")
                    == server.log().count("database available again")
                )
            )
            stored = asyncio.run(stored_list_names(pgdata))
            log = server.log()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    assert set(load.acknowledged) <= stored, set(load.acknowledged) - stored
    assert load.missing_retry_after == 0
    assert load.statuses[500] == 0, load.statuses
    assert "Traceback" not in log
    assert log.count("database unavailable") == log.count("database available again") >= 1, log
    assert "embedded PostgreSQL restarted" in log
