"""`pkgctl`: run the server, and drive one over HTTP (like `opa` and `cerbosctl`)."""

from __future__ import annotations

import base64
import ipaddress
import json
import sys
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer

from app import trust_cli
from app.adapters.observability.logging import configure_logging
from app.client import PKGConnectionError, PKGError, PKGHttpClient
from app.comparison_report import FactsFileError, add_totals, chunks, describe, read_jsonl, summary
from app.domain.bundle import GZIP_MAGIC
from app.domain.document import PolicyDocument, parse_policy_document
from app.domain.errors import DocumentError
from app.domain.fixtures import run_fixtures
from app.services.evaluator import PKGEvaluator
from app.services.policy_format import format_policy
from app.services.policy_text import load_policy_text
from app.wiring import install_defaults

T = TypeVar("T")

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
    workers: Annotated[
        int | None, typer.Option(min=1, help="Worker processes (PKG_WORKERS)")
    ] = None,
) -> None:
    """Serve the API. Without tokens configured it only binds a loopback address."""
    from app.serving import serve as run_server
    from app.settings import Settings

    settings = Settings()
    host = host or settings.host
    port = port or settings.port
    if not settings.auth_enabled and not is_loopback(host):
        _fail(
            f"refusing to bind {host}: no tokens are configured. Set PKG_ADMIN_TOKENS (and "
            "PKG_EVALUATOR_TOKENS), or bind 127.0.0.1."
        )
    run_server(settings, host=host, port=port, workers=workers or settings.workers)


@cli.command()
def migrate(
    database_url: Annotated[str | None, typer.Option(envvar="PKG_DATABASE_URL")] = None,
) -> None:
    """Upgrade the database schema to the newest migration."""
    import asyncio

    from app.adapters.db.migrations import upgrade_to_head
    from app.settings import Settings

    settings = Settings()
    configure_logging(level=settings.log_level, json=settings.log_json)
    url = database_url or settings.database_url
    asyncio.run(upgrade_to_head(url))
    typer.echo("database is at the newest migration")


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
SigningKey = Annotated[
    Path | None,
    typer.Option(
        "--key",
        envvar="PKG_SIGNING_KEY",
        show_default=False,
        help="Ed25519 private key (PEM) to sign a document with",
    ),
]


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
    """Create a snapshot from a policy document (YAML or JSON), signed with --key or
    --signature if given, or from a bundle (.tar.gz: an OPA bundle or a `pkgctl export`)."""
    if _is_gzip(file):
        bundle = file.read_bytes()
        with _client(url, token) as pkg:
            snapshot = _server(
                lambda: pkg.push_bundle(bundle, version=version, env=env, entrypoint=entrypoint)
            )
        _print(snapshot, keys=PUSHED_KEYS)
        return
    document = read_document(file)
    header = None
    if signature is not None:
        header = trust_cli.signature_header_from_file(signature)
    elif key is not None:
        header = trust_cli.sign_document(document, key)["header"]
    with _client(url, token) as pkg:
        snapshot = _server(lambda: pkg.push(document, signature=header))
    _print(snapshot, keys=PUSHED_KEYS)


def _is_gzip(file: Path) -> bool:
    try:
        with file.open("rb") as handle:
            return handle.read(2) == GZIP_MAGIC
    except OSError as exc:
        _fail(f"cannot read {file}: {exc}")


@cli.command()
def validate(version: str, url: Url = DEFAULT_URL, token: Token = None) -> None:
    """Run a stored snapshot's fixtures on the server; exit 1 if any failed."""
    with _client(url, token) as pkg:
        run = _server(lambda: pkg.validate(version))
    _print(run)
    if not run.get("success"):
        raise typer.Exit(EXIT_FAILED)


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
    with _client(url, token) as pkg:
        _print(
            _server(lambda: pkg.promote(version, reason=reason, actor=actor, force=force, env=env))
        )


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
    with _client(url, token) as pkg:
        _print(_server(lambda: pkg.rollback(to_version=to, reason=reason, actor=actor, env=env)))


@cli.command("eval")
def evaluate(
    facts: Annotated[str, typer.Argument(help="JSON text, @file.json, or - for stdin")],
    policy: Annotated[
        Path | None,
        typer.Option(help="Decide locally with this policy document, no server (like opa eval)"),
    ] = None,
    url: Url = DEFAULT_URL,
    token: Token = None,
    version: Annotated[str | None, typer.Option(help="Evaluate a stored version")] = None,
    explain: Annotated[bool, typer.Option(help="Show which conditions held")] = False,
    entrypoint: Annotated[str | None, typer.Option(help="A wasm policy's entrypoint")] = None,
) -> None:
    """Evaluate task facts: locally with --policy FILE, else on the server."""
    task_facts = read_facts(facts)
    if policy is not None:
        _print(_evaluate_locally(policy, task_facts, explain=explain))
        return
    with _client(url, token) as pkg:
        _print(
            _server(
                lambda: pkg.evaluate(
                    task_facts, version=version, explain=explain, entrypoint=entrypoint
                )
            )
        )


