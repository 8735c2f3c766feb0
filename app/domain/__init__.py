"""The pure domain: snapshots, the native engine, DAG assembly, facts (DESIGN.md §1).

The decision core's modules load from their mypyc build when one matches their sources
(app/domain/core.py); otherwise, and with `PKG_PURE_PYTHON=1`, from the sources here.
"""

from app.domain.core import CHOICE

if CHOICE.folder is not None:
    __path__.insert(0, str(CHOICE.folder))
