"""`PKGHttpClient` (blocking) and `AsyncPKGHttpClient` (the same methods as coroutines).

Each method is an operation of `pkg_client.operations` or `pkg_client.governance` bound to a
client: its name, arguments, docstring and answer type are the operation's, so the two clients
cannot drift apart.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Coroutine, Mapping
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, Self, TypeVar

import httpx

from pkg_client import governance, rollout
from pkg_client import operations as op
from pkg_client.call import Call
from pkg_client.errors import PKGConnectionError
from pkg_client.types import Status

__version__ = "0.1.0"

DEFAULT_TIMEOUT_S = 30.0
USER_AGENT = f"pkg-client/{__version__}"

T = TypeVar("T")
P = ParamSpec("P")


def _sync(operation: Callable[P, Call[T]]) -> Callable[Concatenate[PKGHttpClient, P], T]:
    """A `PKGHttpClient` method that sends what `operation` describes."""

    def method(self: PKGHttpClient, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._send(operation(*args, **kwargs))

    _describe(method, operation)
    return method


def _async(
    operation: Callable[P, Call[T]],
) -> Callable[Concatenate[AsyncPKGHttpClient, P], Coroutine[Any, Any, T]]:
    """An `AsyncPKGHttpClient` coroutine method that sends what `operation` describes."""

    async def method(self: AsyncPKGHttpClient, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self._send(operation(*args, **kwargs))

    _describe(method, operation)
    return method


def _describe(method: Callable[..., Any], operation: Callable[..., Any]) -> None:
    """help() and IDEs show the operation's name, docstring and arguments (not its `Call`)."""
    functools.update_wrapper(method, operation)
    signature = inspect.signature(operation)
    method.__signature__ = signature.replace(  # type: ignore[attr-defined]
        return_annotation=inspect.Signature.empty
    )


def _headers(token: str | None, extra: Mapping[str, str] | None) -> dict[str, str]:
    headers = {"User-Agent": USER_AGENT, **(extra or {})}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def _unreachable(base_url: httpx.URL, exc: httpx.HTTPError) -> PKGConnectionError:
    return PKGConnectionError(f"cannot reach {base_url}: {exc}")


