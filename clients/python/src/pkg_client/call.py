"""One API call as a value: what to send and how to read the answer. Both clients send the
same calls (`pkg_client.operations` builds them), one blocking and one with `await`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx

from pkg_client.errors import PKGError

T = TypeVar("T")


def json_body(response: httpx.Response) -> Any:
    return response.json() if response.content else None


def items_of(response: httpx.Response) -> Any:
    """The `items` of a `{"items": [...]}` answer."""
    return response.json()["items"]


def raw_bytes(response: httpx.Response) -> bytes:
    return response.content


def text(response: httpx.Response) -> str:
    return response.text


def nothing(response: httpx.Response) -> None:
    return None


def is_ok(response: httpx.Response) -> bool:
    return response.status_code == 200


@dataclass(frozen=True)
class Call(Generic[T]):
    """`expect`: the statuses that are answers (any other raises `PKGError`); `decode` turns
    the answer into `T`."""

    method: str
    path: str
    decode: Callable[[httpx.Response], T] = json_body
    expect: tuple[int, ...] = (200,)
    json: Any = None
    params: dict[str, Any] | None = None
    content: bytes | None = None
    headers: dict[str, str] | None = None

    def request(self) -> dict[str, Any]:
        """The keyword arguments of `httpx.Client.request` after the method and path."""
        return {
            "json": self.json,
            "params": self.params,
            "content": self.content,
            "headers": self.headers,
        }

    def answer(self, response: httpx.Response) -> T:
        if response.status_code not in self.expect:
            raise PKGError.from_response(response)
        return self.decode(response)


def segment(value: str | int) -> str:
    """A path segment: `a/b@1` stays one segment (`a%2Fb%401`)."""
    return quote(str(value), safe="")


def query(**values: Any) -> dict[str, Any]:
    """Query parameters: None and False are left out (the server's defaults), times in ISO."""
    params: dict[str, Any] = {}
    for name, value in values.items():
        if value is None or value is False:
            continue
        params[name] = value.isoformat() if isinstance(value, datetime) else value
    return params


def body(**values: Any) -> dict[str, Any]:
    """A JSON body: fields left as None take the server's defaults (`env`, `region`)."""
    return {name: value for name, value in values.items() if value is not None}


def plain(value: Mapping[str, Any]) -> dict[str, Any]:
    """A mapping the JSON encoder takes (it takes dicts only)."""
    return value if isinstance(value, dict) else dict(value)
