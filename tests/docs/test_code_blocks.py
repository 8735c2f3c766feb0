"""Every fenced code block of README.md and of every page under docs/ is exercised, so a block
that no longer says what PKG does fails here. What each language gets:

- `python`: run in a fresh interpreter with the checkout as cwd and top-level `await` allowed
  (as in `python -m asyncio`), against a real server (`pkgctl serve` on embedded SQLite with the
  demo policy) and a real redis-server. The placeholder addresses the blocks use are replaced
  by the test's own, from `ADDRESSES` only (asserted small, and every entry in use).
- `json`: parsed. A json block that follows a block whose one command is a `curl` is that
  curl's answer: the curl is sent to the demo server and the answer must have every field of
  the sample with the same values (ids shortened with `…` by their prefix; `VOLATILE` fields by
  their type).
- `yaml`: parsed with the project's bounded loader. A policy document (a mapping with a
  `version`) is read by pkgctl's reader (a `wasm.file` it names is given a stand-in module)
  and checked by the domain's parser; a native one with fixtures must pass them (`pkgctl test`).
- `toml`: parsed; the entry-point groups it declares must be ones PKG reads.
- `sh`, `bash`, `console`: split into commands (comments dropped, continuations joined,
  pipelines split). Every command's program must be one this test knows: `pkgctl` (the
  subcommand and its options and arguments parsed by the Typer app's own click command, not
  run), `curl` (method, path, path and query parameters, content type and a JSON body checked
  against /openapi.json), `make` (a Makefile target; variables the Makefile reads),
  `python3 -m MODULE` (an importable module), `export`. `PKG_*` variables set on a command line
  must be settings or pkgctl's options' variables, and a path under a directory of the checkout
  (`examples/...`) must exist.
- `text`: not exercised: for output samples and anything else no test can check. Each such
  block must be listed in `UNEXERCISED` with the reason, and the list is asserted small.

Any other fence (another language, or none) fails. The lifecycle block of docs/lifecycle.md is
also run command by command against a server, by tests/cli/test_pkgctl.py. The HTTP reference
that docs/hooks/openapi.py renders into the site is checked the same way (its json and yaml
blocks), and the site must build with `mkdocs build --strict`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
import textwrap
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from itertools import pairwise
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import jsonschema
import pytest
import typer
from typer.exceptions import TyperException
from typer.main import get_command
from typer.testing import CliRunner

from app.domain.document import parse_policy_document
from app.entrypoints.cli import cli
from app.entrypoints.cli.common import read_document
from app.services.policy_text import load_policy_text
from app.settings import Settings
from bench.server import ROOT, ServerProcess
from tests.services.redis import RedisServer

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
README_MAX_LINES = 200

# Blocks no test can exercise, by (page, first line of the block): why. Keep it short.
UNEXERCISED: dict[tuple[str, str], str] = {}
UNEXERCISED_MAX = 3

# Placeholders the python blocks use for a server, a database and a Redis, and what the test
# puts in their place (keys of the `Addresses` the fixture builds).
ADDRESSES = {
    "http://127.0.0.1:8080": "server",  # where `make run` serves
    "http://pkg.internal": "server",
    "postgresql+asyncpg://pkg@db/pkg": "database",
    "redis://...": "redis",
}
ADDRESSES_MAX = 5

VOLATILE = {"decision_id", "duration_ms"}  # differ on every decision: compared by type
EXERCISED = {"python", "json", "yaml", "toml", "sh", "bash", "console"}
SHELL = {"sh", "bash", "console"}
runner = CliRunner()


# ---------------------------------------------------------------- the blocks
@dataclass(frozen=True)
class Block:
    page: str  # relative to the checkout
    line: int  # of the opening fence
    lang: str
    text: str

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def first_line(self) -> str:
        return next((line for line in self.text.splitlines() if line.strip()), "")


def blocks_of(path: Path) -> list[Block]:
    return blocks_in(path.read_text(), str(path.relative_to(ROOT)))


def blocks_in(markdown: str, page: str) -> list[Block]:
    """The fenced blocks of a Markdown text, in order (indented fences too, dedented)."""
    found: list[Block] = []
    opening: tuple[int, str, str] | None = None  # line, language, indentation
    lines: list[str] = []
    for number, line in enumerate(markdown.splitlines(), start=1):
        stripped = line.lstrip()
        if opening is None and stripped.startswith("```"):
            indent = line[: len(line) - len(stripped)]
            opening = (number, stripped[3:].strip().split(" ")[0], indent)
            lines = []
        elif opening is not None and stripped == "```":
            start, lang, indent = opening
            text = "\n".join(part.removeprefix(indent) for part in lines) + "\n"
            found.append(Block(page, start, lang, text))
            opening = None
        elif opening is not None:
            lines.append(line)
    assert opening is None, f"{page}: the fence opened on line {opening[0]} is never closed"
    return found


BLOCKS = [block for page in PAGES for block in blocks_of(page)]


def shell_commands(text: str) -> list[list[str]]:
    """A shell block's commands as argument lists: comments dropped, `\\` continuations and
    quoted newlines joined, pipelines and `&&` lists split into their commands."""
    commands: list[list[str]] = []
    pending = ""
    for line in text.splitlines():
        pending = f"{pending}\n{line}" if pending else line
        if pending.rstrip().endswith("\\"):
            pending = pending.rstrip()[:-1]
            continue
        try:
            words = shlex.split(pending, comments=True)
        except ValueError:  # a quote still open: the command goes on on the next line
            continue
        pending = ""
        command: list[str] = []
        for word in [*words, "|"]:
            if word in {"|", "&&", "||", ";"}:
                if command:
                    commands.append(command)
                command = []
            else:
                command.append(word)
    assert pending == "", f"an unfinished command: {pending!r}"
    return commands


def of(*langs: str) -> list[Any]:
    return [pytest.param(b, id=b.id) for b in BLOCKS if b.lang in langs]


def answered_by_curl() -> list[tuple[Block, Block]]:
    """(curl block, json block) pairs: a json block right after a block that is one curl."""
    pairs = []
    for before, block in pairwise(BLOCKS):
        if block.lang == "json" and before.page == block.page and before.lang in SHELL:
            commands = shell_commands(before.text)
            if [c[0] for c in commands if c[0] == "curl"] == ["curl"] and len(commands) <= 2:
                pairs.append((before, block))
    return pairs


def test_every_block_is_exercised_or_listed_as_not() -> None:
    assert len(UNEXERCISED) <= UNEXERCISED_MAX, "exercise blocks, don't list them"
    unknown = [f"{b.id} ```{b.lang}" for b in BLOCKS if b.lang not in EXERCISED | {"text"}]
    assert unknown == [], "a fence this test cannot exercise: mark output samples ```text"
    text = {(b.page, b.first_line) for b in BLOCKS if b.lang == "text"}
    assert text - UNEXERCISED.keys() == set(), "a ```text block missing from UNEXERCISED"
    assert UNEXERCISED.keys() - text == set(), "UNEXERCISED names a block that is gone"


def test_the_pages_have_blocks_of_every_kind_this_test_reads() -> None:
    """A guard against a parser that silently finds nothing."""
    assert len(BLOCKS) >= 20
    assert {b.lang for b in BLOCKS} >= {"python", "json", "yaml", "toml", "sh", "bash"}
    assert {b.page for b in BLOCKS} >= {"README.md", "docs/lifecycle.md", "docs/python-api.md"}
    assert len(answered_by_curl()) >= 2  # README's decision, and the docs' home page's


def test_the_readme_is_a_first_five_minutes() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) < README_MAX_LINES
    targets = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", readme)
    assert targets, "the README links to the docs pages"
    missing = [t for t in targets if "://" not in t and not (ROOT / t).exists()]
    assert missing == []


# ---------------------------------------------------------------- python
@dataclass(frozen=True)
class Addresses:
    server: str
    database: str
    redis: str


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The demo as `make run` serves it: the demo policy, no tokens (loopback only)."""
    process = ServerProcess.embedded(
        tmp_path_factory.mktemp("docs"), PKG_SEED_FILE=str(ROOT / "examples" / "hotel_ops.yaml")
    )
    process.start()
    yield process
    process.stop()


