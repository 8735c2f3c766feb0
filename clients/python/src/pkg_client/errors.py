"""What the client raises: `PKGError` for a problem answer (RFC 7807 problem+json), and
`PKGConnectionError` when no answer came."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import httpx

from pkg_client.types import FieldError


class PKGConnectionError(Exception):
    """The server could not be reached (or did not answer in time)."""


@dataclass
class PKGError(Exception):
    """A non-2xx answer: the problem's `status`, `title`, `detail`, the `errors` of bad input
    (`[{"loc", "msg"}]`), and the whole problem+json body as `problem`."""

    status: int
    detail: str
    title: str = ""
    errors: list[FieldError] = field(default_factory=list)
    type: str = "about:blank"
    instance: str | None = None
    problem: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.title}: {self.detail}".replace(" : ", ": ")

    @classmethod
    def from_response(cls, response: httpx.Response) -> PKGError:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            text = response.text[:500] or response.reason_phrase
            return cls(response.status_code, text, title=response.reason_phrase)
        errors = body.get("errors")
        instance = body.get("instance")
        return cls(
            status=response.status_code,
            detail=str(body.get("detail", response.reason_phrase)),
            title=str(body.get("title", response.reason_phrase)),
            errors=cast(list[FieldError], errors) if isinstance(errors, list) else [],
            type=str(body.get("type", "about:blank")),
            instance=instance if isinstance(instance, str) else None,
            problem=body,
        )
