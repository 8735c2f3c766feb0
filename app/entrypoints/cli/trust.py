"""`pkgctl keygen`, `sign`, `export`, `import` and `audit verify`: the trust commands."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from app.domain.document import parse_policy_document
from app.domain.errors import DocumentError, SignatureError
from app.domain.trust import signing_payload
from app.entrypoints.cli.app import cli
from app.entrypoints.cli.common import (
    DEFAULT_URL,
    EXIT_FAILED,
    Token,
    Url,
    client,
    document_errors,
    fail,
    read_document,
    server,
    show,
)
from app.services.signing import Signer, generate_key_pair


def sign_document(document: dict[str, Any], key: Path) -> dict[str, Any]:
    """A detached signature over a document's checksum, version and env (as the server
    computes them), plus the `PKG-Signature` header value that carries it."""
    snapshot = parse_policy_document(document).to_snapshot()
    signer = Signer.from_file(key)
    key_id, value = signer.sign_snapshot(snapshot)
    return {
        "version": snapshot.version,
        "env": snapshot.env,
        "engine": snapshot.engine,
        "checksum": snapshot.checksum,
        "checksum_scheme": snapshot.checksum_scheme,
        "signed_payload": signing_payload(snapshot).decode(),
        "key_id": key_id,
        "signature": value,
        "header": f"{key_id}:{value}",
    }


def signature_header_from_file(path: Path) -> str:
    try:
        data = json.loads(path.read_text())
        return f"{data['key_id']}:{data['signature']}"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise typer.BadParameter(f"{path} is not a signature from `pkgctl sign`: {exc}") from exc


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


@cli.command()
def keygen(
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for the key pair")] = Path(
        "."
    ),
    name: Annotated[str, typer.Option(help="File name stem")] = "pkg-signing",
) -> None:
    """Write a new Ed25519 key pair: NAME.pem (private, mode 600) and NAME.pub.pem."""
    private_pem, public_pem, key_id = generate_key_pair()
    out.mkdir(parents=True, exist_ok=True)
    private_path, public_path = out / f"{name}.pem", out / f"{name}.pub.pem"
    try:
        _write_private(private_path, private_pem)
    except FileExistsError:
        fail(f"{private_path} exists; refusing to overwrite a key")
    public_path.write_bytes(public_pem)
    show({"key_id": key_id, "private_key": str(private_path), "public_key": str(public_path)})


@cli.command()
def sign(
    file: Path,
    key: Annotated[
        Path, typer.Option("--key", envvar="PKG_SIGNING_KEY", help="Ed25519 private key (PEM)")
    ],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Default: FILE.sig")] = None,
) -> None:
    """Write a detached signature of a policy document (its checksum, version and env)."""
    try:  # the document as `pkgctl push` would send it
        signed = sign_document(read_document(file), key)
    except DocumentError as exc:
        document_errors(file, exc)
    except SignatureError as exc:
        fail(str(exc))
    target = out or file.with_name(file.name + ".sig")
    target.write_text(json.dumps(signed, indent=2, sort_keys=True) + "\n")
    show({k: signed[k] for k in ("version", "env", "checksum", "key_id")} | {"file": str(target)})


@cli.command("export")
def export_bundle(
    version: str,
    out: Annotated[Path, typer.Option("--out", "-o", help="The bundle file (.tar.gz)")],
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """Write a stored snapshot as a bundle: document, fixtures, wasm, checksum, signature."""
    with client(url, token) as pkg:
        data: bytes = server(lambda: pkg.export_bundle(version))
    out.write_bytes(data)
    show({"version": version, "file": str(out), "bytes": len(data)})


@cli.command("import")
def import_bundle(bundle: Path, url: Url = DEFAULT_URL, token: Token = None) -> None:
    """Store a bundle from `pkgctl export` (its checksum and signature are verified)."""
    try:
        data = bundle.read_bytes()
    except OSError as exc:
        fail(f"cannot read {bundle}: {exc}")
    with client(url, token) as pkg:
        created = server(lambda: pkg.push_bundle(data))
    show(created, keys=("version", "env", "engine", "checksum", "signing_key_id"))


audit = typer.Typer(help="The tamper-evident audit trail.", no_args_is_help=True)
cli.add_typer(audit, name="audit")


@audit.command("verify")
def audit_verify(
    url: Url = DEFAULT_URL,
    token: Token = None,
    env: Annotated[str | None, typer.Option(help="Default: the server's env")] = None,
) -> None:
    """Walk an env's audit chain; exit 1 naming the first altered, removed or inserted row."""
    with client(url, token) as pkg:
        report = server(lambda: pkg.verify_audit(env=env))
    show(report)
    if not report.get("ok"):
        raise typer.Exit(EXIT_FAILED)
