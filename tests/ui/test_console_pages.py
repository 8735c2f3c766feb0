"""Every console page, in the browser and on the wire: the strict Content-Security-Policy and
`X-Frame-Options: DENY` on every answer, no inline script or style the policy would block (and
no refusal logged by the browser), hostile rule names shown as text, the main controls reached
with the Tab key, and no horizontal overflow on a phone-sized screen."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import quote

import httpx
import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver

from tests.ui.conftest import (
    ADMIN_TOKEN,
    SEED,
    Console,
    csp_violations,
    find,
    login,
    policy,
    screenshot,
    wait,
)

HOSTILE_RULE = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'
HOSTILE_VERSION = '<b>hostile&amp;"quoted"@1'
MAX_TABS = 80

# page → the control the Tab key must reach on it
PAGES: dict[str, str] = {
    "/ui/": "nav a[href='/ui/snapshots']",
    "/ui/snapshots": "#q",
    f"/ui/snapshot?version={quote(HOSTILE_VERSION)}": "#diff-b",
    f"/ui/diff?a={quote(SEED)}&b={quote(HOSTILE_VERSION)}": "nav a[href='/ui/promotions']",
    "/ui/promotions": "#promote-version",
    f"/ui/promote?version={quote(HOSTILE_VERSION)}": "#confirm-promote",
    "/ui/rollback": "nav a[href='/ui/']",
    "/ui/shadow": "nav a[href='/ui/shadow']",
    "/ui/decisions": "#decision_id",
    "/ui/playground": "#decide",
    "/ui/live": "nav a[href='/ui/live']",
}


@pytest.fixture(scope="session")
def hostile(console: Console) -> Console:
    """A snapshot whose version and rule names are markup, once per backend."""
    document = policy(HOSTILE_VERSION, fixtures=[])
    document["rules"][0]["name"] = HOSTILE_RULE
    document["notes"] = "</dd><script>window.pwned = 3</script>"
    if console.api.get(f"/snapshots/{quote(HOSTILE_VERSION, safe='')}").status_code == 404:
        console.push(document)
    return console


def session_client(browser: WebDriver, console: Console) -> httpx.Client:
    """An HTTP client carrying the browser's session cookie (the token never leaves it)."""
    cookie = browser.get_cookie("pkg_console")
    assert cookie is not None and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert ADMIN_TOKEN not in browser.current_url
    return httpx.Client(base_url=console.url, cookies={"pkg_console": cookie["value"]})


@pytest.mark.parametrize("path", list(PAGES))
def test_every_page_sends_a_strict_csp_and_nothing_it_would_block(
    browser: WebDriver, hostile: Console, path: str
) -> None:
    login(browser, hostile)
    csp_violations(browser)  # forget what came before
    browser.get(hostile.url + path)
    find(browser, "main h1")
    with session_client(browser, hostile) as client:
        response = client.get(path)
    assert response.status_code == 200, response.text
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert inline_code(response.text) == []
    assert csp_violations(browser) == []
    name = path.split("?")[0].removeprefix("/ui").strip("/") or "overview"
    screenshot(browser, hostile, f"page-{name}")


