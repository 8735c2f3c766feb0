"""PKG's HTTP API, each route described once as a `Call`: decisions, snapshots, comparisons
and health here, governance and lanes in `pkg_client.governance`. `PKGHttpClient` and
`AsyncPKGHttpClient` bind each function as a method of the same name and signature."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pkg_client.call import (
    Call,
    body,
    is_ok,
    items_of,
    nothing,
    plain,
    query,
    raw_bytes,
    segment,
    text,
)
from pkg_client.types import (
    Comparison,
    Decision,
    DecisionRecord,
    Facts,
    Fixture,
    Health,
    Metadata,
    PolicyDocument,
    Simulation,
    Snapshot,
    SnapshotSummary,
)

YAML = "application/yaml"
GZIP = "application/gzip"


# ---------------------------------------------------------------- decisions
def evaluate(
    facts: Facts,
    *,
    version: str | None = None,
    target: str | None = None,
    region: str | None = None,
    subject: str | None = None,
    explain: bool = False,
    entrypoint: str | None = None,
) -> Call[Decision]:
    """One decision on the active snapshot, a canary lane's (`target`, `region`, `subject`) or
    a pinned `version`; `explain=True` adds, per rule, which conditions held."""
    routing = query(
        version=version,
        target=target,
        region=region,
        subject=subject,
        explain=explain,
        entrypoint=entrypoint,
    )
    return Call("POST", "/evaluate", json=plain(facts), params=routing)


def batch(
    items: Sequence[Facts],
    *,
    version: str | None = None,
    target: str | None = None,
    region: str | None = None,
    subject: str | None = None,
) -> Call[list[Decision]]:
    """Up to the server's batch limit (100 by default) of decisions in one request, in order."""
    routing = query(version=version, target=target, region=region, subject=subject)
    payload = {"items": [plain(facts) for facts in items]}
    return Call("POST", "/evaluate/batch", items_of, json=payload, params=routing)


def decision(decision_id: str) -> Call[DecisionRecord]:
    """One logged decision, by the `decision_id` its answer carried (admin; the server needs
    `PKG_DECISION_LOG=database`)."""
    return Call("GET", f"/decisions/{segment(decision_id)}")


def decisions(
    *, version: str | None = None, since: datetime | str | None = None, limit: int | None = None
) -> Call[list[DecisionRecord]]:
    """Logged decisions, newest first (admin)."""
    params = query(version=version, since=since, limit=limit)
    return Call("GET", "/decisions", items_of, params=params)


# ---------------------------------------------------------------- snapshots
def push(document: PolicyDocument | str, *, signature: str | None = None) -> Call[Snapshot]:
    """Create a snapshot from a policy document: a mapping, or its YAML/JSON text. It is
    validated completely first (`PKGError` 422 naming each bad field). `signature`: a
    `<key id>:<base64>` from `pkgctl sign`."""
    headers = {"PKG-Signature": signature} if signature else {}
    if isinstance(document, str):
        headers["Content-Type"] = YAML  # YAML is a superset of JSON: either text is read
        content = document.encode()
        return Call("POST", "/snapshots", expect=(201,), content=content, headers=headers)
    return Call("POST", "/snapshots", expect=(201,), json=plain(document), headers=headers)


def push_bundle(
    bundle: bytes,
    *,
    version: str | None = None,
    env: str | None = None,
    entrypoint: str | None = None,
    strict_builtin_errors: bool = False,
) -> Call[Snapshot]:
    """Create a snapshot from an OPA bundle or a PKG export bundle (.tar.gz bytes)."""
    params = query(
        version=version,
        env=env,
        entrypoint=entrypoint,
        strict_builtin_errors=strict_builtin_errors,
    )
    headers = {"Content-Type": GZIP}
    return Call("POST", "/snapshots", expect=(201,), content=bundle, params=params, headers=headers)


def export_bundle(version: str) -> Call[bytes]:
    """A stored snapshot as a PKG export bundle (.tar.gz bytes: document, fixtures, wasm)."""
    return Call("GET", f"/snapshots/{segment(version)}/bundle", raw_bytes)


def snapshots(
    *, env: str | None = None, limit: int | None = None, offset: int | None = None
) -> Call[list[SnapshotSummary]]:
    """Stored snapshots, newest first."""
    return Call("GET", "/snapshots", params=query(env=env, limit=limit, offset=offset))


