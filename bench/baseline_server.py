"""Serve a baseline ASGI app on PKG's own uvicorn settings, so a comparison is like for like.

    .venv/bin/python -m bench.baseline_server hello_fastapi:app --app-dir DIR --port N
        [--workers N] [--stock]

The settings are `app.serving.uvicorn_options` (uvloop, PKG's one-write httptools protocol,
the backlog, no access log, PKG's keep-alive timeout); `--stock` swaps the protocol for
uvicorn's own httptools one, which is how a FastAPI app usually runs, to show what the
protocol alone is worth.
"""

from __future__ import annotations

import argparse

import uvicorn

from app.serving import uvicorn_options
from app.settings import Settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("app", help="module:attribute of the ASGI app")
    parser.add_argument("--app-dir", default=".")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--stock", action="store_true", help="uvicorn's httptools protocol")
    args = parser.parse_args(argv)
    options = uvicorn_options(Settings(log_level="WARNING"))
    if args.stock:
        options["http"] = "httptools"
    uvicorn.run(
        args.app,
        app_dir=args.app_dir,
        host="127.0.0.1",
        port=args.port,
        workers=args.workers,
        **options,
    )


if __name__ == "__main__":
    main()
