"""`pkgctl`: run the server, and drive one over HTTP (like `opa` and `cerbosctl`)."""

from __future__ import annotations

import base64
import ipaddress
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from app import trust_cli
from app.adapters.observability.logging import configure_logging
from app.domain.bundle import GZIP_MAGIC
from app.domain.document import parse_policy_document
from app.domain.errors import DocumentError
from app.domain.fixtures import run_fixtures
from app.services.evaluator import PKGEvaluator
from app.services.policy_text import load_policy_text
from app.wiring import install_defaults

cli = typer.Typer(
    help="PKG policy service: serve, push, validate, promote, evaluate.",
    no_args_is_help=True,
    add_completion=False,
)

Url = Annotated[str, typer.Option("--url", envvar="PKG_URL", help="Server base URL")]
Token = Annotated[
    str | None,
    typer.Option(
        "--token", envvar="PKG_TOKEN", show_default=False, help="Bearer token (admin for writes)"
    ),
]
DEFAULT_URL = "http://127.0.0.1:8080"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (PKG_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (PKG_PORT)")] = None,
) -> None:
    """Serve the API. Without tokens configured it only binds a loopback address."""
    import uvicorn

    from app.main import create_app
    from app.settings import Settings

    settings = Settings()
    host = host or settings.host
    port = port or settings.port
    if not settings.auth_enabled and not is_loopback(host):
        _fail(
            f"refusing to bind {host}: no tokens are configured. Set PKG_ADMIN_TOKENS (and "
            "PKG_EVALUATOR_TOKENS), or bind 127.0.0.1."
        )
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
    )


@cli.command()
def migrate(
    database_url: Annotated[str | None, typer.Option(envvar="PKG_DATABASE_URL")] = None,
) -> None:
    """Upgrade the database schema to the newest migration."""
    import asyncio

    from app.adapters.db.migrations import upgrade_to_head
    from app.settings import Settings

    url = database_url or Settings().database_url
    asyncio.run(upgrade_to_head(url))
    typer.echo("database is at the newest migration")


SigningKey = Annotated[
    Path | None,
    typer.Option(
        "--key",
        envvar="PKG_SIGNING_KEY",
        show_default=False,
        help="Ed25519 private key (PEM) to sign with",
    ),
]
PUSHED_KEYS = (
    "version",
    "env",
    "engine",
    "checksum",
    "rules_count",
    "entrypoints",
    "revision",
    "signing_key_id",
)


@cli.command()
def push(
    file: Path,
    url: Url = DEFAULT_URL,
    token: Token = None,
    version: Annotated[str | None, typer.Option(help="Bundle: version (default: revision)")] = None,
    env: Annotated[str | None, typer.Option(help="Bundle: env")] = None,
    entrypoint: Annotated[str | None, typer.Option(help="Bundle: default entrypoint")] = None,
    key: SigningKey = None,
    signature: Annotated[
        Path | None, typer.Option(help="A detached signature from `pkgctl sign`")
    ] = None,
) -> None:
    """Create a snapshot from a policy document (YAML or JSON), signed with --key if given, or
    from a bundle (.tar.gz)."""
    if _is_gzip(file):
        params = {"version": version, "env": env, "entrypoint": entrypoint}
        body = _call(
            "POST", url, "/snapshots", token, content=file.read_bytes(),
            params={k: v for k, v in params.items() if v is not None}, expect=201,
        )  # fmt: skip  # one request, its arguments grouped by meaning
        _print(body, keys=PUSHED_KEYS)
        return
    document = read_document(file)
    headers: dict[str, str] = {}
    if signature is not None:
        headers = {"PKG-Signature": trust_cli.signature_header_from_file(signature)}
    elif key is not None:
        headers = {"PKG-Signature": trust_cli.sign_document(document, key)["header"]}
    _print(
        _call("POST", url, "/snapshots", token, json=document, expect=201, headers=headers),
        keys=PUSHED_KEYS,
    )


def _is_gzip(file: Path) -> bool:
    try:
        with file.open("rb") as handle:
            return handle.read(2) == GZIP_MAGIC
    except OSError as exc:
        _fail(f"cannot read {file}: {exc}")
    return False


@cli.command()
def validate(version: str, url: Url = DEFAULT_URL, token: Token = None) -> None:
    """Run a stored snapshot's fixtures on the server; exit 1 if any failed."""
    run = _call("POST", url, "/validation/runs", token, json={"version": version}, expect=201)
    _print(run)
    if not run.get("success"):
        raise typer.Exit(1)


