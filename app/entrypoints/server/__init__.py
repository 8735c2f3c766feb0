"""The server: uvicorn with PKG's coalescing httptools protocol (protocol.py) and, for several
workers, the SO_REUSEPORT supervisor (supervisor.py); `serve` (serve.py) is `pkgctl serve`."""
