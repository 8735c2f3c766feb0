"""`pkgctl coverage V`: how often each rule of a version fired across the fleet, and which
never did; and the fixture coverage `pkgctl test --coverage` prints (docs/lifecycle.md)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any

import typer
from pkg_client import PKGHttpClient
from pkg_client.call import Call, segment

from app.domain.document import PolicyDocument
from app.entrypoints.cli.app import cli
from app.entrypoints.cli.common import DEFAULT_URL, EXIT_FAILED, Token, Url, client, server
from app.services.coverage import measure_fixtures
from app.services.evaluator import PKGEvaluator


def get_json(pkg: PKGHttpClient, path: str, **params: str) -> Any:
    """GET a route the SDK has no method for (yet): problem answers raise `PKGError`."""
    return pkg._send(Call("GET", path, params=params or None))


@cli.command("coverage")
def production_coverage(
    version: Annotated[str, typer.Argument(help="A stored version")],
    since: Annotated[str, typer.Option(help="The window back from now: 90s, 30m, 24h, 7d")] = "24h",
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """How often each rule of VERSION fired across the fleet, and the rules that never did."""
    with client(url, token) as pkg:
        report = server(
            lambda: get_json(pkg, f"/snapshots/{segment(version)}/coverage", since=since)
        )
    if as_json:
        typer.echo(json.dumps(report, indent=2, sort_keys=True))
        return
    for line in production_lines(report):
        typer.echo(line)


def production_lines(report: Mapping[str, Any]) -> list[str]:
    replicas = len(report["replicas"])
    lines = [
        f"{report['version']}: {report['decisions']} decisions ({report['errors']} errors) on "
        f"{replicas} replica{'s' if replicas != 1 else ''} since {report['since']}"
    ]
    width = max([len(str(rule["fired"])) for rule in report["rules"]] + [1])
    for rule in report["rules"]:
        share = f"{100 * rule['share']:6.2f}%" if rule["share"] is not None else "      -"
        flag = " (disabled)" if rule["disabled"] else ""
        lines.append(f"  {rule['fired']:>{width}}  {share}  {rule['rule_name']}{flag}")
    never = report["never_fired"]
    if never is None:
        lines.append(report.get("note") or "never fired: not available")
    elif never:
        lines.append(f"never fired ({len(never)}): {', '.join(never)}")
    else:
        lines.append("every enabled rule fired")
    return lines


# ------------------------------------------------------------------------------ fixtures
def fixture_lines(coverage: Mapping[str, Any]) -> list[str]:
    """What `pkgctl test --coverage` prints: the share, then what no fixture exercised."""
    if not coverage["available"]:
        fired = ", ".join(entry["rule"] for entry in coverage["fired"]) or "none"
        return [f"coverage: {coverage['reason']}", f"  fired: {fired}"]
    lines = [
        f"coverage: {coverage['percent']}% (rules {coverage['rules_covered']}/"
        f"{coverage['rules_total']}, conditions {coverage['conditions_covered']}/"
        f"{coverage['conditions_total']})"
    ]
    for rule in coverage["rules"]:
        if rule["disabled"]:
            continue
        if not rule["covered"]:
            lines.append(f"  rule {rule['rule_name']}: no fixture makes it fire")
        for condition in rule["conditions"]:
            if not condition["covered"]:
                never = "hold" if not condition["held_by"] else "false"
                lines.append(
                    f"  condition {rule['rule_name']}[{condition['position']}] "
                    f"{condition['condition']}: no fixture makes it {never}"
                )
    return lines


def below_threshold(coverage: Mapping[str, Any], threshold: float | None) -> str | None:
    """Why the coverage fails `threshold` (a percentage), or None when it meets it."""
    if threshold is None:
        return None
    if not coverage["available"]:
        return f"--threshold cannot be checked: coverage is {coverage['reason'].split(':')[0]}"
    if coverage["percent"] < threshold:
        return f"coverage {coverage['percent']}% is below the threshold {threshold:g}%"
    return None


def report_coverage(
    document: PolicyDocument,
    evaluator: PKGEvaluator,
    report: Mapping[str, Any],
    *,
    threshold: float | None,
    as_json: bool,
) -> None:
    """`pkgctl test --coverage`: the fixtures' results and their coverage; exit 1 when a
    fixture failed, there were none, or the coverage is below `threshold`."""
    coverage = measure_fixtures(evaluator, list(document.fixtures))
    problem = below_threshold(coverage, threshold)
    if as_json:
        results = {key: report[key] for key in ("passed", "failed", "total", "failures")}
        body = {"version": document.version, **results, "coverage": coverage}
        typer.echo(json.dumps(body, indent=2, sort_keys=True, default=str))
    else:
        for failure in report["failures"]:
            typer.echo(f"FAIL {failure['name']}", err=True)
            for line in failure.get("mismatches", []):
                typer.echo(f"  {line}", err=True)
        typer.echo(f"{document.version}: {report['passed']} passed, {report['failed']} failed")
        for line in fixture_lines(coverage):
            typer.echo(line)
    if problem is not None:
        typer.echo(problem, err=True)
    if report["failed"] or not report["total"] or problem is not None:
        raise typer.Exit(EXIT_FAILED)