@cli.command()
def promote(
    version: str,
    url: Url = DEFAULT_URL,
    token: Token = None,
    reason: Annotated[str | None, typer.Option()] = None,
    actor: Annotated[str, typer.Option(envvar="USER")] = "pkgctl",
    force: Annotated[bool, typer.Option(help="Skip the passed-validation requirement")] = False,
    env: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Make VERSION the active snapshot of its env (audited)."""
    body = {"version": version, "reason": reason, "actor": actor, "force": force, "env": env}
    _print(_call("POST", url, "/promotions", token, json=body, expect=201))


@cli.command()
def rollback(
    url: Url = DEFAULT_URL,
    token: Token = None,
    to: Annotated[str | None, typer.Option("--to", help="Version (default: previous)")] = None,
    reason: Annotated[str | None, typer.Option()] = None,
    actor: Annotated[str, typer.Option(envvar="USER")] = "pkgctl",
    env: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Go back to the previously active version (audited)."""
    body = {"to_version": to, "reason": reason, "actor": actor, "env": env}
    _print(_call("POST", url, "/promotions/rollback", token, json=body, expect=201))


@cli.command("eval")
def evaluate(
    facts: Annotated[str, typer.Argument(help="JSON text, @file.json, or - for stdin")],
    url: Url = DEFAULT_URL,
    token: Token = None,
    version: Annotated[str | None, typer.Option(help="Evaluate a stored version")] = None,
    explain: Annotated[bool, typer.Option(help="Show which conditions held")] = False,
    entrypoint: Annotated[str | None, typer.Option(help="A wasm policy's entrypoint")] = None,
) -> None:
    """Evaluate task facts on the server."""
    params: dict[str, Any] = {"explain": explain}
    if version:
        params["version"] = version
    if entrypoint:
        params["entrypoint"] = entrypoint
    _print(_call("POST", url, "/evaluate", token, json=read_facts(facts), params=params))


@cli.command()
def status(url: Url = DEFAULT_URL, token: Token = None) -> None:
    """What the server serves, and whether it is healthy."""
    health = _call("GET", url, "/health", token)
    metadata = _call("GET", url, "/metadata", token)
    _print({"health": health, "metadata": metadata})


@cli.command("test")
def test_document(file: Path) -> None:
    """Run a policy document's fixtures locally, with no server (like `opa test`)."""
    configure_logging(level="WARNING", json=False)
    try:
        document = parse_policy_document(read_document(file))
    except DocumentError as exc:
        for error in exc.errors:
            typer.echo(f"{file}: {error.loc}: {error.msg}", err=True)
        raise typer.Exit(2) from exc
    install_defaults()
    evaluator = PKGEvaluator(document.to_snapshot())
    report = run_fixtures(evaluator.evaluate, list(document.fixtures))
    for failure in report["failures"]:
        typer.echo(f"FAIL {failure['name']}", err=True)
        for line in failure.get("mismatches", []):
            typer.echo(f"  {line}", err=True)
    typer.echo(f"{document.version}: {report['passed']} passed, {report['failed']} failed")
    if report["failed"] or not report["total"]:
        raise typer.Exit(1)


# ---------------------------------------------------------------------------- helpers
def read_document(file: Path) -> dict[str, Any]:
    """Load a document; a `wasm.file` path (relative to the document) becomes `wasm.artifact`
    (a module) or `wasm.bundle` (an OPA bundle, .tar.gz), base64-encoded."""
    try:
        document = load_policy_text(file.read_text())
    except OSError as exc:
        _fail(f"cannot read {file}: {exc}")
    except DocumentError as exc:  # unparseable or over a bound: exit 2, like any bad document
        _fail("\n".join(f"{file}: {e.loc}: {e.msg}" for e in exc.errors))
    wasm = document.get("wasm")
    if isinstance(wasm, dict) and "file" in wasm:
        artifact_path = (file.parent / str(wasm.pop("file"))).resolve()
        try:
            content = artifact_path.read_bytes()
        except OSError as exc:
            _fail(f"cannot read the wasm artifact {artifact_path}: {exc}")
        key = "bundle" if content.startswith(GZIP_MAGIC) else "artifact"
        wasm[key] = base64.b64encode(content).decode("ascii")
    return document


def read_facts(spec: str) -> Any:
    if spec == "-":
        text = sys.stdin.read()
    elif spec.startswith("@"):
        text = Path(spec[1:]).read_text()
    else:
        text = spec
    try:
        return json.loads(text)
    except ValueError as exc:
        _fail(f"facts are not valid JSON: {exc}")


def _call(
    method: str,
    url: str,
    path: str,
    token: str | None,
    *,
    json: Any = None,
    content: bytes | None = None,
    params: dict[str, Any] | None = None,
    expect: int = 200,
    headers: dict[str, str] | None = None,
    raw: bool = False,
) -> Any:
    headers = {**(headers or {}), **({"Authorization": f"Bearer {token}"} if token else {})}
    if content is not None:
        headers.setdefault("Content-Type", "application/gzip")
    try:
        response = httpx.request(
            method, url.rstrip("/") + path, json=json, content=content, params=params,
            headers=headers, timeout=30.0,
        )  # fmt: skip  # one request, its arguments grouped by meaning
    except httpx.HTTPError as exc:
        _fail(f"cannot reach {url}: {exc}")
    if raw and response.status_code == expect:
        return response.content
    body = response.json() if response.content else None
    if response.status_code != expect:
        detail = body.get("detail") if isinstance(body, dict) else response.text
        typer.echo(f"error {response.status_code}: {detail}", err=True)
        for error in (body or {}).get("errors", []) if isinstance(body, dict) else []:
            typer.echo(f"  {error.get('loc')}: {error.get('msg')}", err=True)
        raise typer.Exit(1)
    return body


def _print(body: Any, *, keys: tuple[str, ...] | None = None) -> None:
    if keys and isinstance(body, dict):
        body = {k: body.get(k) for k in keys}
    typer.echo(json.dumps(body, indent=2, sort_keys=True, default=str))


def _fail(message: str) -> Any:
    typer.echo(message, err=True)
    raise typer.Exit(2)


# keygen, sign, export, import, audit verify (app/trust_cli.py)
trust_cli.register(cli, call=_call, show=_print, fail=_fail)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
