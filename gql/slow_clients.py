"""Read timeouts uvicorn lacks: a client gets `header_timeout` seconds to send a request's headers
and `body_timeout` more for its body, then `408 Request Timeout` and a closed connection. Without
them a client that stops sending holds a connection (and its request task) open indefinitely.

The protocol classes live at module level (uvicorn pickles its config to spawn workers); each worker
sets the timeouts once with `set_read_timeouts` before it serves.
"""

import asyncio
import json
import logging

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("omnimediatrak.slow_clients")

_BODY = json.dumps(
    {"errors": [{"message": "Request not received in time", "extensions": {"code": "REQUEST_TIMEOUT"}}]}
).encode()
REQUEST_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
    + f"content-length: {len(_BODY)}\r\n".encode()
    + b"connection: close\r\n\r\n"
    + _BODY
)


class ReadTimeouts:
    """The timer: armed for the headers from the connection (or a new request's first byte), for the
    body from the end of the headers, stopped once the request is in."""

    header_timeout: float = 10.0
    body_timeout: float = 10.0
    transport: asyncio.Transport
    loop: asyncio.AbstractEventLoop
    _read_timer: asyncio.TimerHandle | None = None
    _reading: str | None = None  # "headers" or "body": what the timer is waiting for

    def _expect(self, reading: str) -> None:
        if self._reading == reading:
            return
        self._stop_timer()
        self._reading = reading
        timeout = self.header_timeout if reading == "headers" else self.body_timeout
        self._read_timer = self.loop.call_later(timeout, self._timed_out)

    def _stop_timer(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
        self._read_timer = None
        self._reading = None

    def _timed_out(self) -> None:
        reading, self._read_timer, self._reading = self._reading, None, None
        if self.transport.is_closing():
            return
        log.debug("closing a connection whose request %s did not arrive in time", reading)
        cycle = getattr(self, "cycle", None)
        if cycle is None or not cycle.response_started:
            self.transport.write(REQUEST_TIMEOUT_RESPONSE)
        self.transport.close()


def set_read_timeouts(header_timeout: float, body_timeout: float) -> None:
    ReadTimeouts.header_timeout = header_timeout
    ReadTimeouts.body_timeout = body_timeout


class TimedHttpToolsProtocol(ReadTimeouts, HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._expect("headers")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._expect("headers")

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._expect("body")

    def on_message_complete(self) -> None:
        self._stop_timer()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        # Between requests uvicorn's keep-alive timeout applies.
        self._stop_timer()
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timer()
        super().connection_lost(exc)
