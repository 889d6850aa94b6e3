"""A client that stops sending is cut off: unfinished headers and a half-sent body get 408 and a
closed connection after the configured read timeouts (real server process, short timeouts)."""

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server_process import ServerProcess, running_server


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {"DATABASE_URL": database_url, "OMT_HEADER_TIMEOUT_SECONDS": "1", "OMT_BODY_TIMEOUT_SECONDS": "1"}
    log_path: Path = tmp_path_factory.mktemp("slow") / "server.log"
    with running_server(log_path, env) as process:
        yield process


def answer_after_stalling(server: ServerProcess, sent: bytes) -> bytes:
    """Send part of a request, then nothing; everything the server says until it closes."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as conn:
        conn.sendall(sent)
        received = b""
        while chunk := conn.recv(65536):  # raises TimeoutError if the server never closes
            received += chunk
    return received


HEADERS = (
    b"POST /graphql HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
)


def test_a_half_sent_body_is_cut_off(server: ServerProcess) -> None:
    answer = answer_after_stalling(server, HEADERS + b'{"query": ')
    assert answer.startswith(b"HTTP/1.1 408 ")


def test_unfinished_headers_are_cut_off(server: ServerProcess) -> None:
    answer = answer_after_stalling(server, b"POST /graphql HTTP/1.1\r\nHost: test\r\n")
    assert answer.startswith(b"HTTP/1.1 408 ")


def test_a_silent_connection_is_cut_off(server: ServerProcess) -> None:
    assert answer_after_stalling(server, b"").startswith(b"HTTP/1.1 408 ")


def test_a_complete_request_is_answered(server: ServerProcess) -> None:
    response = server.graphql("{ searchMedia { totalCount } }")
    assert response.status_code == 200
    assert response.json()["data"] == {"searchMedia": {"totalCount": 0}}
