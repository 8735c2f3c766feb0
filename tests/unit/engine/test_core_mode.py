"""The engine tests run on whichever decision core loaded: this says which, and that it is the
one asked for (tests/unit/test_decision_core.py runs this folder both ways)."""

from __future__ import annotations

import os

from app.domain import checks, conditions, core, dag, facts, native


def test_the_loaded_core_is_the_one_the_environment_asks_for() -> None:
    pure = os.environ.get("PKG_PURE_PYTHON") == "1"
    modules = (native, checks, conditions, dag, facts)
    compiled = [not str(m.__file__).endswith(".py") for m in modules]
    if pure:
        assert compiled == [False] * len(modules)
        assert core.describe() == "pure Python (PKG_PURE_PYTHON=1)"
    else:
        assert compiled == [core.CHOICE.compiled] * len(modules), core.CHOICE.reason
    assert native.COMPILED is compiled[0]
