"""The decision core: compiled by mypyc when a build for these exact sources is there.

`scripts/build_core.py` (run by `make install`, `make install-dev` and the image's builder
stage) compiles `CORE_MODULES` with mypyc into `app/domain/_compiled/`, next to a stamp naming
the interpreter and the SHA-256 of each source. `app/domain/__init__.py` puts that folder first
on the package's search path only when the stamp matches the sources beside it, so an edited
source, another Python, or a missing or failed build all run the pure-Python modules, which stay
the source of truth. `PKG_PURE_PYTHON=1` asks for them outright.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import sysconfig
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

CORE_MODULES: Final = ("native", "checks", "conditions", "dag", "facts")
PACKAGE_DIR: Final = Path(__file__).resolve().parent
COMPILED_DIR: Final = PACKAGE_DIR / "_compiled"
STAMP_NAME: Final = "core.json"
GROUP_NAME: Final = "app.domain.compiled_core"  # mypyc's shared library, beside the modules


@dataclass(frozen=True, slots=True)
class CoreChoice:
    """Which modules the package loads: `compiled` with the folder, or why not."""

    compiled: bool
    reason: str
    folder: Path | None = None


def interpreter_tag() -> str:
    """What a compiled module is bound to: the interpreter and its extension suffix."""
    return f"{sys.implementation.cache_tag}{sysconfig.get_config_var('EXT_SUFFIX')}"


def source_digests(package_dir: Path = PACKAGE_DIR) -> dict[str, str]:
    return {
        name: hashlib.sha256((package_dir / f"{name}.py").read_bytes()).hexdigest()
        for name in CORE_MODULES
    }


def stamp_for(package_dir: Path = PACKAGE_DIR) -> dict[str, object]:
    """The stamp a build writes, and a load compares."""
    return {"interpreter": interpreter_tag(), "sources": source_digests(package_dir)}


def choose(
    environ: Mapping[str, str] = os.environ,
    package_dir: Path = PACKAGE_DIR,
    compiled_dir: Path = COMPILED_DIR,
) -> CoreChoice:
    """Compiled when asked for (not `PKG_PURE_PYTHON=1`) and built for these very sources."""
    if environ.get("PKG_PURE_PYTHON", "").strip().lower() in ("1", "true", "yes"):
        return CoreChoice(False, "PKG_PURE_PYTHON=1")
    stamp_file = compiled_dir / STAMP_NAME
    try:
        stamp = json.loads(stamp_file.read_text())
    except FileNotFoundError:
        return CoreChoice(False, "not built (make install builds it with mypyc and gcc)")
    except (OSError, ValueError) as exc:
        return CoreChoice(False, f"unreadable build stamp {stamp_file}: {exc}")
    if not isinstance(stamp, dict) or stamp.get("interpreter") != interpreter_tag():
        return CoreChoice(False, "built for another Python: rebuild with make install")
    if stamp.get("sources") != source_digests(package_dir):
        return CoreChoice(False, "sources changed since the build: rebuild with make install")
    return CoreChoice(True, "mypyc", compiled_dir)


CHOICE: Final = choose()
_unloadable: list[str] = []  # why a matching build still did not load, if it did not


def build_failed_to_load(reason: str) -> None:
    """app/domain/__init__.py: the build matched but its library would not load."""
    _unloadable.append(reason)


def describe() -> str:
    """One line for `pkgctl --version` and the server's start-up log."""
    from app.domain import native  # the module that tells: compiled or not

    if getattr(native, "COMPILED", False):
        return "compiled (mypyc)"
    return f"pure Python ({_unloadable[0] if _unloadable else CHOICE.reason})"