class PKGHttpClient:
    """Blocking client for one PKG server. `token`: a bearer token (admin for writes, evaluator
    for decisions and reads). `transport` lets tests (or an ASGI app) stand in for the network.
    A problem answer raises `PKGError`; no answer raises `PKGConnectionError`."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers=_headers(token, headers),
            timeout=timeout,
            transport=transport,
        )

    def _send(self, call: Call[T]) -> T:
        try:
            response = self._http.request(call.method, call.path, **call.request())
        except httpx.HTTPError as exc:
            raise _unreachable(self._http.base_url, exc) from exc
        return call.answer(response)

    # decisions
    evaluate = _sync(op.evaluate)
    batch = _sync(op.batch)
    decision = _sync(op.decision)
    decisions = _sync(op.decisions)
    # snapshots
    push = _sync(op.push)
    push_bundle = _sync(op.push_bundle)
    export_bundle = _sync(op.export_bundle)
    snapshots = _sync(op.snapshots)
    snapshot = _sync(op.snapshot)
    active_snapshot = _sync(op.active_snapshot)
    delete_snapshot = _sync(op.delete_snapshot)
    simulate = _sync(op.simulate)
    fixtures = _sync(op.fixtures)
    add_fixtures = _sync(op.add_fixtures)
    compare = _sync(op.compare)
    replay = _sync(op.replay)
    production_coverage = _sync(op.production_coverage)
    diff = _sync(op.diff)
    diff_report = _sync(op.diff_report)
    # governance
    validate = _sync(governance.validate)
    validation_runs = _sync(governance.validation_runs)
    validation_run = _sync(governance.validation_run)
    promote = _sync(governance.promote)
    rollback = _sync(governance.rollback)
    promotions = _sync(governance.promotions)
    guard = _sync(governance.guard)
    verify_audit = _sync(governance.verify_audit)
    # lanes and devices
    deployments = _sync(governance.deployments)
    open_deployment = _sync(governance.open_deployment)
    update_deployment = _sync(governance.update_deployment)
    close_deployment = _sync(governance.close_deployment)
    coverage = _sync(governance.coverage)
    shadow_report = _sync(governance.shadow_report)
    heartbeat = _sync(governance.heartbeat)
    devices = _sync(governance.devices)
    fleet = _sync(rollout.fleet)

    def wait_for_version(self, version: str, **options: Any) -> rollout.Rollout:
        """Poll `fleet` until every live replica serves `version` (`pkg_client.rollout`)."""
        return rollout.wait_for_version(self, version, **options)

    # health
    health = _sync(op.health)
    ready = _sync(op.ready)
    metadata = _sync(op.metadata)
    metrics = _sync(op.metrics)
    policy_schema = _sync(op.policy_schema)

    def status(self) -> Status:
        """`{"health", "metadata"}`: metadata needs a token with the evaluator role or more."""
        return {"health": self.health(), "metadata": self.metadata()}

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncPKGHttpClient:
    """The same calls as `PKGHttpClient`, as coroutines (`async with`, `await pkg.evaluate()`)."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers=_headers(token, headers),
            timeout=timeout,
            transport=transport,
        )

    async def _send(self, call: Call[T]) -> T:
        try:
            response = await self._http.request(call.method, call.path, **call.request())
        except httpx.HTTPError as exc:
            raise _unreachable(self._http.base_url, exc) from exc
        return call.answer(response)

    # decisions
    evaluate = _async(op.evaluate)
    batch = _async(op.batch)
    decision = _async(op.decision)
    decisions = _async(op.decisions)
    # snapshots
    push = _async(op.push)
    push_bundle = _async(op.push_bundle)
    export_bundle = _async(op.export_bundle)
    snapshots = _async(op.snapshots)
    snapshot = _async(op.snapshot)
    active_snapshot = _async(op.active_snapshot)
    delete_snapshot = _async(op.delete_snapshot)
    simulate = _async(op.simulate)
    fixtures = _async(op.fixtures)
    add_fixtures = _async(op.add_fixtures)
    compare = _async(op.compare)
    replay = _async(op.replay)
    production_coverage = _async(op.production_coverage)
    diff = _async(op.diff)
    diff_report = _async(op.diff_report)
    # governance
    validate = _async(governance.validate)
    validation_runs = _async(governance.validation_runs)
    validation_run = _async(governance.validation_run)
    promote = _async(governance.promote)
    rollback = _async(governance.rollback)
    promotions = _async(governance.promotions)
    guard = _async(governance.guard)
    verify_audit = _async(governance.verify_audit)
    # lanes and devices
    deployments = _async(governance.deployments)
    open_deployment = _async(governance.open_deployment)
    update_deployment = _async(governance.update_deployment)
    close_deployment = _async(governance.close_deployment)
    coverage = _async(governance.coverage)
    shadow_report = _async(governance.shadow_report)
    heartbeat = _async(governance.heartbeat)
    devices = _async(governance.devices)
    fleet = _async(rollout.fleet)

    async def wait_for_version(self, version: str, **options: Any) -> rollout.Rollout:
        """Poll `fleet` until every live replica serves `version` (`pkg_client.rollout`)."""
        return await rollout.wait_for_version_async(self.fleet, version, **options)

    # health
    health = _async(op.health)
    ready = _async(op.ready)
    metadata = _async(op.metadata)
    metrics = _async(op.metrics)
    policy_schema = _async(op.policy_schema)

    async def status(self) -> Status:
        """`{"health", "metadata"}`: metadata needs a token with the evaluator role or more."""
        return {"health": await self.health(), "metadata": await self.metadata()}

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
