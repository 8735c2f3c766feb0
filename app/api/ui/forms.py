"""Form bodies (`application/x-www-form-urlencoded`, all a console form sends), read without
python-multipart: one value per field, bounded like every other body."""

from __future__ import annotations

from typing import Final
from urllib.parse import parse_qsl

from fastapi import HTTPException, Request

MAX_FORM_BYTES: Final = 256 * 1024


class Form(dict[str, str]):
    def text(self, name: str) -> str | None:
        """The field stripped, or None when absent or blank."""
        value = self.get(name, "").strip()
        return value or None

    def flag(self, name: str) -> bool:
        return self.get(name) in {"on", "true", "1", "yes"}


async def read_form(request: Request) -> Form:
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    if content_type != "application/x-www-form-urlencoded":
        raise HTTPException(415, "console forms are sent as application/x-www-form-urlencoded")
    raw = await request.body()
    if len(raw) > MAX_FORM_BYTES:
        raise HTTPException(413, f"a console form is at most {MAX_FORM_BYTES} bytes")
    return Form(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
