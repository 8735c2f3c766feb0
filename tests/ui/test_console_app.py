"""The console as an ASGI app, without a browser: it is off with PKG_UI=false, adds nothing to
the /evaluate path, keeps the API's loopback rule when no tokens are configured, and its
session cookie is signed, scoped, HttpOnly and SameSite=Strict, with CSRF on every form."""

from __future__ import annotations

import re
from typing import Any

import httpx
from pydantic import SecretStr

from app.entrypoints.http.app import create_app
from app.settings import Settings

TOKENS: dict[str, Any] = {
    "admin_tokens": [SecretStr("alice:admin-secret")],
    "evaluator_tokens": [SecretStr("eve:reader-secret")],
}
CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')


def client(
    settings: Settings, *, host: str = "127.0.0.1", base: str = "http://127.0.0.1"
) -> httpx.AsyncClient:
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app, client=(host, 50000))
    return httpx.AsyncClient(transport=transport, base_url=base)


async def log_in(http: httpx.AsyncClient, token: str) -> httpx.Response:
    page = await http.get("/ui/login")
    match = CSRF.search(page.text)
    assert match is not None
    return await http.post("/ui/login", data={"token": token, "csrf": match[1], "next": "/ui/live"})


async def test_pkg_ui_false_serves_no_console_and_the_console_adds_no_middleware() -> None:
    on, off = create_app(Settings(ui=True)), create_app(Settings(ui=False))
    assert [m.cls for m in on.user_middleware] == [m.cls for m in off.user_middleware]
    assert on.lean_evaluate is not None  # /evaluate is still answered ahead of everything
    async with client(Settings(ui=False)) as http:
        assert (await http.get("/ui/login")).status_code == 404
        assert (await http.get("/ui/static/htmx.min.js")).status_code == 404
    async with client(Settings(ui=True)) as http:
        assert (await http.get("/ui/login")).status_code == 200
        script = await http.get("/ui/static/htmx.min.js")
        assert script.status_code == 200 and "htmx" in script.text
        evaluate = await http.post("/evaluate", json={"tags": []})
        assert "content-security-policy" not in evaluate.headers  # nothing of the console


async def test_with_no_tokens_only_loopback_clients_on_a_loopback_name_are_served() -> None:
    async with client(Settings(), host="10.1.2.3") as http:
        refused = await http.get("/ui/live")
    assert refused.status_code == 403 and "loopback" in refused.text
    async with client(Settings()) as http:
        assert (await http.get("/ui/live")).status_code == 200  # no login, as the API
    async with client(Settings(), base="http://localhost:8080") as http:
        assert (await http.get("/ui/live")).status_code == 200
    async with client(Settings(), base="http://rebound.example") as http:
        rebound = await http.get("/ui/live")  # a page of another origin resolved to 127.0.0.1
    assert rebound.status_code == 403 and "localhost" in rebound.text


async def test_login_sets_a_signed_strict_httponly_cookie_and_never_echoes_the_token() -> None:
    async with client(Settings(**TOKENS, ui_secret=SecretStr("s1"))) as http:
        anonymous = await http.get("/ui/live")
        assert anonymous.status_code == 303
        assert anonymous.headers["location"] == "/ui/login?next=%2Fui%2Flive"
        wrong = await log_in(http, "not-a-token")
        assert wrong.status_code == 401 and "not-a-token" not in wrong.text
        answer = await log_in(http, "admin-secret")
        assert answer.status_code == 303 and answer.headers["location"] == "/ui/live"
        cookie = answer.headers["set-cookie"]
        for attribute in ("HttpOnly", "SameSite=strict", "Path=/ui", "Max-Age=28800"):
            assert attribute in cookie
        page = await http.get("/ui/live")
        assert page.status_code == 200 and "alice" in page.text
        assert "admin-secret" not in page.text


async def test_a_cookie_signed_elsewhere_or_for_a_removed_token_is_no_session() -> None:
    async with client(Settings(**TOKENS, ui_secret=SecretStr("s1"))) as http:
        await log_in(http, "admin-secret")
        cookie = http.cookies["pkg_console"]
    async with client(Settings(**TOKENS, ui_secret=SecretStr("s2"))) as other:
        other.cookies.set("pkg_console", cookie, path="/ui")
        assert (await other.get("/ui/live")).status_code == 303  # another secret: not ours
    fewer = {**TOKENS, "admin_tokens": [SecretStr("bob:new-secret")]}
    async with client(Settings(**fewer, ui_secret=SecretStr("s1"))) as rotated:
        rotated.cookies.set("pkg_console", cookie, path="/ui")
        assert (await rotated.get("/ui/live")).status_code == 303  # the token is gone


async def test_a_reader_session_may_not_change_anything() -> None:
    async with client(Settings(**TOKENS)) as http:
        await log_in(http, "reader-secret")
        page = await http.get("/ui/login")
        match = CSRF.search(page.text)
        assert match is not None
        refused = await http.post("/ui/promote", data={"version": "x@1", "csrf": match[1]})
    assert refused.status_code == 403 and "admin role" in refused.text
    assert refused.headers["x-frame-options"] == "DENY"
