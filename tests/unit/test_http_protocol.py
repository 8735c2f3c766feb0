"""PKG's uvicorn protocol: the writes of one turn of the event loop leave as one, in order,
and nothing a client is owed is lost (pipelining, streaming, `Connection: close`, 100-continue).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn

from app.entrypoints.server.protocol import (
    FLUSH_BYTES,
    CoalescingHttpToolsProtocol,
    CoalescingTransport,
)


class RecordingTransport(asyncio.Transport):
    """The far side of a `CoalescingTransport`: what reached it, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False
        self.aborted = False
        self.eof = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def write_eof(self) -> None:
        self.eof = True

    def can_write_eof(self) -> bool:
        return True

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def get_write_buffer_size(self) -> int:
        return 0

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 5555)}.get(name, default)


async def next_turn() -> None:
    """Let the event loop run what the current turn scheduled (`call_soon`)."""
    await asyncio.sleep(0)
    await asyncio.sleep(0)


@pytest.fixture
def far() -> RecordingTransport:
    return RecordingTransport()


@pytest.fixture
async def near(far: RecordingTransport) -> CoalescingTransport:
    return CoalescingTransport(far, asyncio.get_running_loop())


# ------------------------------------------------------------------------ the transport
async def test_writes_of_one_turn_leave_together_at_the_next(
    near: CoalescingTransport, far: RecordingTransport
) -> None:
    near.write(b"HTTP/1.1 200 OK\r\n\r\n")
    near.write(bytearray(b"{}"))
    near.writelines([b"a", memoryview(b"b")])
    assert far.writes == []
    assert near.get_write_buffer_size() == 23
    await next_turn()
    assert far.writes == [b"HTTP/1.1 200 OK\r\n\r\n{}ab"]
    assert near.get_write_buffer_size() == 0


async def test_a_buffer_the_caller_changes_after_writing_is_sent_as_written(
    near: CoalescingTransport, far: RecordingTransport
) -> None:
    buffer = bytearray(b"first")
    near.write(buffer)
    buffer[:] = b"later"
    await next_turn()
    assert far.writes == [b"first"]


async def test_a_large_write_goes_straight_through(
    near: CoalescingTransport, far: RecordingTransport
) -> None:
    big = b"x" * FLUSH_BYTES
    near.write(big)
    assert far.writes == [big]


async def test_held_bytes_leave_at_once_when_they_reach_the_high_water_mark(
    near: CoalescingTransport, far: RecordingTransport
) -> None:
    near.write(b"head")
    near.write(b"y" * FLUSH_BYTES)  # flow control must see this now, not next turn
    assert far.writes == [b"head" + b"y" * FLUSH_BYTES]
    near.write(b"tail")
    await next_turn()
    assert far.writes[1:] == [b"tail"]


@pytest.mark.parametrize(("end", "ended"), [("close", "closed"), ("write_eof", "eof")])
async def test_closing_or_ending_the_write_side_sends_what_was_written_first(
    near: CoalescingTransport, far: RecordingTransport, end: str, ended: str
) -> None:
    near.write(b"answer")
    getattr(near, end)()
    assert far.writes == [b"answer"]
    assert getattr(far, ended)
    await next_turn()
    assert far.writes == [b"answer"]  # the scheduled flush finds nothing more


async def test_abort_drops_what_is_held(near: CoalescingTransport, far: RecordingTransport) -> None:
    near.write(b"never")
    near.abort()
    await next_turn()
    assert far.writes == []
    assert far.aborted


async def test_nothing_is_written_to_a_transport_that_is_closing(
    near: CoalescingTransport, far: RecordingTransport
) -> None:
    near.write(b"late")
    far.closed = True  # the peer went away before the next turn
    await next_turn()
    assert far.writes == []


# ------------------------------------------------------------------------ the protocol
async def constant(scope: dict[str, Any], receive: Any, send: Any) -> None:
    body = b'{"ok":true}'
    headers = [(b"content-length", b"%d" % len(body)), (b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def protocol_for(app: Any) -> CoalescingHttpToolsProtocol:
    config = uvicorn.Config(app, lifespan="off", log_level="warning")
    config.load()
    state = uvicorn.server.ServerState()
    return CoalescingHttpToolsProtocol(config=config, server_state=state, app_state={})


async def test_a_response_leaves_in_one_write(far: RecordingTransport) -> None:
    protocol = protocol_for(constant)
    protocol.connection_made(far)
    protocol.data_received(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
    for _ in range(5):
        await next_turn()
    assert len(far.writes) == 1
    (response,) = far.writes
    assert response.startswith(b"HTTP/1.1 200 OK\r\n")
    assert response.endswith(b'\r\n\r\n{"ok":true}')
    protocol.connection_lost(None)


# ------------------------------------------------------------------------ over a socket
async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """`/stream` answers 1 000 chunks of 1 KiB then one of 100 KiB; anything else echoes."""
    if scope["type"] != "http":
        return
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    if scope["path"] == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for index in range(1000):
            chunk = b"%04d" % index + b"." * 1020
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"z" * 102400})
        return
    answer = scope["path"].encode() + b" " + body
    headers = [(b"content-length", b"%d" % len(answer))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": answer})


@pytest.fixture
async def port() -> AsyncIterator[int]:
    config = uvicorn.Config(
        app, http=CoalescingHttpToolsProtocol, lifespan="off", log_level="warning"
    )
    server = uvicorn.Server(config)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            assert not serving.done(), serving.exception()
            await asyncio.sleep(0.01)
        try:
            yield int(sock.getsockname()[1])
        finally:
            server.should_exit = True
            await asyncio.wait_for(serving, 10)


async def read_response(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    lines = head.decode().split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:] if line)
    if "content-length" in headers:
        return head, await reader.readexactly(int(headers["content-length"]))
    body = b""
    while True:  # chunked
        size = int((await reader.readuntil(b"\r\n")).strip(), 16)
        chunk = await reader.readexactly(size + 2)
        if size == 0:
            return head, body
        body += chunk[:-2]


async def test_pipelined_requests_are_answered_in_order(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"".join(
            b"POST /%d HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\n\r\nr%02d" % (i, i)
            for i in range(20)
        )
    )
    answers = [(await read_response(reader))[1] for _ in range(20)]
    assert answers == [b"/%d r%02d" % (i, i) for i in range(20)]
    writer.close()


async def test_a_streamed_response_larger_than_the_mark_arrives_whole(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /stream HTTP/1.1\r\nhost: x\r\n\r\n")
    _, body = await read_response(reader)
    expected = b"".join(b"%04d" % i + b"." * 1020 for i in range(1000)) + b"z" * 102400
    assert body == expected
    writer.close()


async def test_a_response_before_connection_close_is_delivered_whole(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /bye HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
    everything = await asyncio.wait_for(reader.read(), 10)  # until the server closes
    assert everything.startswith(b"HTTP/1.1 200 OK\r\n")
    assert everything.endswith(b"\r\n\r\n/bye ")
    writer.close()


async def test_expect_100_continue_is_answered_before_the_body_is_sent(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"POST /wait HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\nexpect: 100-continue\r\n\r\n"
    )
    interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    writer.write(b"body")
    _, answer = await read_response(reader)
    assert answer == b"/wait body"
    writer.close()
