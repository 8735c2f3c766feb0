"""MkDocs hook: the HTTP reference (docs/reference/http.md) rendered from the service's own
OpenAPI document when the site is built, with nothing fetched from a network or a CDN.

The document is the one `GET /openapi.json` serves: `create_app().openapi()` (app/api/openapi.py
adds the shared error responses and the body examples to FastAPI's). Building the app object
connects to nothing: the database, Redis and every background task start in its lifespan,
which is never entered here.

`render_reference(document)` turns the document into Markdown: one section per tag, one per
operation (method, path, summary, description, auth, parameters, request body with its
example, responses with their status codes), then the schemas the operations name. The page's
`<!-- openapi -->` marker is replaced by it; a page without the marker fails the build.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

PAGE = "reference/http.md"
MARKER = "<!-- openapi -->"
METHODS = ("get", "post", "put", "patch", "delete")


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    """The checkout's root on sys.path, so `app` imports whatever the directory mkdocs runs from."""
    root = str(Path(config.config_file_path).resolve().parent)
    if root not in sys.path:
        sys.path.insert(0, root)
    return config


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    if page.file.src_uri != PAGE:
        return markdown
    if MARKER not in markdown:
        raise PluginError(f"{PAGE} has no {MARKER} marker for the OpenAPI reference")
    return markdown.replace(MARKER, render_reference(openapi_document()), 1)


def openapi_document() -> dict[str, Any]:
    """What `GET /openapi.json` answers, built in process (no server, no database)."""
    from app.main import create_app

    document: dict[str, Any] = create_app().openapi()
    return document


# ---------------------------------------------------------------- rendering
def render_reference(document: Mapping[str, Any]) -> str:
    schemas: Mapping[str, Any] = document.get("components", {}).get("schemas", {})
    operations = list(_operations(document))
    lines = [
        f"Generated from the OpenAPI {document.get('openapi', '')} document of "
        f"**{document['info']['title']}** {document['info']['version']}: "
        f"{len(operations)} operations.",
        "",
    ]
    for tag in _tags(operations):
        lines += [f"## {tag.capitalize()}", ""]
        for method, path, operation in operations:
            if _tag_of(operation) == tag:
                lines += _render_operation(method, path, operation, schemas)
    named = sorted(_referenced(operations, schemas))
    if named:
        lines += ["## Models", ""]
        for name in named:
            lines += _render_schema(name, schemas[name])
    return "\n".join(lines).rstrip() + "\n"


def _operations(document: Mapping[str, Any]) -> Iterable[tuple[str, str, Mapping[str, Any]]]:
    for path, item in document.get("paths", {}).items():
        for method in METHODS:
            if method in item:
                yield method, path, item[method]


def _tag_of(operation: Mapping[str, Any]) -> str:
    tags = operation.get("tags") or ["other"]
    return str(tags[0])


def _tags(operations: list[tuple[str, str, Mapping[str, Any]]]) -> list[str]:
    seen: list[str] = []
    for _, _, operation in operations:
        if _tag_of(operation) not in seen:
            seen.append(_tag_of(operation))
    return seen


def anchor(method: str, path: str) -> str:
    """The heading id of an operation, e.g. `post-evaluate`, `get-snapshots-version`."""
    words = "".join(c if c.isalnum() else " " for c in f"{method} {path}".lower()).split()
    return "-".join(words)


def _render_operation(
    method: str, path: str, operation: Mapping[str, Any], schemas: Mapping[str, Any]
) -> list[str]:
    lines = [f"### `{method.upper()} {path}` {{ #{anchor(method, path)} }}", ""]
    if operation.get("summary"):
        lines += [_prose(operation["summary"]) + ".", ""]
    if operation.get("description"):
        lines += [operation["description"].strip(), ""]
    if operation.get("security"):
        lines += ["Auth: `Authorization: Bearer <token>`.", ""]
    parameters = operation.get("parameters", [])
    if parameters:
        lines += ["**Parameters**", "", "| name | in | type | required | description |"]
        lines += ["|---|---|---|---|---|"]
        for parameter in parameters:
            schema = parameter.get("schema", {})
            lines.append(
                f"| `{parameter['name']}` | {parameter['in']} | {_cell(_type(schema))} | "
                f"{'yes' if parameter.get('required') else 'no'} | "
                f"{_cell(parameter.get('description') or schema.get('description', ''))} |"
            )
        lines.append("")
    body = operation.get("requestBody")
    if body:
        lines += _render_body(body, schemas)
    lines += ["**Responses**", "", "| status | description | content |", "|---|---|---|"]
    for status, response in operation.get("responses", {}).items():
        content = response.get("content", {})
        kinds = ", ".join(
            f"`{kind}` {_schema_link(media.get('schema', {}))}".rstrip()
            for kind, media in content.items()
        )
        lines.append(f"| {status} | {_cell(response.get('description', ''))} | {kinds or '—'} |")
    lines.append("")
    return lines


