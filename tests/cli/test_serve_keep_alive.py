"""A real `pkgctl serve` keeps an idle connection open for `PKG_KEEP_ALIVE_S`, then closes it:
with the default (longer than any client's idle timeout) the client is the one that closes."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from bench.server import ROOT, ServerProcess

REQUEST = b"GET /health HTTP/1.1\r\nhost: pkg\r\n\r\n"


def answer(sock: socket.socket) -> bytes:
    sock.sendall(REQUEST)
    data = b""
    while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection before answering"
        data += chunk
    return data


def closed_by_server(sock: socket.socket) -> bool:
    sock.settimeout(0.2)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False  # still open, nothing to read


def test_an_idle_connection_stays_open_for_the_keep_alive_then_closes(tmp_path: Path) -> None:
    for name in ("short", "default"):
        (tmp_path / name).mkdir()
    seed = str(ROOT / "examples" / "hotel_ops.yaml")
    short = ServerProcess.embedded(tmp_path / "short", PKG_SEED_FILE=seed, PKG_KEEP_ALIVE_S="1")
    default = ServerProcess.embedded(tmp_path / "default", PKG_SEED_FILE=seed)
    short.start()
    default.start()
    try:
        conns = {}
        for name, server in (("short", short), ("default", default)):
            conns[name] = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            assert answer(conns[name]).startswith(b"HTTP/1.1 200 OK")
        time.sleep(5.5)  # idle past the short keep-alive and past uvicorn's own default (5 s)
        # the short one's timer is due by now; a loaded server may take longer to act on it
        deadline = time.monotonic() + 30
        while not closed_by_server(conns["short"]):
            assert time.monotonic() < deadline, "the short keep-alive never closed the connection"
        assert not closed_by_server(conns["default"])
        assert answer(conns["default"]).startswith(b"HTTP/1.1 200 OK")  # reused, as a client would
        for sock in conns.values():
            sock.close()
    finally:
        short.stop()
        default.stop()