@cli.command()
def compare(
    a: Annotated[str, typer.Argument(help="The version decisions are compared against")],
    b: Annotated[str, typer.Argument(help="The candidate version")],
    facts_file: Annotated[
        Path | None, typer.Argument(help="JSON Lines: one facts object per line (- for stdin)")
    ] = None,
    url: Url = DEFAULT_URL,
    token: Token = None,
    fixtures_of: Annotated[
        str | None, typer.Option(help="Compare on this version's stored fixtures instead")
    ] = None,
    fail_on_diff: Annotated[bool, typer.Option(help="Exit 1 if any decision differs")] = False,
    batch: Annotated[int, typer.Option(min=1, help="Fact sets per request")] = 100,
) -> None:
    """Decide the same facts on A and B and print how the decisions differ (for CI)."""
    totals: Counter[str] = Counter()
    with _client(url, token) as pkg:
        if fixtures_of is not None or facts_file is None:
            body = _server(lambda: pkg.compare(a, b, fixtures_of=fixtures_of or a))
            for item in body["items"]:
                _echo_lines(describe(item, label=f"fixture {item['name']!r}"))
            add_totals(totals, body["totals"])
        else:
            for part in chunks(_read_jsonl(facts_file), batch):
                items = [facts for _, facts in part]
                body = _server(partial(pkg.compare, a, b, items=items))
                for (number, _facts), item in zip(part, body["items"], strict=True):
                    _echo_lines(describe(item, label=f"line {number}"))
                add_totals(totals, body["totals"])
    typer.echo(summary(a, b, totals))
    if fail_on_diff and totals["different"]:
        raise typer.Exit(1)


def _read_jsonl(facts_file: Path) -> list[tuple[int, dict[str, Any]]]:
    try:
        text = sys.stdin.read() if str(facts_file) == "-" else facts_file.read_text()
        return read_jsonl(text.splitlines())
    except (OSError, FactsFileError) as exc:
        _fail(f"{facts_file}: {exc}")


def _echo_lines(lines: list[str]) -> None:
    for line in lines:
        typer.echo(line)


