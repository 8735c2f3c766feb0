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

from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx

DEFAULT_TIMEOUT_S = 30.0


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
class _Call:
    """One API call, built once and sent by either client."""

    method: str
    path: str
    expect: int = 200
    json: Any = None
    params: dict[str, Any] | None = None
    content: bytes | None = None
    headers: dict[str, str] | None = None
    raw: bool = False  # answer the body's bytes (bundles), not its JSON


def _routing(**values: Any) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value not in (None, False)}


def _body(**values: Any) -> dict[str, Any]:
    """Fields left out take the server's defaults (`actor`, `env`)."""
    return {name: value for name, value in values.items() if value is not None}


class _Calls:
    """The API's calls, shared by the sync and async clients."""

    @staticmethod
    def evaluate(facts: dict[str, Any], **routing: Any) -> _Call:
        return _Call("POST", "/evaluate", json=facts, params=_routing(**routing))

    @staticmethod
    def batch(items: list[dict[str, Any]], **routing: Any) -> _Call:
        return _Call("POST", "/evaluate/batch", json={"items": items}, params=_routing(**routing))

    @staticmethod
    def push(document: dict[str, Any], signature: str | None = None) -> _Call:
        headers = {"PKG-Signature": signature} if signature else None
        return _Call("POST", "/snapshots", expect=201, json=document, headers=headers)

    @staticmethod
    def export_bundle(version: str) -> _Call:
        return _Call("GET", f"/snapshots/{quote(version, safe='')}/bundle", raw=True)

    @staticmethod
    def verify_audit(env: str | None) -> _Call:
        return _Call("GET", "/promotions/verify", params=_routing(env=env))

    @staticmethod
    def push_bundle(bundle: bytes, **params: Any) -> _Call:
        return _Call(
            "POST",
            "/snapshots",
            expect=201,
            content=bundle,
            params=_routing(**params),
            headers={"Content-Type": "application/gzip"},
        )

    @staticmethod
    def validate(version: str) -> _Call:
        return _Call("POST", "/validation/runs", expect=201, json={"version": version})

    @staticmethod
    def promote(version: str, **body: Any) -> _Call:
        return _Call("POST", "/promotions", expect=201, json=_body(version=version, **body))

    @staticmethod
    def rollback(**body: Any) -> _Call:
        return _Call("POST", "/promotions/rollback", expect=201, json=_body(**body))

    @staticmethod
    def compare(
        a: str, b: str, *, items: list[dict[str, Any]] | None, fixtures_of: str | None
    ) -> _Call:
        path = f"/snapshots/{quote(a, safe='')}/compare/{quote(b, safe='')}"
        return _Call("POST", path, json=_body(items=items, fixtures_of=fixtures_of))

    @staticmethod
    def health() -> _Call:
        return _Call("GET", "/health")

    @staticmethod
    def metadata() -> _Call:
        return _Call("GET", "/metadata")

    @staticmethod
    def decision(decision_id: str) -> _Call:
        return _Call("GET", f"/decisions/{quote(decision_id, safe='')}")

    @staticmethod
    def decisions(**params: Any) -> _Call:
        return _Call("GET", "/decisions", params=_routing(**params))


def _decode(response: httpx.Response, call: _Call) -> Any:
    if response.status_code != call.expect:
        raise PKGError.from_response(response)
    if call.raw:
        return response.content
    return response.json() if response.content else None


