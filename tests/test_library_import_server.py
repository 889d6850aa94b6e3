"""importLibrary against a real server process (`omnimediatrak serve`, its worker processes): the
upload goes through uvicorn's multipart handling, the job runs in the worker that took it, and
polling (through any worker) sees it finish."""

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from httpx import AsyncClient, TransportError
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from db.library_import.jobs import ABANDONED_ERROR, OWNER_LOCK
from db.models import UserMedia
from gql.relay import from_global_id
from tests.factories import make_user
from tests.library_import_catalog import letterboxd_zip, make_import_catalog
from tests.server_process import ServerProcess, running_server
from tests.test_library_import_api import IMPORT, JOB, PREFLIGHT, upload

PORTS = range(18780, 18800)


def free_port_in_range() -> int:
    for port in PORTS:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port in the test range")


async def test_an_upload_to_a_running_server_imports_in_the_background(
    engine: AsyncEngine, database_url: str
) -> None:
    await make_import_catalog(engine)
    _, token = await make_user(engine)
    port = free_port_in_range()
    env = {**os.environ, "DATABASE_URL": database_url, "OMT_PORT": str(port)}
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gql.cli",
        "serve",
        "--no-demo",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            await wait_until_healthy(http, server)
            response = await upload(http, token, "LETTERBOXD", letterboxd_zip(), "letterboxd.zip")
            assert response.status_code == 200, response.text
            job_id = response.json()["data"]["importLibrary"]["job"]["id"]
            for _ in range(300):
                poll = await http.post(
                    "/graphql",
                    json={"query": JOB, "variables": {"id": job_id}},
                    headers={"authorization": f"Bearer {token}"},
                )
                job = poll.json()["data"]["node"]
                if job["status"] not in ("QUEUED", "RUNNING"):
                    break
                await asyncio.sleep(0.1)
        assert job["status"] == "SUCCEEDED", job
        counts = job["counts"]
        assert (counts["total"], counts["created"], counts["unmatched"], counts["failed"]) == (6, 3, 2, 1)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(server.wait(), timeout=30)
        except TimeoutError:
            server.kill()
            await server.wait()


async def wait_until_healthy(http: AsyncClient, server: asyncio.subprocess.Process) -> None:
    for _ in range(600):
        assert server.returncode is None, "the server exited"
        try:
            if (await http.get("/healthz")).status_code == 200:
                return
        except TransportError:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError("the server did not become healthy")


def upload_to(server: ServerProcess, token: str, data: bytes, name: str) -> Any:
    response = httpx.post(
        f"{server.url}/graphql",
        data={
            "operations": json.dumps(
                {"query": IMPORT, "variables": {"input": {"format": "LETTERBOXD", "file": None}}}
            ),
            "map": json.dumps({"0": ["variables.input.file"]}),
        },
        files={"0": (name, data, "application/zip")},
        headers={**PREFLIGHT, "authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]["importLibrary"]


def job_on(server: ServerProcess, token: str, job_id: str) -> Any:
    return server.graphql(JOB, {"id": job_id}, token=token).json()["data"]["node"]


def poll(server: ServerProcess, token: str, job_id: str, until: Callable[[Any], bool]) -> Any:
    for _ in range(600):
        job = job_on(server, token, job_id)
        if until(job):
            return job
        time.sleep(0.05)
    raise AssertionError(f"the job never got there: {job}")


def kill_hard(server: ServerProcess) -> None:
    """SIGKILL the server and its worker processes (the supervisor first, so it restarts none)."""
    pid = server.process.pid
    workers = [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    assert workers, "the server has no worker process"
    server.process.send_signal(signal.SIGKILL)
    server.process.wait()
    for worker in workers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker, signal.SIGKILL)


def raw_id(global_id: str) -> uuid.UUID:
    decoded = from_global_id(global_id, "LibraryImportJob")
    assert decoded is not None
    return decoded[1]


async def wait_until_nobody_owns(engine: AsyncEngine, job_id: uuid.UUID) -> None:
    """PostgreSQL ends the session of a killed client once it next reads from it; until then the
    killed process's owner lock is still held."""
    for _ in range(600):
        async with engine.begin() as conn:
            probe = text(f"SELECT pg_try_advisory_xact_lock({OWNER_LOCK.format(job_id=':job_id')})")
            if (await conn.execute(probe, {"job_id": job_id})).scalar():
                return
        await asyncio.sleep(0.05)
    raise AssertionError("the killed server's session never ended")


async def test_the_job_of_a_killed_server_is_marked_interrupted_when_its_user_imports_again(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    catalog = await make_import_catalog(engine)
    user_id, token = await make_user(engine)
    async with engine.begin() as conn:
        await conn.execute(
            insert(UserMedia).values(user_id=user_id, media_id=catalog["Heat"], status="planned")
        )
    # The job's first batch waits for this row lock, so it is RUNNING when its server is killed.
    blocker = await engine.connect()
    await blocker.begin()
    await blocker.execute(select(UserMedia).where(UserMedia.user_id == user_id).with_for_update())
    env = {"DATABASE_URL": database_url}
    try:
        with (
            running_server(tmp_path / "killed.log", env, "--workers", "1") as killed,
            running_server(tmp_path / "survivor.log", env, "--workers", "1") as survivor,
        ):
            started = upload_to(killed, token, letterboxd_zip(), "letterboxd.zip")
            job_id = started["job"]["id"]
            poll(survivor, token, job_id, lambda job: job["status"] == "RUNNING")
            refused = upload_to(survivor, token, letterboxd_zip(), "letterboxd.zip")
            assert refused["job"] is None
            assert [error["code"] for error in refused["userErrors"]] == ["CONFLICT"]
            assert job_on(survivor, token, job_id)["status"] == "RUNNING"

            kill_hard(killed)
            await blocker.rollback()
            await wait_until_nobody_owns(engine, raw_id(job_id))
            assert job_on(survivor, token, job_id)["status"] == "RUNNING"

            again = upload_to(survivor, token, letterboxd_zip(), "letterboxd.zip")
            assert again["userErrors"] == []
            finished = poll(
                survivor, token, again["job"]["id"], lambda job: job["status"] not in ("QUEUED", "RUNNING")
            )
            assert finished["status"] == "SUCCEEDED"
            abandoned = job_on(survivor, token, job_id)
            assert abandoned["status"] == "INTERRUPTED"
            assert abandoned["error"] == ABANDONED_ERROR
            assert abandoned["counts"]["processed"] < abandoned["counts"]["total"]
    finally:
        await blocker.close()