def _render_body(body: Mapping[str, Any], schemas: Mapping[str, Any]) -> list[str]:
    required = " (required)" if body.get("required") else ""
    lines = [f"**Request body**{required}", ""]
    for kind, media in body.get("content", {}).items():
        schema = media.get("schema", {})
        lines += [f"`{kind}` {_schema_link(schema)}".rstrip(), ""]
        example = media.get("example")
        if example is None:
            continue
        if isinstance(example, str) and "yaml" in kind:
            lines += ["```yaml", example.rstrip(), "```", ""]
        else:
            lines += ["```json", json.dumps(example, indent=2, ensure_ascii=False), "```", ""]
    return lines


def _render_schema(name: str, schema: Mapping[str, Any]) -> list[str]:
    lines = [f"### {name} {{ #schema-{name.lower()} }}", ""]
    if schema.get("description"):
        lines += [_prose(schema["description"]), ""]
    properties: Mapping[str, Any] = schema.get("properties", {})
    if not properties:
        lines += [f"Type: {_type(schema)}.", ""]
        return lines
    required = set(schema.get("required", []))
    lines += ["| field | type | required | description |", "|---|---|---|---|"]
    for field, sub in properties.items():
        lines.append(
            f"| `{field}` | {_cell(_type(sub))} | {'yes' if field in required else 'no'} | "
            f"{_cell(sub.get('description', ''))} |"
        )
    lines.append("")
    return lines


def _referenced(
    operations: list[tuple[str, str, Mapping[str, Any]]], schemas: Mapping[str, Any]
) -> set[str]:
    """Every component schema the operations name, directly or through other schemas."""
    found: set[str] = set()
    pending = [json.dumps(operation) for _, _, operation in operations]
    while pending:
        text = pending.pop()
        for name in schemas:
            if f'"#/components/schemas/{name}"' in text and name not in found:
                found.add(name)
                pending.append(json.dumps(schemas[name]))
    return found


def _schema_link(schema: Mapping[str, Any]) -> str:
    ref = schema.get("$ref")
    if ref:
        name = ref.rsplit("/", 1)[-1]
        return f"[{name}](#schema-{name.lower()})"
    return f"({_type(schema)})" if schema else ""


def _type(schema: Mapping[str, Any]) -> str:
    """A schema in a few words: `string`, `integer ≤ 1000`, `array of Rule`, `string or null`."""
    if "$ref" in schema:
        return _schema_link(schema)
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        kinds = [_type(option) for option in options if option.get("type") != "null"]
        text = " or ".join(dict.fromkeys(kinds)) or "null"
        nullable = any(option.get("type") == "null" for option in options)
        return text + (", nullable" if nullable else "")
    kind = schema.get("type", "any")
    if isinstance(kind, list):
        kind = " or ".join(str(k) for k in kind)
    if kind == "array":
        kind = f"array of {_type(schema.get('items', {}))}"
    if "enum" in schema:
        kind += ": " + ", ".join(f"`{json.dumps(value)}`" for value in schema["enum"])
    bounds = [
        f"{symbol} {schema[key]}"
        for key, symbol in (
            ("minimum", "≥"),
            ("maximum", "≤"),
            ("exclusiveMinimum", ">"),
            ("exclusiveMaximum", "<"),
            ("minLength", "length ≥"),
            ("maxLength", "length ≤"),
        )
        if key in schema
    ]
    if bounds:
        kind += " (" + ", ".join(bounds) + ")"
    if "default" in schema:
        kind += f", default `{json.dumps(schema['default'])}`"
    return str(kind)


def _prose(text: str) -> str:
    return " ".join(str(text).split()).rstrip(".")


def _cell(text: str) -> str:
    """Text that cannot break a table row."""
    return " ".join(str(text).split()).replace("|", "\\|")
