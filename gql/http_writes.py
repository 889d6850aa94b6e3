"""Each response in one write: uvicorn writes a response's head (status line and headers) and its body
with two `transport.write` calls, so two send() system calls and two TCP segments for every
response, which the client then reads separately. A GraphQL response is one body, so its head is held
back and sent with the body's first bytes (bench/README.md has the CPU this saves)."""

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle


class HeadWithBody:
    """The cycle's transport: a write that `hold_next` announces (the head) waits for the next one."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._holding = False
        self._held = b""

    def hold_next(self) -> None:
        self._holding = True

    def write(self, data: bytes) -> None:
        if self._holding:
            self._holding = False
            self._held = data
            return
        if self._held:
            data, self._held = self._held + data, b""
        self._transport.write(data)

    def close(self) -> None:
        # A response abandoned after its head (the app failed mid-response): the head still goes out.
        if self._held:
            self._transport.write(self._held)
            self._held = b""
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class OneWriteCycle(RequestResponseCycle):
    transport: Any

    async def send(self, message: Any) -> None:
        # A HEAD response has no body write to carry its head.
        if message["type"] == "http.response.start" and self.scope["method"] != "HEAD":
            self.transport.hold_next()
        await super().send(message)


def write_responses_whole(protocol: HttpToolsProtocol) -> None:
    """Called right after uvicorn made the request's cycle, before its task first runs. An upgrade to
    a WebSocket makes no cycle: the last one, if any, is left as it is."""
    cycle: Any = protocol.cycle
    if type(cycle) is not RequestResponseCycle:
        return
    whole: Any = cycle
    whole.__class__ = OneWriteCycle
    whole.transport = HeadWithBody(cycle.transport)
