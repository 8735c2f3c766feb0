"""docker-compose.yml is a valid Compose file (the compose-spec JSON schema that
check-jsonschema ships), needs no variable for commands like `docker compose down`, feeds only
settings PKG really has, and keeps each replica's last-known-good cache on a volume."""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any

import jsonschema
import pytest
import yaml

from app.settings import Settings
from bench.server import ROOT

COMPOSE = ROOT / "docker-compose.yml"
# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}, ${NAME:+alt}
INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?+])?(?P<arg>[^}]*)\}")


def compose_schema() -> dict[str, Any]:
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    schema: dict[str, Any] = json.loads(vendor.joinpath("compose-spec.json").read_text())
    return schema


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's interpolation, for the forms the spec defines; `?` without the variable fails
    as `docker compose` does (for every command, `down` included)."""

    def substitute(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"] or "", match["arg"]
        value = env.get(name)
        if op.endswith("?") and (value is None or (op == ":?" and value == "")):
            raise KeyError(f"required variable {name} is missing: {arg}")
        if op.endswith("-") and (value is None or (op == ":-" and value == "")):
            return arg
        if op.endswith("+"):
            return arg if value else ""
        return value or ""

    return INTERPOLATION.sub(substitute, text)


def loaded(env: dict[str, str]) -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(interpolate(COMPOSE.read_text(), env))
    return config


def pkg_services(config: dict[str, Any]) -> dict[str, Any]:
    return {
        name: service
        for name, service in config["services"].items()
        if service.get("image", "").startswith("pkg:") and "command" not in service
    }


def test_the_file_is_valid_compose_without_any_variable_set() -> None:
    config = loaded({})  # what `docker compose down` sees in a fresh shell
    jsonschema.validate(config, compose_schema())
    assert len(pkg_services(config)) == 2


def test_the_schema_refuses_a_broken_file() -> None:
    config = loaded({})
    config["services"]["pkg-a"]["ports"] = {"8080": 8080}
    errors = list(jsonschema.Draft7Validator(compose_schema()).iter_errors(config))
    assert errors


def test_the_tokens_reach_the_settings_pkg_reads() -> None:
    env = {"PKG_ADMIN_TOKENS": "admin-1,admin-2", "PKG_EVALUATOR_TOKENS": "reader-1"}
    for name, service in pkg_services(loaded(env)).items():
        settings = Settings(
            **{k[4:].lower(): v for k, v in service["environment"].items()},
            _env_file=None,
        )
        assert [t.get_secret_value() for t in settings.admin_tokens] == ["admin-1", "admin-2"]
        assert [t.get_secret_value() for t in settings.evaluator_tokens] == ["reader-1"], name


def test_every_pkg_variable_is_a_setting() -> None:
    fields = {f"PKG_{name.upper()}" for name in Settings.model_fields}
    for service in loaded({})["services"].values():
        variables = {k for k in service.get("environment", {}) if k.startswith("PKG_")}
        assert variables <= fields, variables - fields


def test_each_replica_keeps_its_last_known_good_cache_on_a_volume() -> None:
    config = loaded({})
    for name, service in pkg_services(config).items():
        cache_dir = service["environment"]["PKG_SNAPSHOT_CACHE_DIR"]
        mounts = dict(volume.split(":", 1)[::-1] for volume in service.get("volumes", []))
        assert mounts.get(cache_dir) in config["volumes"], name


def test_the_interpolation_here_matches_composes_rules() -> None:
    assert interpolate("${A:-x} ${B-y} ${C}", {"B": ""}) == "x  "
    with pytest.raises(KeyError, match="set A"):
        interpolate("${A:?set A}", {})
