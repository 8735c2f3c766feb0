"""A small typed client for PKG's HTTP API, sync and async, on httpx (the way Cerbos ships SDKs).

```python
from app.client import PKGHttpClient

with PKGHttpClient("http://pkg.internal", token="...") as pkg:
    decision = pkg.evaluate({"tags": ["vip"], "signals": {"urgency": 0.9}})
    pkg.push(document); pkg.validate("rules@1.4.0"); pkg.promote("rules@1.4.0", reason="...")
```

`AsyncPKGHttpClient` has the same methods as coroutines. A non-2xx answer raises `PKGError`
with the problem's `status`, `detail` and field `errors`; a server that cannot be reached raises
`PKGConnectionError`. `pkgctl` drives servers through this client.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Concatenate, Generic, ParamSpec, Self, TypeVar, cast
from urllib.parse import quote

import httpx

DEFAULT_TIMEOUT_S = 30.0

T = TypeVar("T")
P = ParamSpec("P")


class PKGConnectionError(Exception):
    """The server could not be reached (or did not answer in time)."""


@dataclass
class PKGError(Exception):
    """A problem+json answer: `status`, `detail`, and `errors: [{loc, msg}]` for bad input."""

    status: int
    detail: str
    title: str = ""
    errors: list[dict[str, Any]] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.status} {self.title}: {self.detail}".replace(" : ", ": ")

    @classmethod
    def from_response(cls, response: httpx.Response) -> PKGError:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return cls(response.status_code, response.text[:500] or response.reason_phrase)
        errors = body.get("errors") if isinstance(body.get("errors"), list) else []
        return cls(
            status=response.status_code,
            detail=str(body.get("detail", response.reason_phrase)),
            title=str(body.get("title", response.reason_phrase)),
            errors=errors or [],
        )


@dataclass(frozen=True)
class _Call(Generic[T]):
    """One API call, built once and sent by either client; `T` is what it answers."""

    method: str
    path: str
    expect: int = 200
    json: Any = None
    params: dict[str, Any] | None = None
    content: bytes | None = None
    headers: dict[str, str] | None = None
    raw: bool = False  # answer the body's bytes (bundles), not its JSON
    unwrap: str | None = None  # answer this field of the body (`items` of a list)


def _routing(**values: Any) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value not in (None, False)}


def _body(**values: Any) -> dict[str, Any]:
    """Fields left out take the server's defaults (`actor`, `env`)."""
    return {name: value for name, value in values.items() if value is not None}


Json = dict[str, Any]


class _Calls:
    """The API's calls, each described once; both clients bind them with `_sync` / `_async`."""

    @staticmethod
    def evaluate(
        facts: Json,
        *,
        version: str | None = None,
        target: str | None = None,
        region: str | None = None,
        subject: str | None = None,
        explain: bool = False,
        entrypoint: str | None = None,
    ) -> _Call[Json]:
        """One decision: subtasks, dag, rules, plus decision_id, engine, lane, duration_ms."""
        routing = _routing(
            version=version,
            target=target,
            region=region,
            subject=subject,
            explain=explain,
            entrypoint=entrypoint,
        )
        return _Call("POST", "/evaluate", json=facts, params=routing)

    @staticmethod
    def batch(
        items: list[Json],
        *,
        version: str | None = None,
        target: str | None = None,
        region: str | None = None,
        subject: str | None = None,
    ) -> _Call[list[Json]]:
        routing = _routing(version=version, target=target, region=region, subject=subject)
        body = {"items": items}
        return _Call("POST", "/evaluate/batch", json=body, params=routing, unwrap="items")

    @staticmethod
    def push(document: Json, *, signature: str | None = None) -> _Call[Json]:
        """Create a snapshot from a policy document (validated first: `PKGError` 422);
        `signature` is a `<key id>:<base64>` from `pkgctl sign`."""
        headers = {"PKG-Signature": signature} if signature else None
        return _Call("POST", "/snapshots", expect=201, json=document, headers=headers)

    @staticmethod
    def export_bundle(version: str) -> _Call[bytes]:
        """A stored snapshot as a PKG export bundle (.tar.gz bytes)."""
        return _Call("GET", f"/snapshots/{quote(version, safe='')}/bundle", raw=True)

    @staticmethod
    def verify_audit(*, env: str | None = None) -> _Call[Json]:
        """Walk an env's audit chain: `{ok, rows, signed, first_break}`."""
        return _Call("GET", "/promotions/verify", params=_routing(env=env))

    @staticmethod
    def push_bundle(
        bundle: bytes,
        *,
        version: str | None = None,
        env: str | None = None,
        entrypoint: str | None = None,
    ) -> _Call[Json]:
        """Create a snapshot from an OPA bundle (.tar.gz bytes)."""
        return _Call(
            "POST",
            "/snapshots",
            expect=201,
            content=bundle,
            params=_routing(version=version, env=env, entrypoint=entrypoint),
            headers={"Content-Type": "application/gzip"},
        )

    @staticmethod
    def validate(version: str) -> _Call[Json]:
        """Run a stored snapshot's fixtures on the server; the run's `success` says how it went."""
        return _Call("POST", "/validation/runs", expect=201, json={"version": version})

    @staticmethod
    def promote(
        version: str,
        *,
        reason: str | None = None,
        actor: str | None = None,
        force: bool = False,
        env: str | None = None,
    ) -> _Call[Json]:
        body = _body(version=version, reason=reason, actor=actor, force=force, env=env)
        return _Call("POST", "/promotions", expect=201, json=body)

    @staticmethod
    def rollback(
        *,
        to_version: str | None = None,
        reason: str | None = None,
        actor: str | None = None,
        env: str | None = None,
    ) -> _Call[Json]:
        body = _body(to_version=to_version, reason=reason, actor=actor, env=env)
        return _Call("POST", "/promotions/rollback", expect=201, json=body)

    @staticmethod
    def compare(
        a: str,
        b: str,
        *,
        items: list[Json] | None = None,
        fixtures_of: str | None = None,
    ) -> _Call[Json]:
        """How B decides differently from A on `items` (or on a version's fixtures)."""
        path = f"/snapshots/{quote(a, safe='')}/compare/{quote(b, safe='')}"
        return _Call("POST", path, json=_body(items=items, fixtures_of=fixtures_of))

    @staticmethod
    def health() -> _Call[Json]:
        return _Call("GET", "/health")

    @staticmethod
    def metadata() -> _Call[Json]:
        return _Call("GET", "/metadata")

    @staticmethod
    def decision(decision_id: str) -> _Call[Json]:
        """One logged decision (admin; the server needs `PKG_DECISION_LOG=database`)."""
        return _Call("GET", f"/decisions/{quote(decision_id, safe='')}")

    @staticmethod
    def decisions(
        *, version: str | None = None, since: str | None = None, limit: int | None = None
    ) -> _Call[list[Json]]:
        """Logged decisions, newest first."""
        params = _routing(version=version, since=since, limit=limit)
        return _Call("GET", "/decisions", params=params, unwrap="items")


