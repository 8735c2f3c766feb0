"""Serve a baseline ASGI app on PKG's own uvicorn settings, so a comparison is like for like.

    .venv/bin/python -m bench.baseline_server hello_fastapi:app --app-dir DIR --port N
        [--workers N] [--stock]

The settings are `uvicorn_options` of app/entrypoints/server/serve.py (uvloop, PKG's one-write
httptools protocol, the backlog, no access log, PKG's keep-alive timeout), and several workers get a
socket each as under `pkgctl serve` (`run_uvicorn`, same module). `--stock` runs uvicorn's own
httptools protocol and supervisor instead, which is how a FastAPI app usually runs, to show what
PKG's serving alone is worth.
"""

from __future__ import annotations

import argparse
import sys

import uvicorn

from app.entrypoints.server.serve import run_uvicorn, uvicorn_options
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
    sys.path.insert(0, args.app_dir)  # what uvicorn.run's app_dir does; spawned workers inherit it
    if args.stock:  # and uvicorn's supervisor: all workers on one socket
        options["http"] = "httptools"
        uvicorn.run(args.app, host="127.0.0.1", port=args.port, workers=args.workers, **options)
    else:  # and, with several workers, PKG's: a socket per worker
        run_uvicorn(args.app, host="127.0.0.1", port=args.port, workers=args.workers, **options)


if __name__ == "__main__":
    main()
