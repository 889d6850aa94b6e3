"""importLibrary against a real server process (`omnimediatrak serve`, its worker processes): the
upload goes through uvicorn's multipart handling, the job runs in the worker that took it, and
polling (through any worker) sees it finish."""

import asyncio
import os
import signal
import socket
import sys

from httpx import AsyncClient, TransportError
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import make_user
from tests.library_import_catalog import letterboxd_zip, make_import_catalog
from tests.test_library_import_api import JOB, upload

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
