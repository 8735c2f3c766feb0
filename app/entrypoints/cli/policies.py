"""`pkgctl push`, `validate`, `eval`, `test` and `fmt`: policy documents, on a server or locally."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from app.adapters.observability.logging import configure_logging
from app.domain.bundle import GZIP_MAGIC
from app.domain.fixtures import run_fixtures
from app.entrypoints.cli import human
from app.entrypoints.cli.app import cli
from app.entrypoints.cli.common import (
    DEFAULT_URL,
    EXIT_FAILED,
    JsonOutput,
    Token,
    Url,
    client,
    evaluate_locally,
    fail,
    output,
    parse,
    read_document,
    read_facts,
    read_raw,
    server,
    show,
)
from app.entrypoints.cli.coverage import report_coverage
from app.entrypoints.cli.human import fields
from app.entrypoints.cli.trust import sign_document, signature_header_from_file
from app.entrypoints.composition import install_defaults
from app.services.evaluator import PKGEvaluator
from app.services.policy_format import format_policy

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
    as_json: JsonOutput = False,
) -> None:
    """Create a snapshot from a policy document (YAML or JSON), signed with --key or
    --signature if given, or from a bundle (.tar.gz: an OPA bundle or a `pkgctl export`)."""
    if _is_gzip(file):
        bundle = file.read_bytes()
        with client(url, token) as pkg:
            snapshot = server(
                lambda: pkg.push_bundle(bundle, version=version, env=env, entrypoint=entrypoint)
            )
        _pushed(snapshot, as_json=as_json)
        return
    document = read_document(file)
    header = None
    if signature is not None:
        header = signature_header_from_file(signature)
    elif key is not None:
        header = sign_document(document, key)["header"]
    with client(url, token) as pkg:
        snapshot = server(lambda: pkg.push(document, signature=header))
    _pushed(snapshot, as_json=as_json)


def _pushed(snapshot: Mapping[str, Any], *, as_json: bool) -> None:
    if as_json:
        show(snapshot, keys=PUSHED_KEYS)
    else:
        output(snapshot, as_json=False, human=lambda body: fields(body, PUSHED_KEYS))


def _is_gzip(file: Path) -> bool:
    try:
        with file.open("rb") as handle:
            return handle.read(2) == GZIP_MAGIC
    except OSError as exc:
        fail(f"cannot read {file}: {exc}")


@cli.command()
def validate(
    version: str, url: Url = DEFAULT_URL, token: Token = None, as_json: JsonOutput = False
) -> None:
    """Run a stored snapshot's fixtures on the server; exit 1 if any failed."""
    with client(url, token) as pkg:
        run = server(lambda: pkg.validate(version))
    output(run, as_json=as_json, human=human.validation)
    if not run.get("success"):
        raise typer.Exit(EXIT_FAILED)


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
    as_json: JsonOutput = False,
) -> None:
    """Evaluate task facts: locally with --policy FILE, else on the server."""
    task_facts = read_facts(facts)
    if policy is not None:
        local = evaluate_locally(policy, task_facts, explain=explain)
        output(local, as_json=as_json, human=human.decision)
        return
    with client(url, token) as pkg:
        decided = server(
            lambda: pkg.evaluate(
                task_facts, version=version, explain=explain, entrypoint=entrypoint
            )
        )
    output(decided, as_json=as_json, human=human.decision)


@cli.command("test")
def test_document(
    file: Path,
    coverage: Annotated[
        bool, typer.Option("--coverage", help="Report which rules and conditions fixtures cover")
    ] = False,  # noqa: PT028  # a command named test_*, not a pytest test
    threshold: Annotated[
        float | None,
        typer.Option(min=0, max=100, help="Exit 1 below this coverage percentage (implies it)"),
    ] = None,  # noqa: PT028  # as above
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the report and coverage as JSON")
    ] = False,  # noqa: PT028  # as above
) -> None:
    """Run a policy document's fixtures locally, with no server (like `opa test`)."""
    configure_logging(level="WARNING", json=False)
    document = parse(file)
    install_defaults()
    evaluator = PKGEvaluator(document.to_snapshot())
    report = run_fixtures(evaluator.evaluate, list(document.fixtures))
    if coverage or threshold is not None or as_json:
        report_coverage(document, evaluator, report, threshold=threshold, as_json=as_json)
        return
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
        raw = read_raw(file)
        parse(file, raw=raw)  # only a valid document is rewritten
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