def _decode(response: httpx.Response, call: _Call[T]) -> T:
    if response.status_code != call.expect:
        raise PKGError.from_response(response)
    if call.raw:
        return cast(T, response.content)
    body: Any = response.json() if response.content else None
    return cast(T, body[call.unwrap] if call.unwrap else body)


def _headers(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def _request(call: _Call[Any]) -> dict[str, Any]:
    return {
        "json": call.json,
        "params": call.params,
        "content": call.content,
        "headers": call.headers,
    }


def _sync(operation: Callable[P, _Call[T]]) -> Callable[Concatenate[PKGHttpClient, P], T]:
    """A `PKGHttpClient` method that sends what `operation` describes."""

    def method(self: PKGHttpClient, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._send(operation(*args, **kwargs))

    functools.update_wrapper(method, operation)  # name, docstring and signature for help()
    return method


def _async(
    operation: Callable[P, _Call[T]],
) -> Callable[Concatenate[AsyncPKGHttpClient, P], Coroutine[Any, Any, T]]:
    """An `AsyncPKGHttpClient` coroutine method that sends what `operation` describes."""

    async def method(self: AsyncPKGHttpClient, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self._send(operation(*args, **kwargs))

    functools.update_wrapper(method, operation)
    return method


class PKGHttpClient:
    """Blocking client. `transport` lets tests (or an ASGI app) stand in for the network."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers=_headers(token),
            timeout=timeout,
            transport=transport,
        )

    def _send(self, call: _Call[T]) -> T:
        try:
            response = self._http.request(call.method, call.path, **_request(call))
        except httpx.HTTPError as exc:
            raise PKGConnectionError(f"cannot reach {self._http.base_url}: {exc}") from exc
        return _decode(response, call)

    evaluate = _sync(_Calls.evaluate)
    batch = _sync(_Calls.batch)
    push = _sync(_Calls.push)
    export_bundle = _sync(_Calls.export_bundle)
    verify_audit = _sync(_Calls.verify_audit)
    push_bundle = _sync(_Calls.push_bundle)
    validate = _sync(_Calls.validate)
    promote = _sync(_Calls.promote)
    rollback = _sync(_Calls.rollback)
    compare = _sync(_Calls.compare)
    health = _sync(_Calls.health)
    metadata = _sync(_Calls.metadata)
    decision = _sync(_Calls.decision)
    decisions = _sync(_Calls.decisions)

    def status(self) -> dict[str, Any]:
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
    """The same calls as `PKGHttpClient`, as coroutines."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers=_headers(token),
            timeout=timeout,
            transport=transport,
        )

    async def _send(self, call: _Call[T]) -> T:
        try:
            response = await self._http.request(call.method, call.path, **_request(call))
        except httpx.HTTPError as exc:
            raise PKGConnectionError(f"cannot reach {self._http.base_url}: {exc}") from exc
        return _decode(response, call)

    evaluate = _async(_Calls.evaluate)
    batch = _async(_Calls.batch)
    push = _async(_Calls.push)
    export_bundle = _async(_Calls.export_bundle)
    verify_audit = _async(_Calls.verify_audit)
    push_bundle = _async(_Calls.push_bundle)
    validate = _async(_Calls.validate)
    promote = _async(_Calls.promote)
    rollback = _async(_Calls.rollback)
    compare = _async(_Calls.compare)
    health = _async(_Calls.health)
    metadata = _async(_Calls.metadata)
    decision = _async(_Calls.decision)
    decisions = _async(_Calls.decisions)

    async def status(self) -> dict[str, Any]:
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
