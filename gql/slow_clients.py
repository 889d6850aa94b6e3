"""Read timeouts uvicorn lacks: a client gets `header_timeout` seconds to send a request's headers
and `body_timeout` more for its body, then `408 Request Timeout` and a closed connection. Without
them a client that stops sending holds a connection (and its request task) open indefinitely."""

import asyncio
import json
import logging

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

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


def timed_h11_protocol(header_timeout: float, body_timeout: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol with the two read timeouts (pass as `uvicorn.run(http=...)`)."""

    class TimedH11Protocol(H11Protocol):
        _read_timer: asyncio.TimerHandle | None = None
        _reading: str | None = None  # "headers" or "body": what the timer is waiting for

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._expect("headers", header_timeout)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.transport.is_closing():
                return
            state = self.conn.their_state
            if state is h11.IDLE:
                self._expect("headers", header_timeout)
            elif state is h11.SEND_BODY:
                self._expect("body", body_timeout)
            else:
                self._stop_timer()

        def on_response_complete(self) -> None:
            # Between requests uvicorn's keep-alive timeout applies; the next request's first byte
            # starts the header timer again.
            self._stop_timer()
            super().on_response_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop_timer()
            super().connection_lost(exc)

        def _expect(self, reading: str, timeout: float) -> None:
            if self._reading == reading:
                return
            self._stop_timer()
            self._reading = reading
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
            if self.cycle is None or not self.cycle.response_started:
                self.transport.write(REQUEST_TIMEOUT_RESPONSE)
            self.transport.close()

    return TimedH11Protocol
