"""The wasm adapter's own failure: what `PKGEvaluator` turns into the error envelope."""

from __future__ import annotations

from app.domain.errors import PKGError


class WasmEvaluationError(PKGError):
    """An evaluation trapped, aborted, ran past its deadline or exhausted its memory."""
