"""`pkgctl`: run the server, and drive one over HTTP (like `opa` and `cerbosctl`).

The Typer app is in app.py; each topic module adds its commands to it: server.py (serve,
migrate), policies.py (push, validate, eval, test, fmt), rollout.py (promote, rollback,
status), lanes.py (lane ..., guard), snapshots.py (snapshot list/get), compare.py,
decisions.py, trust.py (keygen, sign, export, import, audit verify).
What they share (options, exit codes, calling a server, printing) is in common.py.
"""

from __future__ import annotations

from app.entrypoints.cli import (
    compare,
    coverage,
    decisions,
    diff,
    fleet,
    lanes,
    policies,
    replay,
    rollout,
    server,
    snapshots,
    trust,
)
from app.entrypoints.cli.app import cli

# the order `pkgctl --help` lists the commands in (Typer lists them as registered; the topic
# modules register theirs as they are imported); the `audit` group follows them
HELP_ORDER = (
    server.serve,
    server.migrate,
    policies.push,
    policies.validate,
    rollout.promote,
    rollout.rollback,
    lanes.guard,
    policies.evaluate,
    compare.compare,
    diff.diff,
    replay.replay,
    decisions.decisions,
    rollout.status,
    fleet.fleet,
    policies.test_document,
    coverage.production_coverage,
    policies.fmt,
    trust.keygen,
    trust.sign,
    trust.export_bundle,
    trust.import_bundle,
)
cli.registered_commands.sort(key=lambda command: HELP_ORDER.index(command.callback))
# then the groups: stored snapshots, lanes, the audit trail (any other after them)
GROUP_ORDER = (snapshots.snapshot, lanes.lane, trust.audit)
cli.registered_groups.sort(
    key=lambda group: (
        GROUP_ORDER.index(group.typer_instance)
        if group.typer_instance in GROUP_ORDER
        else len(GROUP_ORDER)
    )
)


def main() -> None:
    cli()


__all__ = ["cli", "main"]
