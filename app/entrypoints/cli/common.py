"""What every `pkgctl` command shares: the --url and --token options, the exit codes, and the
ways to call a server, read documents and facts, print answers and fail."""

from __future__ import annotations

import base64
import ipaddress
import json
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer

from app.adapters.observability.logging import configure_logging
from app.client import PKGConnectionError, PKGError, PKGHttpClient
from app.domain.bundle import GZIP_MAGIC
from app.domain.document import PolicyDocument, parse_policy_document
from app.domain.errors import DocumentError
from app.entrypoints.cli.human import cell, fields
from app.entrypoints.composition import install_defaults
from app.services.evaluator import PKGEvaluator
from app.services.policy_text import load_policy_text

T = TypeVar("T")

Url = Annotated[str, typer.Option("--url", envvar="PKG_URL", help="Server base URL")]
Token = Annotated[
    str | None,
    typer.Option(
        "--token", envvar="PKG_TOKEN", show_default=False, help="Bearer token (admin for writes)"
    ),
]
DEFAULT_URL = "http://127.0.0.1:8080"
JsonOutput = Annotated[
    bool, typer.Option("--json", help="Print the server's answer as JSON (for scripts)")
]

# exit codes, the same for every command: 0 ok; 1 a policy, test or server failure (a failed
# fixture or validation, a refused promotion, an unreachable server); 2 usage or invalid input
# (a bad document or facts, an unknown version, a missing or wrong token)
EXIT_FAILED = 1
EXIT_INVALID = 2
INVALID_STATUSES = frozenset({400, 401, 403, 404, 413, 422})


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def client(url: str, token: str | None) -> PKGHttpClient:
    return PKGHttpClient(url, token=token)


def server(call: Callable[[], T]) -> T:
    """Run one client call; a problem answer or an unreachable server is printed once."""
    try:
        return call()
    except PKGError as exc:
        server_error(exc)
    except PKGConnectionError as exc:
        fail(str(exc), code=EXIT_FAILED)


def server_error(exc: PKGError) -> NoReturn:
    if exc.errors:
        typer.echo(f"error {exc.status}: {exc.title or 'invalid input'}", err=True)
        for error in exc.errors:
            typer.echo(f"  {error.get('loc')}: {error.get('msg')}", err=True)
    else:
        typer.echo(f"error {exc.status}: {exc.detail}", err=True)
    raise typer.Exit(EXIT_INVALID if exc.status in INVALID_STATUSES else EXIT_FAILED)


def read_raw(file: Path) -> dict[str, Any]:
    try:
        return load_policy_text(file.read_text())
    except OSError as exc:
        fail(f"cannot read {file}: {exc}")
    except DocumentError as exc:
        document_errors(file, exc)


def document_errors(file: Path, exc: DocumentError) -> NoReturn:
    for error in exc.errors:
        typer.echo(f"{file}: {error.loc}: {error.msg}", err=True)
    raise typer.Exit(EXIT_INVALID) from exc


def parse(file: Path, *, raw: dict[str, Any] | None = None) -> PolicyDocument:
    """A document checked completely; every problem printed once, exit 2."""
    try:
        return parse_policy_document(raw if raw is not None else read_document(file))
    except DocumentError as exc:
        document_errors(file, exc)


def evaluate_locally(file: Path, facts: Any, *, explain: bool) -> dict[str, Any]:
    configure_logging(level="WARNING", json=False)
    document = parse(file)
    install_defaults()
    evaluator = PKGEvaluator(document.to_snapshot())
    try:
        decision: dict[str, Any] = evaluator.evaluate(facts)
    except ValueError as exc:  # facts the engine refuses: not an object, bad tags or signals
        fail(f"invalid facts: {exc}")
    if explain:
        decision["explain"] = evaluator.explain(facts)
    return decision


def read_document(file: Path) -> dict[str, Any]:
    """Load a document; a `wasm.file` path (relative to the document) becomes `wasm.artifact`
    (a module) or `wasm.bundle` (an OPA bundle, .tar.gz), base64-encoded."""
    document = read_raw(file)
    wasm = document.get("wasm")
    if isinstance(wasm, dict) and "file" in wasm:
        artifact_path = (file.parent / str(wasm.pop("file"))).resolve()
        try:
            content = artifact_path.read_bytes()
        except OSError as exc:
            fail(f"cannot read the wasm artifact {artifact_path}: {exc}")
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
        fail(f"cannot read the facts: {exc}")
    try:
        return json.loads(text)
    except ValueError as exc:
        fail(f"facts are not valid JSON: {exc}")


def show(body: Any, *, keys: tuple[str, ...] | None = None) -> None:
    """Print an answer as indented JSON (only `keys` of it, if given)."""
    if keys and isinstance(body, dict):
        body = {k: body.get(k) for k in keys}
    typer.echo(json.dumps(body, indent=2, sort_keys=True, default=str))


def output(body: Any, *, as_json: bool, human: Callable[[Any], list[str]] | None = None) -> None:
    """The answer: as JSON with `--json`, else for people (`human` lines, or the answer's
    fields, or a table of a list's items: app/entrypoints/cli/human.py)."""
    if as_json:
        show(body)
        return
    if human is not None:
        lines = human(body)
    elif isinstance(body, Mapping):
        lines = fields(body)
    else:
        lines = [cell(body)]
    for line in lines:
        typer.echo(line)


def fail(message: str, *, code: int = EXIT_INVALID) -> NoReturn:
    typer.echo(message, err=True)
    raise typer.Exit(code)