@pytest.fixture
def addresses(demo: ServerProcess, redis_server: RedisServer) -> Addresses:
    return Addresses(demo.url, demo.env["PKG_DATABASE_URL"], redis_server.start().url)


def with_addresses(source: str, addresses: Addresses) -> str:
    for placeholder, name in ADDRESSES.items():
        source = source.replace(placeholder, getattr(addresses, name))
    return source


RUN_WITH_TOP_LEVEL_AWAIT = textwrap.dedent(
    """
    import ast, asyncio, sys
    code = compile(sys.stdin.read(), sys.argv[1], "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    pending = eval(code, {"__name__": "__main__"})
    if pending is not None:
        asyncio.run(pending)
    """
)


def test_the_placeholder_addresses_are_few_and_all_in_use() -> None:
    assert len(ADDRESSES) <= ADDRESSES_MAX
    python = "".join(b.text for b in BLOCKS if b.lang == "python")
    assert [p for p in ADDRESSES if p not in python] == []
    assert set(ADDRESSES.values()) <= set(Addresses.__dataclass_fields__)


# the curl/json pairs first: the python blocks change what the demo serves (and then undo it)
@pytest.mark.parametrize(
    ("curl", "sample"), [pytest.param(c, j, id=j.id) for c, j in answered_by_curl()]
)
def test_a_json_answer_is_what_its_curl_gets(
    curl: Block, sample: Block, demo: ServerProcess
) -> None:
    (command,) = [c for c in shell_commands(curl.text) if c[0] == "curl"]
    call = parse_curl(command[1:])
    response = httpx.request(
        call.method,
        demo.url + call.target,
        headers=call.headers,
        content=call.body_bytes(),
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert matches(json.loads(sample.text), response.json()) == []


def matches(sample: Any, actual: Any, where: str = "") -> list[str]:
    """What differs between a documented answer and a real one (an empty list: nothing)."""
    if isinstance(sample, dict):
        if not isinstance(actual, dict):
            return [f"{where}: {actual!r} is not an object"]
        problems = [f"{where}.{key}: not in the answer" for key in sample if key not in actual]
        problems += [f"{where}.{key}: not in the sample" for key in actual if key not in sample]
        for key in sample.keys() & actual.keys():
            if key in VOLATILE:
                if type(sample[key]) is not type(actual[key]):
                    problems.append(f"{where}.{key}: {actual[key]!r} is another type")
            else:
                problems += matches(sample[key], actual[key], f"{where}.{key}")
        return problems
    if isinstance(sample, list):
        if not isinstance(actual, list) or len(actual) != len(sample):
            return [f"{where}: {actual!r} is not a list of {len(sample)}"]
        return [p for i, s in enumerate(sample) for p in matches(s, actual[i], f"{where}[{i}]")]
    if isinstance(sample, str) and "…" in sample:
        prefix = sample.split("…", 1)[0]
        ok = isinstance(actual, str) and actual.startswith(prefix)
        return [] if ok else [f"{where}: {actual!r} does not start with {prefix!r}"]
    return [] if sample == actual and type(sample) is type(actual) else [f"{where}: {actual!r}"]


@pytest.mark.parametrize("block", of("python"))
def test_a_python_block_runs(block: Block, addresses: Addresses) -> None:
    result = subprocess.run(
        [sys.executable, "-c", RUN_WITH_TOP_LEVEL_AWAIT, block.id],
        input=with_addresses(block.text, addresses),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]


# ---------------------------------------------------------------- json, yaml, toml
@pytest.mark.parametrize("block", of("json"))
def test_a_json_block_parses(block: Block) -> None:
    json.loads(block.text)


@pytest.mark.parametrize("block", of("yaml"))
def test_a_yaml_block_parses_and_a_policy_document_loads(block: Block, tmp_path: Path) -> None:
    raw = load_policy_text(block.text)
    if "version" not in raw:
        return
    check_policy_document(block.text, raw, tmp_path)


STAND_IN_MODULE = b"\x00asm\x01\x00\x00\x00"  # the empty WebAssembly module


def check_policy_document(text: str, raw: Mapping[str, Any], directory: Path) -> None:
    path = directory / "policy.yaml"
    path.write_text(text)
    wasm = raw.get("wasm")
    if isinstance(wasm, dict) and "file" in wasm:
        (directory / str(wasm["file"])).write_bytes(STAND_IN_MODULE)
    document = parse_policy_document(read_document(path))
    if document.engine == "native" and document.fixtures:
        result = runner.invoke(cli, ["test", str(path)])
        assert result.exit_code == 0, result.output


@pytest.mark.parametrize("block", of("toml"))
def test_a_toml_block_parses_and_names_entry_points_pkg_reads(block: Block) -> None:
    data = tomllib.loads(block.text)
    groups = data.get("project", {}).get("entry-points", {})
    source = "".join(p.read_text() for p in (ROOT / "app").rglob("*.py"))
    for group, entries in groups.items():
        assert f'"{group}"' in source, f"PKG reads no entry-point group {group!r}"
        assert all(re.fullmatch(r"[\w.]+:[\w.]+", str(v)) for v in entries.values()), entries


# ---------------------------------------------------------------- shell
@pytest.mark.parametrize("block", of(*SHELL))
def test_a_shell_block_runs_only_commands_that_exist(block: Block) -> None:
    commands = shell_commands(block.text)
    assert commands, "a shell block without a command"
    for command in commands:
        env, words = split_assignments(command)
        check_variables(env)
        program, args = words[0], words[1:]
        checks = {
            "pkgctl": check_pkgctl,
            "curl": check_curl,
            "make": check_make,
            "python3": check_python,
            "python": check_python,
            "export": check_export,
        }
        assert program in checks, f"{block.id}: no check for the program {program!r}"
        checks[program](args)


ASSIGNMENT = re.compile(r"([A-Z_][A-Z0-9_]*)=(.*)", re.S)


def split_assignments(words: list[str]) -> tuple[dict[str, str], list[str]]:
    env: dict[str, str] = {}
    while words and (found := ASSIGNMENT.fullmatch(words[0])):
        env[found[1]] = found[2]
        words = words[1:]
    assert words, f"only assignments: {env}"
    return env, words


@cache
def known_variables() -> frozenset[str]:
    settings = {f"PKG_{name.upper()}" for name in Settings.model_fields}
    options = {
        str(param.envvar)
        for command in pkgctl_group().commands.values()
        for param in command.params
        if isinstance(param.envvar, str)
    }
    return frozenset(settings | options)


def check_variables(env: Mapping[str, str]) -> None:
    unknown = [name for name in env if name.startswith("PKG_") and name not in known_variables()]
    assert unknown == [], f"not a setting nor a pkgctl variable: {unknown}"
    for value in env.values():
        check_path(value)


def check_export(args: list[str]) -> None:
    env, rest = split_assignments([*args, "true"])
    assert rest == ["true"], args
    check_variables(env)


def check_path(word: str) -> None:
    """A path under a directory of the checkout (`examples/...`, `@examples/...`) must exist;
    others (`policies/hotel_ops.yaml`, `bundle.tar.gz`) are the reader's own files."""
    path = word.removeprefix("@")
    top = path.split("/", 1)[0]
    if "/" in path and "://" not in path and top and (ROOT / top).is_dir():
        assert (ROOT / path).exists(), f"{word}: no such file in the checkout"


@cache
def pkgctl_group() -> Any:
    """pkgctl's command tree as Typer builds it (Typer ships its own click: duck-typed here)."""
    return get_command(cli)


def check_pkgctl(args: list[str]) -> None:
    """Parse the arguments as `pkgctl` would, down to the subcommand's own options, arguments
    and their types, without running it."""
    command = pkgctl_group()
    context = typer.Context(command, info_name="pkgctl")
    rest = list(args)
    while hasattr(command, "commands"):  # a group: `pkgctl audit verify`
        assert rest, "a pkgctl group without its subcommand"
        found = command.get_command(context, rest[0])
        assert found is not None, f"pkgctl has no command {rest[0]!r}"
        command, rest = found, rest[1:]
        context = typer.Context(command, info_name=command.name, parent=context)
    try:
        command.make_context(command.name, list(rest), parent=context.parent)
    except TyperException as exc:  # click's UsageError, BadParameter, NoSuchOption, ...
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        pytest.fail(f"pkgctl {' '.join(args)}: {message}")
    for word in rest:
        check_path(word)


def check_make(args: list[str]) -> None:
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([A-Za-z0-9_.-]+):(?!=)", makefile, flags=re.M))
    env, goals = {}, []
    for arg in args:
        if found := ASSIGNMENT.fullmatch(arg):
            env[found[1]] = found[2]
        else:
            goals.append(arg)
    assert set(goals) <= targets, f"no such make target: {set(goals) - targets}"
    unread = [name for name in env if f"$({name})" not in makefile]
    assert unread == [], f"the Makefile reads no variable {unread}"


def check_python(args: list[str]) -> None:
    assert args[:1] == ["-m"] and len(args) >= 2, f"python {args}: only `-m MODULE` is checked"
    assert importlib.util.find_spec(args[1]) is not None, f"no module {args[1]}"


# ---------------------------------------------------------------- curl against /openapi.json
@dataclass
class CurlCall:
    method: str
    target: str  # path and query, without the server
    headers: dict[str, str]
    data: str | None

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> list[tuple[str, str]]:
        return parse_qsl(urlsplit(self.target).query, keep_blank_values=True)

    @property
    def content_type(self) -> str | None:
        for name, value in self.headers.items():
            if name.lower() == "content-type":
                return value.split(";")[0].strip().lower()
        return None

    def body_bytes(self) -> bytes | None:
        if self.data is None:
            return None
        if self.data.startswith("@"):
            return (ROOT / self.data[1:]).read_bytes()
        return self.data.encode()


CURL_FLAGS = {"-s", "-S", "-sS", "--silent", "-i", "-v", "-f", "--fail", "-L"}
CURL_DATA = {"-d", "--data", "--data-binary", "--data-raw"}
SERVER_PREFIX = re.compile(
    r"^(?:\$PKG_URL|\$\{PKG_URL\}|(?:https?://)?(?:localhost|127\.0\.0\.1)(?::\d+)?)"
)


def parse_curl(args: list[str]) -> CurlCall:
    method, url, headers, data = None, None, {}, None
    words = iter(args)
    for word in words:
        if word in CURL_FLAGS:
            continue
        if word in {"-X", "--request"}:
            method = next(words)
        elif word in {"-H", "--header"}:
            name, _, value = next(words).partition(":")
            headers[name.strip()] = value.strip()
        elif word in CURL_DATA:
            data = next(words)
        else:
            assert not word.startswith("-"), f"curl option {word} is not one this test reads"
            assert url is None, f"two URLs: {url}, {word}"
            url = word
    assert url is not None, "curl without a URL"
    prefix = SERVER_PREFIX.match(url)
    assert prefix, f"{url}: not the service (localhost:8080 or $PKG_URL)"
    target = url[prefix.end() :] or "/"
    return CurlCall(method or ("POST" if data is not None else "GET"), target, headers, data)


@cache
def openapi() -> dict[str, Any]:
    from app.main import create_app

    document: dict[str, Any] = create_app().openapi()
    return document


def operation_for(method: str, path: str) -> tuple[str, dict[str, Any], dict[str, str]]:
    """The OpenAPI path template and operation a request reaches, and its path parameters;
    a template without parameters wins over one with (as the routes are declared)."""
    candidates = []
    for template, item in openapi()["paths"].items():
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
        found = re.fullmatch(pattern, path)
        if found:
            candidates.append((template.count("{"), template, item, found.groupdict()))
    assert candidates, f"{path}: no such path in /openapi.json"
    _, template, item, parameters = min(candidates, key=lambda c: c[0])
    operation = item.get(method.lower())
    assert operation is not None, f"{method} {template}: no such operation"
    return template, operation, parameters


def accepts(schema: Mapping[str, Any], text: str) -> bool:
    """Whether a parameter schema takes `text` as a URL would carry it."""
    options = schema.get("anyOf") or [schema]
    kinds = {option.get("type") for option in options} - {"null"}
    if not kinds or "string" in kinds:
        return True
    if "integer" in kinds and re.fullmatch(r"-?\d+", text):
        return True
    if "number" in kinds and re.fullmatch(r"-?\d+(\.\d+)?", text):
        return True
    return "boolean" in kinds and text in {"true", "false"}


def check_curl(args: list[str]) -> None:
    call = parse_curl(args)
    template, operation, path_values = operation_for(call.method, call.path)
    parameters = {(p["in"], p["name"]): p for p in operation.get("parameters", [])}
    for name, value in path_values.items():
        parameter = parameters.get(("path", name))
        assert parameter is not None, f"{template}: no path parameter {name}"
        assert accepts(parameter["schema"], value), f"{template}: {name}={value!r}"
    for name, value in call.query:
        parameter = parameters.get(("query", name))
        assert parameter is not None, f"{call.method} {template}: no query parameter {name!r}"
        assert accepts(parameter["schema"], value), f"{template}: ?{name}={value!r}"
    if call.data is None:
        return
    check_path(call.data)
    content = operation.get("requestBody", {}).get("content", {})
    assert content, f"{call.method} {template} takes no body"
    kind = call.content_type or "application/x-www-form-urlencoded"
    assert kind in content, f"{call.method} {template} takes {sorted(content)}, not {kind}"
    if kind != "application/json" or (call.data.startswith("@") and "/" not in call.data):
        return  # a binary body, or the reader's own file
    body = json.loads(call.body_bytes() or b"")
    schema = {**content[kind]["schema"], "components": openapi()["components"]}
    problems = [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(body)]
    assert problems == [], f"{call.method} {template}: {problems}"


# ---------------------------------------------------------------- the site
def load_hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location("openapi_hook", ROOT / "docs/hooks/openapi.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_http_reference_renders_every_operation_with_blocks_that_parse() -> None:
    hook = load_hook()
    markdown = hook.render_reference(openapi())
    for path, item in openapi()["paths"].items():
        for method in item:
            assert f"### `{method.upper()} {path}` {{ #{hook.anchor(method, path)} }}" in markdown
    rendered = blocks_in(markdown, "reference/http.md (generated)")
    assert {b.lang for b in rendered} <= {"json", "yaml"} and rendered
    for block in rendered:
        json.loads(block.text) if block.lang == "json" else load_policy_text(block.text)


def test_the_site_builds_strict(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},  # Material's banner, not a warning
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "WARNING" not in output, output
    reference = (tmp_path / "reference" / "http" / "index.html").read_text()
    assert "POST /evaluate" in reference
    assert "fonts.googleapis.com" not in "".join(p.read_text() for p in tmp_path.rglob("*.html"))