class InlineCode(HTMLParser):
    """Markup CSP would refuse: a script with a body, an `on...` handler, a `style` attribute
    or element (attributes as the browser parses them: text that merely looks like one is not)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _value in attrs}
        self.found += [f"<{tag} {n}>" for n in names if n.startswith("on") or n == "style"]
        if tag == "style":
            self.found.append("<style>")
        self._script = tag == "script" and "src" not in names

    def handle_data(self, data: str) -> None:
        if self._script and data.strip():
            self.found.append(f"<script>{data[:40]}")

    def handle_endtag(self, tag: str) -> None:
        self._script = False


def inline_code(html: str) -> list[str]:
    parser = InlineCode()
    parser.feed(html)
    return parser.found


def test_hostile_rule_names_and_versions_show_as_text(browser: WebDriver, hostile: Console) -> None:
    login(browser, hostile)
    for path in (f"/ui/snapshot?version={quote(HOSTILE_VERSION)}", "/ui/snapshots",
                 f"/ui/diff?a={quote(SEED)}&b={quote(HOSTILE_VERSION)}"):  # fmt: skip
        browser.get(hostile.url + path)
        find(browser, "main h1")
        assert browser.execute_script("return window.pwned === undefined")
        assert not browser.find_elements(By.CSS_SELECTOR, "main b, main img")
        assert HOSTILE_VERSION in browser.find_element(By.TAG_NAME, "main").text
    browser.get(hostile.url + f"/ui/snapshot?version={quote(HOSTILE_VERSION)}")
    assert HOSTILE_RULE in find(browser, "#rules-table").text
    screenshot(browser, hostile, "hostile-names")


def test_a_form_without_its_csrf_token_changes_nothing(
    browser: WebDriver, hostile: Console
) -> None:
    login(browser, hostile)
    before = hostile.api.get("/promotions", params={"limit": 1}).json()
    with session_client(browser, hostile) as client:
        forged = client.post(
            "/ui/promote", data={"version": HOSTILE_VERSION, "force": "on", "csrf": "guess"}
        )
        cross_site = client.post(
            "/ui/logout",
            data={"csrf": "x"},
            headers={"Origin": "https://evil.example"},
        )
    assert forged.status_code == 403 and "CSRF" in forged.text
    assert cross_site.status_code == 403
    assert hostile.api.get("/promotions", params={"limit": 1}).json() == before


@pytest.mark.parametrize(("path", "control"), list(PAGES.items()))
def test_the_tab_key_reaches_the_main_controls(
    browser: WebDriver, hostile: Console, path: str, control: str
) -> None:
    login(browser, hostile)
    browser.get(hostile.url + path)
    find(browser, "main h1")
    browser.execute_script("document.activeElement && document.activeElement.blur()")
    keys = ActionChains(browser)
    keys.send_keys(Keys.TAB).perform()
    assert browser.execute_script("return document.activeElement.classList.contains('skip')")
    for _ in range(MAX_TABS):
        if browser.execute_script("return document.activeElement.matches(arguments[0])", control):
            break
        keys.send_keys(Keys.TAB).perform()
    else:
        pytest.fail(f"{control} on {path} is not reached in {MAX_TABS} presses of Tab")


def test_the_login_form_is_reached_with_the_tab_key(browser: WebDriver, hostile: Console) -> None:
    browser.delete_all_cookies()
    browser.get(hostile.url + "/ui/login")
    find(browser, "#token")
    browser.execute_script("document.activeElement && document.activeElement.blur()")
    keys = ActionChains(browser)
    for _ in range(5):
        keys.send_keys(Keys.TAB).perform()
        if browser.execute_script("return document.activeElement.id") == "token":
            break
    assert browser.execute_script("return document.activeElement.id") == "token"
    screenshot(browser, hostile, "login")


@pytest.fixture
def phone(browser: WebDriver) -> object:
    browser.set_window_size(390, 844)
    yield browser
    browser.set_window_size(1280, 1000)


@pytest.mark.parametrize("path", list(PAGES))
def test_no_page_overflows_a_phone_screen(
    browser: WebDriver, hostile: Console, phone: object, path: str
) -> None:
    login(browser, hostile)
    browser.get(hostile.url + path)
    find(browser, "main h1")
    wait(browser).until(lambda d: d.execute_script("return document.readyState") == "complete")
    width = browser.execute_script("return document.documentElement.clientWidth")
    scrolled = browser.execute_script("return document.documentElement.scrollWidth")
    assert width <= 400 and scrolled <= width, f"{path}: {scrolled}px wide on a {width}px screen"
    name = path.split("?")[0].removeprefix("/ui").strip("/") or "overview"
    screenshot(browser, hostile, f"phone-{name}")
