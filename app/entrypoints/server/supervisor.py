"""uvicorn's worker supervisor with one listening socket per worker (Linux `SO_REUSEPORT`).

uvicorn's own supervisor binds one socket that every worker accepts from; whichever worker is
awake first takes the connection, so under load one worker can end up holding all of them
(32 of 32 connections in two of three wrk runs here) while the other idles. With a socket per
worker in one `SO_REUSEPORT` group, the kernel spreads connections over the workers by a hash
of their addresses instead.

The parent binds every socket, so a port in use fails at once, and keeps them: a worker that
dies or restarts hands its socket to its replacement, and the connections that arrive
meanwhile wait in that socket's backlog rather than being refused. The port is first bound
without `SO_REUSEPORT`, so a second server started on the same port fails as it would without
this rather than silently taking half of the connections.

Everything else is uvicorn's `Multiprocess` (as of 0.52, the floor in pyproject.toml): health
checks, restarting a dead worker, stopping on a start-up failure, `SIGHUP` (rolling restart),
`SIGTTIN`/`SIGTTOU` (one worker more/less). The methods overridden here are its own with the
worker's socket passed along; tests/integration/fleet/test_worker_sockets.py covers each.
"""

from __future__ import annotations

import logging
import socket
import sys

from uvicorn.config import STARTUP_FAILURE, Config
from uvicorn.supervisors.multiprocess import Multiprocess, Process

logger = logging.getLogger("uvicorn.error")

BALANCED: bool = sys.platform == "linux" and hasattr(socket, "SO_REUSEPORT")
"""Only Linux balances a `SO_REUSEPORT` group; elsewhere the last socket bound takes all."""


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def probe_port(host: str, port: int) -> None:
    """Raises `OSError` unless `host:port` can be bound outside any `SO_REUSEPORT` group: no
    other server listens there, with or without the option."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A socket bound to `host:port` in the port's `SO_REUSEPORT` group (the worker listens)."""
    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


class BalancedMultiprocess(Multiprocess):
    """`Multiprocess` where worker `i` always serves socket `i` of the group."""

    def __init__(self, config: Config) -> None:
        super().__init__(config, sockets=[])
        try:
            if config.port:
                probe_port(config.host, config.port)
            first = reuse_port_socket(config.host, config.port)
            self.port: int = first.getsockname()[1]  # the port chosen, when 0 was asked for
            self.sockets = [first, *(self._bind() for _ in range(config.workers - 1))]
        except OSError as exc:  # as uvicorn's own bind says it
            logger.error(exc)
            sys.exit(STARTUP_FAILURE)
        logger.info(
            "Uvicorn running on http://%s:%d, one socket per worker (Press CTRL+C to quit)",
            config.host,
            self.port,
        )

    def _bind(self) -> socket.socket:
        return reuse_port_socket(self.config.host, self.port)

    def _start(self, slot: int) -> Process:
        process = Process(self.config, [self.sockets[slot]])
        process.start()
        return process

    def init_processes(self) -> None:
        self.processes = [self._start(slot) for slot in range(self.processes_num)]

    def restart_all(self) -> None:
        """Each worker's replacement takes over its socket once ready, then the old one stops."""
        for slot, old in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            new = self._start(slot)
            timeout = self.config.timeout_worker_healthcheck
            if not new.wait_until_ready(timeout, self.should_exit):
                new.kill()
                new.join()
                if not self.should_exit.is_set():
                    logger.error(
                        "New child process [%s] was not ready in time; keeping worker [%s] "
                        "and aborting the restart.",
                        new.pid,
                        old.pid,
                    )
                return
            old.terminate()
            old.join()
            self.processes[slot] = new

    def keep_subprocess_alive(self) -> None:
        if self.should_exit.is_set():
            return
        for slot, process in enumerate(self.processes):
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()  # hung: stop it
            process.join()
            if process.exitcode == STARTUP_FAILURE:  # would fail the same way again
                logger.error(
                    "Child process [%s] failed to start, stopping the parent process.",
                    process.pid,
                )
                self.should_exit.set()
                return
            if self.should_exit.is_set():
                return
            logger.info("Child process [%s] died", process.pid)
            self.processes[slot] = self._start(slot)

    def handle_ttin(self) -> None:
        logger.info("Received SIGTTIN, increasing the number of processes.")
        self.sockets.append(self._bind())
        self.processes_num += 1
        self.processes.append(self._start(len(self.sockets) - 1))

    def handle_ttou(self) -> None:
        logger.info("Received SIGTTOU, decreasing number of processes.")
        if self.processes_num <= 1:
            logger.info("Already reached one process, cannot decrease the number of processes.")
            return
        self.processes_num -= 1
        self.sockets.pop().close()  # the worker's copy closes as it stops
        process = self.processes.pop()
        process.terminate()
        process.join()
