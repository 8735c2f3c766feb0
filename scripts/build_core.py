"""Compile the decision core (app/domain/core.py: CORE_MODULES) with mypyc.

    python scripts/build_core.py [--into DIR]

Builds with the locked mypy and setuptools (the `compile` extra) and the system C compiler,
into DIR (default app/domain/_compiled, which the package loads from when the stamp written
last matches its sources). Any failure leaves DIR without a stamp, so the pure-Python modules
run, and exits 1 with the reason on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.domain.core import (  # noqa: E402  (the project's root first on the path)
    CORE_MODULES,
    GROUP_NAME,
    PACKAGE_DIR,
    STAMP_NAME,
    stamp_for,
)


def build(into: Path) -> None:
    from mypyc.build import mypycify
    from setuptools import setup

    os.chdir(ROOT)  # mypyc names the modules from their paths: app/domain/native.py
    into.mkdir(parents=True, exist_ok=True)
    (into / STAMP_NAME).unlink(missing_ok=True)  # no stamp until this build has finished
    stamp = stamp_for()
    if into.parent != PACKAGE_DIR and stamp["sources"] != stamp_for(into.parent)["sources"]:
        raise RuntimeError(f"{into.parent} holds other sources than {PACKAGE_DIR}: reinstall it")
    sources = [str((PACKAGE_DIR / f"{name}.py").relative_to(ROOT)) for name in CORE_MODULES]
    with tempfile.TemporaryDirectory() as tmp:
        setup(
            name="pkg-decision-core",
            ext_modules=mypycify(sources, group_name=GROUP_NAME, opt_level="3"),
            script_args=["-q", "build_ext", f"--build-lib={tmp}/lib", f"--build-temp={tmp}/t"],
        )
        built = sorted((Path(tmp) / "lib" / "app" / "domain").glob("*.so"))
        if len(built) != len(CORE_MODULES) + 1:  # the modules and their shared library
            raise RuntimeError(f"mypyc built {[p.name for p in built]}")
        for old in into.glob("*.so"):
            old.unlink()
        for path in built:
            shutil.copy2(path, into / path.name)
    (into / STAMP_NAME).write_text(json.dumps(stamp, indent=2) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--into", type=Path, default=PACKAGE_DIR / "_compiled")
    args = parser.parse_args()
    try:
        build(args.into.resolve())
    except (Exception, SystemExit) as exc:  # setuptools reports a compiler failure by exiting
        print(f"decision core not compiled ({exc}); the pure-Python modules run", file=sys.stderr)
        return 1
    print(f"decision core compiled with mypyc into {args.into}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
