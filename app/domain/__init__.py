"""The pure domain: snapshots, the native engine, DAG assembly, facts (DESIGN.md §1).

The decision core's modules load from their mypyc build when one matches their sources
(app/domain/core.py); otherwise, and with `PKG_PURE_PYTHON=1`, from the sources here. A build
whose shared library does not load (a damaged file, another C library) is left aside too.
"""

from importlib import import_module

from app.domain import core

if core.CHOICE.folder is not None:
    __path__.insert(0, str(core.CHOICE.folder))
    try:
        import_module(f"{core.GROUP_NAME}__mypyc")
    except ImportError as exc:
        __path__.remove(str(core.CHOICE.folder))
        core.build_failed_to_load(f"the build does not load: {exc}")
