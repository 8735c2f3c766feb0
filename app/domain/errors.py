"""The domain's own exceptions. `app/api/errors.py` maps each to a problem+json response once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


class PKGError(Exception):
    """Base of every error PKG raises on purpose."""


@dataclass(frozen=True)
class FieldError:
    """One problem in a request or document: where (`loc`, e.g. `rules[2].conditions[0].op`)
    and what."""

    loc: str
    msg: str

    def as_dict(self) -> dict[str, Any]:
        return {"loc": self.loc, "msg": self.msg}


class DocumentError(PKGError, ValueError):
    """A policy document is invalid. Carries every problem found, not just the first."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e.loc}: {e.msg}" for e in errors) or "invalid document")


class FactsError(PKGError, ValueError):
    """Task facts that no engine should see (not an object, wrong types, too deep). Carries
    every problem found (`errors`); `loc` and `msg` are the first one's."""

    def __init__(self, loc: str, msg: str, *, more: Sequence[FieldError] = ()) -> None:
        self.loc = loc
        self.msg = msg
        self.errors = [FieldError(loc, msg), *more]
        super().__init__("; ".join(f"{e.loc}: {e.msg}" for e in self.errors))

    @classmethod
    def of(cls, errors: Sequence[FieldError]) -> FactsError:
        """One error for several problems (at least one)."""
        first, *more = errors
        return cls(first.loc, first.msg, more=more)

    def within(self, prefix: str) -> FactsError:
        """The same problems, located inside `prefix` (`items[2]` → `items[2].tags[0]`)."""
        return FactsError.of([FieldError(f"{prefix}.{e.loc}", e.msg) for e in self.errors])


class UnknownEngineError(PKGError, ValueError):
    """A snapshot names an engine type nobody registered."""


class ChecksumMismatchError(PKGError, ValueError):
    """A snapshot's stored checksum does not match its content: it must not be served."""

    def __init__(self, version: str, *, expected: str | None, actual: str) -> None:
        self.version = version
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"snapshot {version}: stored checksum {expected!r} does not match content {actual}"
        )


class SignatureError(PKGError, ValueError):
    """A snapshot's (or bundle's) signature is missing, by an unknown key, or does not verify."""


class EngineLoadError(PKGError, ValueError):
    """An engine could not be built from a snapshot (bad artifact, missing builtin, ...).

    A ValueError, as the seed raises for a snapshot its engine cannot load."""


class NotFoundError(PKGError):
    """A named thing (version, run, deployment) does not exist."""


class ConflictError(PKGError):
    """The request contradicts stored state (duplicate version, delete of a once-active one)."""


class PromotionRefusedError(PKGError):
    """A promotion's preconditions do not hold (validation not passed, wrong env)."""


class StoreUnavailableError(PKGError):
    """The database cannot be reached right now."""