def snapshot(version: str) -> Call[Snapshot]:
    """A stored snapshot, with its policy document."""
    return Call("GET", f"/snapshots/{segment(version)}")


def active_snapshot(*, env: str | None = None) -> Call[Snapshot]:
    """The active snapshot of `env` (default: the server's)."""
    return Call("GET", "/snapshots/active", params=query(env=env))


def delete_snapshot(version: str) -> Call[None]:
    """Delete a snapshot that was never active (one that was is refused: 409)."""
    return Call("DELETE", f"/snapshots/{segment(version)}", nothing, expect=(204,))


def simulate(version: str, facts: Facts) -> Call[Simulation]:
    """Dry-run facts on any stored version (nothing is logged, nothing changes)."""
    return Call("POST", f"/snapshots/{segment(version)}/simulate", json=plain(facts))


def fixtures(version: str) -> Call[list[Fixture]]:
    """A snapshot's validation fixtures."""
    return Call("GET", f"/snapshots/{segment(version)}/fixtures")


def add_fixtures(version: str, fixtures: Sequence[Fixture]) -> Call[list[Fixture]]:
    """Add fixtures to a stored snapshot; answers every fixture it now has."""
    payload = {"fixtures": [dict(fixture) for fixture in fixtures]}
    return Call("POST", f"/snapshots/{segment(version)}/fixtures", expect=(201,), json=payload)


def compare(
    a: str,
    b: str,
    *,
    items: Sequence[Facts] | None = None,
    fixtures_of: str | None = None,
) -> Call[Comparison]:
    """Decide the same inputs on versions `a` and `b`: per input, whether and how `b`
    differs. The inputs: `items` (fact sets) or the stored fixtures of `fixtures_of`."""
    path = f"/snapshots/{segment(a)}/compare/{segment(b)}"
    facts = None if items is None else [plain(item) for item in items]
    return Call("POST", path, json=body(items=facts, fixtures_of=fixtures_of))


def replay(
    version: str,
    *,
    since: str | None = None,
    until: str | None = None,
    answered_by: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Call[dict[str, Any]]:
    """Decide the logged decisions again on `version` (admin; the server needs
    `PKG_DECISION_LOG=database`): how its answers differ from what was answered then.
    `since`/`until`: `24h` or ISO 8601; `answered_by`: only records that version answered;
    a truncated answer's `next_cursor` goes on as `cursor`."""
    fields = body(since=since, until=until, version=answered_by, limit=limit, cursor=cursor)
    return Call("POST", f"/snapshots/{segment(version)}/replay", json=fields)


def production_coverage(version: str, *, since: str | None = None) -> Call[dict[str, Any]]:
    """How often each rule of `version` fired across the fleet, and which never did, over
    `since` back from now (`24h` by default; `30m`, `7d`, ...)."""
    return Call("GET", f"/snapshots/{segment(version)}/coverage", params=query(since=since))


def diff(a: str, b: str) -> Call[dict[str, Any]]:
    """What changed from version `a` to `b`: rules, subtask types, fixtures (nothing runs)."""
    return Call("GET", f"/snapshots/{segment(a)}/diff/{segment(b)}")


def diff_report(a: str, b: str, *, format: str = "markdown") -> Call[str]:
    """The same diff as text: `markdown` (for a pull-request comment) or `text`."""
    path = f"/snapshots/{segment(a)}/diff/{segment(b)}"
    return Call("GET", path, text, params={"format": format})


# ---------------------------------------------------------------- health
def health() -> Call[Health]:
    """Liveness (no token needed): `status` says whether the replica is degraded, and why."""
    return Call("GET", "/health")


def ready() -> Call[bool]:
    """Readiness: True once the replica serves an active snapshot."""
    return Call("GET", "/health/ready", is_ok, expect=(200, 503))


def metadata() -> Call[Metadata]:
    """What the replica serves and how it got there (evaluator role or more)."""
    return Call("GET", "/metadata")


def metrics() -> Call[str]:
    """The Prometheus exposition text."""
    return Call("GET", "/metrics", text)


def policy_schema() -> Call[dict[str, Any]]:
    """The JSON Schema of policy documents (draft 2020-12)."""
    return Call("GET", "/schemas/policy.json")