def _headers(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


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

    def _send(self, call: _Call) -> Any:
        try:
            response = self._http.request(
                call.method,
                call.path,
                json=call.json,
                params=call.params,
                content=call.content,
                headers=call.headers,
            )
        except httpx.HTTPError as exc:
            raise PKGConnectionError(f"cannot reach {self._http.base_url}: {exc}") from exc
        return _decode(response, call)

    def evaluate(
        self,
        facts: dict[str, Any],
        *,
        version: str | None = None,
        target: str | None = None,
        region: str | None = None,
        subject: str | None = None,
        explain: bool = False,
        entrypoint: str | None = None,
    ) -> dict[str, Any]:
        """One decision: subtasks, dag, rules, plus decision_id, engine, lane, duration_ms."""
        call = _Calls.evaluate(
            facts,
            version=version,
            target=target,
            region=region,
            subject=subject,
            explain=explain,
            entrypoint=entrypoint,
        )
        decision: dict[str, Any] = self._send(call)
        return decision

    def batch(
        self,
        items: list[dict[str, Any]],
        *,
        version: str | None = None,
        target: str | None = None,
        region: str | None = None,
        subject: str | None = None,
    ) -> list[dict[str, Any]]:
        call = _Calls.batch(items, version=version, target=target, region=region, subject=subject)
        decisions: list[dict[str, Any]] = self._send(call)["items"]
        return decisions

    def push(self, document: dict[str, Any], *, signature: str | None = None) -> dict[str, Any]:
        """Create a snapshot from a policy document (validated first: `PKGError` 422);
        `signature` is a `<key id>:<base64>` from `pkgctl sign`."""
        snapshot: dict[str, Any] = self._send(_Calls.push(document, signature))
        return snapshot

    def export_bundle(self, version: str) -> bytes:
        """A stored snapshot as a PKG export bundle (.tar.gz bytes)."""
        bundle: bytes = self._send(_Calls.export_bundle(version))
        return bundle

    def verify_audit(self, *, env: str | None = None) -> dict[str, Any]:
        """Walk an env's audit chain: `{ok, rows, signed, first_break}`."""
        report: dict[str, Any] = self._send(_Calls.verify_audit(env))
        return report

    def push_bundle(
        self,
        bundle: bytes,
        *,
        version: str | None = None,
        env: str | None = None,
        entrypoint: str | None = None,
    ) -> dict[str, Any]:
        """Create a snapshot from an OPA bundle (.tar.gz bytes)."""
        call = _Calls.push_bundle(bundle, version=version, env=env, entrypoint=entrypoint)
        snapshot: dict[str, Any] = self._send(call)
        return snapshot

    def validate(self, version: str) -> dict[str, Any]:
        """Run a stored snapshot's fixtures on the server; the run's `success` says how it went."""
        run: dict[str, Any] = self._send(_Calls.validate(version))
        return run

    def promote(
        self,
        version: str,
        *,
        reason: str | None = None,
        actor: str | None = None,
        force: bool = False,
        env: str | None = None,
    ) -> dict[str, Any]:
        call = _Calls.promote(version, reason=reason, actor=actor, force=force, env=env)
        promotion: dict[str, Any] = self._send(call)
        return promotion

    def rollback(
        self,
        *,
        to_version: str | None = None,
        reason: str | None = None,
        actor: str | None = None,
        env: str | None = None,
    ) -> dict[str, Any]:
        call = _Calls.rollback(to_version=to_version, reason=reason, actor=actor, env=env)
        promotion: dict[str, Any] = self._send(call)
        return promotion

    def compare(
        self,
        a: str,
        b: str,
        *,
        items: list[dict[str, Any]] | None = None,
        fixtures_of: str | None = None,
    ) -> dict[str, Any]:
        """How B decides differently from A on `items` (or on a version's fixtures)."""
        call = _Calls.compare(a, b, items=items, fixtures_of=fixtures_of)
        comparison: dict[str, Any] = self._send(call)
        return comparison

    def health(self) -> dict[str, Any]:
        health: dict[str, Any] = self._send(_Calls.health())
        return health

    def metadata(self) -> dict[str, Any]:
        metadata: dict[str, Any] = self._send(_Calls.metadata())
        return metadata

    def decision(self, decision_id: str) -> dict[str, Any]:
        """One logged decision (admin; the server needs `PKG_DECISION_LOG=database`)."""
        record: dict[str, Any] = self._send(_Calls.decision(decision_id))
        return record

    def decisions(
        self, *, version: str | None = None, since: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Logged decisions, newest first."""
        body: dict[str, Any] = self._send(
            _Calls.decisions(version=version, since=since, limit=limit)
        )
        items: list[dict[str, Any]] = body["items"]
        return items

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

    async def _send(self, call: _Call) -> Any:
        try:
            response = await self._http.request(
                call.method,
                call.path,
                json=call.json,
                params=call.params,
                content=call.content,
                headers=call.headers,
            )
        except httpx.HTTPError as exc:
            raise PKGConnectionError(f"cannot reach {self._http.base_url}: {exc}") from exc
        return _decode(response, call)

    async def evaluate(
        self,
        facts: dict[str, Any],
        *,
        version: str | None = None,
        target: str | None = None,
        region: str | None = None,
        subject: str | None = None,
        explain: bool = False,
        entrypoint: str | None = None,
    ) -> dict[str, Any]:
        call = _Calls.evaluate(
            facts,
            version=version,
            target=target,
            region=region,
            subject=subject,
            explain=explain,
            entrypoint=entrypoint,
        )
        decision: dict[str, Any] = await self._send(call)
        return decision

    async def batch(
        self,
        items: list[dict[str, Any]],
        *,
        version: str | None = None,
        target: str | None = None,
        region: str | None = None,
        subject: str | None = None,
    ) -> list[dict[str, Any]]:
        call = _Calls.batch(items, version=version, target=target, region=region, subject=subject)
        decisions: list[dict[str, Any]] = (await self._send(call))["items"]
        return decisions

    async def push(
        self, document: dict[str, Any], *, signature: str | None = None
    ) -> dict[str, Any]:
        snapshot: dict[str, Any] = await self._send(_Calls.push(document, signature))
        return snapshot

    async def export_bundle(self, version: str) -> bytes:
        bundle: bytes = await self._send(_Calls.export_bundle(version))
        return bundle

    async def verify_audit(self, *, env: str | None = None) -> dict[str, Any]:
        report: dict[str, Any] = await self._send(_Calls.verify_audit(env))
        return report

    async def push_bundle(
        self,
        bundle: bytes,
        *,
        version: str | None = None,
        env: str | None = None,
        entrypoint: str | None = None,
    ) -> dict[str, Any]:
        call = _Calls.push_bundle(bundle, version=version, env=env, entrypoint=entrypoint)
        snapshot: dict[str, Any] = await self._send(call)
        return snapshot

    async def validate(self, version: str) -> dict[str, Any]:
        run: dict[str, Any] = await self._send(_Calls.validate(version))
        return run

    async def promote(
        self,
        version: str,
        *,
        reason: str | None = None,
        actor: str | None = None,
        force: bool = False,
        env: str | None = None,
    ) -> dict[str, Any]:
        call = _Calls.promote(version, reason=reason, actor=actor, force=force, env=env)
        promotion: dict[str, Any] = await self._send(call)
        return promotion

    async def rollback(
        self,
        *,
        to_version: str | None = None,
        reason: str | None = None,
        actor: str | None = None,
        env: str | None = None,
    ) -> dict[str, Any]:
        call = _Calls.rollback(to_version=to_version, reason=reason, actor=actor, env=env)
        promotion: dict[str, Any] = await self._send(call)
        return promotion

    async def compare(
        self,
        a: str,
        b: str,
        *,
        items: list[dict[str, Any]] | None = None,
        fixtures_of: str | None = None,
    ) -> dict[str, Any]:
        call = _Calls.compare(a, b, items=items, fixtures_of=fixtures_of)
        comparison: dict[str, Any] = await self._send(call)
        return comparison

    async def health(self) -> dict[str, Any]:
        health: dict[str, Any] = await self._send(_Calls.health())
        return health

    async def metadata(self) -> dict[str, Any]:
        metadata: dict[str, Any] = await self._send(_Calls.metadata())
        return metadata

    async def decision(self, decision_id: str) -> dict[str, Any]:
        record: dict[str, Any] = await self._send(_Calls.decision(decision_id))
        return record

    async def decisions(
        self, *, version: str | None = None, since: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        body: dict[str, Any] = await self._send(
            _Calls.decisions(version=version, since=since, limit=limit)
        )
        items: list[dict[str, Any]] = body["items"]
        return items

    async def status(self) -> dict[str, Any]:
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
