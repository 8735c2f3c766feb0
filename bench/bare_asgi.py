"""uvicorn's own ceiling: a bare ASGI callable that reads the body and answers a constant.

No framework, no routing, nothing per request but what uvicorn does. `make bench-http` serves
it on PKG's uvicorn settings beside the FastAPI baseline, so a run shows what any Python app
on uvicorn can reach on the machine at that moment (requests/s and p99), whatever it does.
"""

from __future__ import annotations

from typing import Any, Final

BODY: Final = b'{"subtasks":[],"dag":[],"rules":[],"snapshot":"bare"}'
HEADERS: Final = [(b"content-length", b"%d" % len(BODY)), (b"content-type", b"application/json")]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":  # nothing to start or stop
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
