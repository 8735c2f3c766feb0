"""Policy document text (YAML or JSON, as users write it) → the raw mapping the domain checks.

The loader is bounded (DESIGN.md §2): YAML aliases are refused (an alias bomb of a few hundred
bytes expands to gigabytes; policy documents have no use for them), nesting deeper than
`MAX_DOCUMENT_DEPTH` is refused while composing (no RecursionError), and the text itself is
bounded by `MAX_DOCUMENT_BYTES`. `POST /snapshots` and `pkgctl` both read documents here.
"""

from __future__ import annotations

from typing import Any, Final

import yaml
from yaml.composer import Composer
from yaml.events import AliasEvent
from yaml.nodes import Node

from app.domain.document import MAX_DOCUMENT_DEPTH
from app.domain.errors import DocumentError, FieldError

MAX_DOCUMENT_BYTES: Final = 4 * 1024 * 1024


class _RefusedError(yaml.YAMLError):
    """A bound of the loader was crossed; the message says which."""


class _BoundedLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` without aliases and with a nesting bound checked before recursing."""

    def __init__(self, stream: str | bytes) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(AliasEvent):
            raise _RefusedError("YAML aliases (*name) are not allowed in policy documents")
        self._depth += 1
        try:
            if self._depth > MAX_DOCUMENT_DEPTH:
                raise _RefusedError(
                    f"the document nests deeper than the maximum depth of {MAX_DOCUMENT_DEPTH}"
                )
            return Composer.compose_node(self, parent, index)
        finally:
            self._depth -= 1


def load_policy_text(text: str | bytes) -> dict[str, Any]:
    """Parse YAML (a superset of JSON); `DocumentError` on a syntax error, a crossed bound or a
    non-object."""
    if len(text) > MAX_DOCUMENT_BYTES:
        raise DocumentError(
            [FieldError("document", f"larger than the maximum of {MAX_DOCUMENT_BYTES} bytes")]
        )
    try:
        raw = yaml.load(text, Loader=_BoundedLoader)
    except _RefusedError as exc:
        raise DocumentError([FieldError("document", str(exc))]) from exc
    except yaml.YAMLError as exc:
        raise DocumentError([FieldError("document", f"not valid YAML or JSON: {exc}")]) from exc
    if not isinstance(raw, dict):
        raise DocumentError([FieldError("document", "a policy document must be an object")])
    return raw