@cli.command()
def decisions(
    decision_id: Annotated[str | None, typer.Argument(help="One decision, by its id")] = None,
    url: Url = DEFAULT_URL,
    token: Token = None,
    version: Annotated[str | None, typer.Option(help="Only this snapshot version")] = None,
    since: Annotated[str | None, typer.Option(help="ISO 8601 time, inclusive")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first")] = 20,
) -> None:
    """Print logged decisions (the server needs PKG_DECISION_LOG=database; admin token)."""
    with _client(url, token) as pkg:
        if decision_id is not None:
            _print(_server(lambda: pkg.decision(decision_id)))
            return
        records = _server(lambda: pkg.decisions(version=version, since=since, limit=limit))
    for record in records:
        typer.echo(json.dumps(record, sort_keys=True, default=str))


@cli.command()
def status(url: Url = DEFAULT_URL, token: Token = None) -> None:
    """What the server serves, and whether it is healthy (any token with the evaluator role
    shows the metadata; without one, health only)."""
    with _client(url, token) as pkg:
        health = _server(pkg.health)
        try:
            metadata: dict[str, Any] | None = pkg.metadata()
        except PKGError as exc:
            if exc.status not in (401, 403):
                _server_error(exc)
            typer.echo(f"metadata needs a token with the evaluator role ({exc})", err=True)
            metadata = None
        except PKGConnectionError as exc:
            _fail(str(exc), code=EXIT_FAILED)
    _print({"health": health, "metadata": metadata})


@cli.command("test")
def test_document(file: Path) -> None:
    """Run a policy document's fixtures locally, with no server (like `opa test`)."""
    configure_logging(level="WARNING", json=False)
    document = _parse(file)
    install_defaults()
    evaluator = PKGEvaluator(document.to_snapshot())
    report = run_fixtures(evaluator.evaluate, list(document.fixtures))
    for failure in report["failures"]:
        typer.echo(f"FAIL {failure['name']}", err=True)
        for line in failure.get("mismatches", []):
            typer.echo(f"  {line}", err=True)
    typer.echo(f"{document.version}: {report['passed']} passed, {report['failed']} failed")
    if report["failed"] or not report["total"]:
        raise typer.Exit(EXIT_FAILED)


@cli.command("fmt")
def fmt(
    files: Annotated[list[Path], typer.Argument(help="Policy documents (YAML or JSON)")],
    check: Annotated[
        bool, typer.Option("--check", help="Change nothing; exit 1 if a file is not canonical")
    ] = False,
) -> None:
    """Rewrite policy documents in canonical form (stable key order), like `opa fmt`."""
    unformatted = []
    for file in files:
        raw = _read_raw(file)
        _parse(file, raw=raw)  # only a valid document is rewritten
        text = format_policy(raw, as_json=file.suffix.lower() == ".json")
        if text == file.read_text():
            continue
        unformatted.append(file)
        if check:
            typer.echo(f"{file}: not in canonical form (run pkgctl fmt {file})", err=True)
        else:
            file.write_text(text)
            typer.echo(f"formatted {file}")
    if check and unformatted:
        raise typer.Exit(EXIT_FAILED)


# ---------------------------------------------------------------------------- helpers
# exit codes, the same for every command: 0 ok; 1 a policy, test or server failure (a failed
# fixture or validation, a refused promotion, an unreachable server); 2 usage or invalid input
# (a bad document or facts, an unknown version, a missing or wrong token)
EXIT_FAILED = 1
EXIT_INVALID = 2
INVALID_STATUSES = frozenset({400, 401, 403, 404, 413, 422})


def _client(url: str, token: str | None) -> PKGHttpClient:
    return PKGHttpClient(url, token=token)


def _server(call: Callable[[], T]) -> T:
    """Run one client call; a problem answer or an unreachable server is printed once."""
    try:
        return call()
    except PKGError as exc:
        _server_error(exc)
    except PKGConnectionError as exc:
        _fail(str(exc), code=EXIT_FAILED)


def _server_error(exc: PKGError) -> NoReturn:
    if exc.errors:
        typer.echo(f"error {exc.status}: {exc.title or 'invalid input'}", err=True)
        for error in exc.errors:
            typer.echo(f"  {error.get('loc')}: {error.get('msg')}", err=True)
    else:
        typer.echo(f"error {exc.status}: {exc.detail}", err=True)
    raise typer.Exit(EXIT_INVALID if exc.status in INVALID_STATUSES else EXIT_FAILED)


def _read_raw(file: Path) -> dict[str, Any]:
    try:
        return load_policy_text(file.read_text())
    except OSError as exc:
        _fail(f"cannot read {file}: {exc}")
    except DocumentError as exc:
        _document_errors(file, exc)


def _document_errors(file: Path, exc: DocumentError) -> NoReturn:
    for error in exc.errors:
        typer.echo(f"{file}: {error.loc}: {error.msg}", err=True)
    raise typer.Exit(EXIT_INVALID) from exc


def _parse(file: Path, *, raw: dict[str, Any] | None = None) -> PolicyDocument:
    """A document checked completely; every problem printed once, exit 2."""
    try:
        return parse_policy_document(raw if raw is not None else read_document(file))
    except DocumentError as exc:
        _document_errors(file, exc)


def _evaluate_locally(file: Path, facts: Any, *, explain: bool) -> dict[str, Any]:
    configure_logging(level="WARNING", json=False)
    document = _parse(file)
    install_defaults()
    evaluator = PKGEvaluator(document.to_snapshot())
    try:
        decision: dict[str, Any] = evaluator.evaluate(facts)
    except ValueError as exc:  # facts the engine refuses: not an object, bad tags or signals
        _fail(f"invalid facts: {exc}")
    if explain:
        decision["explain"] = evaluator.explain(facts)
    return decision


def read_document(file: Path) -> dict[str, Any]:
    """Load a document; a `wasm.file` path (relative to the document) becomes `wasm.artifact`
    (a module) or `wasm.bundle` (an OPA bundle, .tar.gz), base64-encoded."""
    document = _read_raw(file)
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
    try:
        if spec == "-":
            text = sys.stdin.read()
        elif spec.startswith("@"):
            text = Path(spec[1:]).read_text()
        else:
            text = spec
    except OSError as exc:
        _fail(f"cannot read the facts: {exc}")
    try:
        return json.loads(text)
    except ValueError as exc:
        _fail(f"facts are not valid JSON: {exc}")


def _print(body: Any, *, keys: tuple[str, ...] | None = None) -> None:
    if keys and isinstance(body, dict):
        body = {k: body.get(k) for k in keys}
    typer.echo(json.dumps(body, indent=2, sort_keys=True, default=str))


def _fail(message: str, *, code: int = EXIT_INVALID) -> NoReturn:
    typer.echo(message, err=True)
    raise typer.Exit(code)


# keygen, sign, export, import, audit verify (app/trust_cli.py)
trust_cli.register(cli, client=_client, server=_server, show=_print, fail=_fail)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
