"""The console in a real browser: Debian's chromium driven by selenium (chromium-driver),
headless, against real `pkgctl serve` processes on SQLite and on PostgreSQL.

Each backend gets one `Console`: replica A (the seed policy, a decision log in the database,
the console under test) and replica B on the same database, so the overview has a fleet to
show. Tests push through the HTTP API and look through the browser. Screenshots of every page
go to tests/ui/artifacts/ (git-ignored)."""

from __future__ import annotations

import re
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from bench.server import ROOT, ServerProcess
from tests.services.postgres import PostgresServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).parent / "artifacts"
ADMIN = "alice"
ADMIN_TOKEN = "console-admin-token"
READER = "eve"
READER_TOKEN = "console-reader-token"
SEED = "hotel-ops@1.0.0"
WAIT_S = 20.0


def _need(path: Path) -> None:
    if not path.exists():
        pytest.fail(
            f"{path} is missing: the console tests drive Debian's chromium "
            "(scripts/install-test-services.sh installs chromium and chromium-driver)",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def browser() -> Iterator[WebDriver]:
    _need(CHROMIUM)
    _need(CHROMEDRIVER)
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", "--window-size=1280,1000", "--lang=en-US"):  # fmt: skip
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


@dataclass
class Console:
    backend: str
    a: ServerProcess
    b: ServerProcess
    sql: Callable[[str], None]  # runs a statement on the replicas' database
    api: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        self.api = httpx.Client(base_url=self.a.url, headers=headers, timeout=30)

    @property
    def url(self) -> str:
        return self.a.url

    def push(self, document: dict[str, Any]) -> None:
        response = self.api.post("/snapshots", json=document)
        assert response.status_code == 201, response.text

    def validate(self, version: str) -> None:
        response = self.api.post("/validation/runs", json={"version": version})
        assert response.status_code == 201 and response.json()["success"], response.text

    def promote(self, version: str, *, env: str = "prod") -> dict[str, Any]:
        response = self.api.post("/promotions", json={"version": version, "env": env})
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body


def policy(version: str, *, env: str = "prod", rules: list[dict[str, Any]] | None = None,
           fixtures: list[dict[str, Any]] | None = None) -> dict[str, Any]:  # fmt: skip
    """A small native policy: `vip` escalates, urgent work is assigned, unless told otherwise."""
    return {
        "version": version,
        "env": env,
        "engine": "native",
        "subtask_types": {
            "escalate": {"default_params": {"level": "normal"}},
            "assign": {"default_params": {}},
        },
        "rules": rules
        if rules is not None
        else [
            {
                "name": "vip_escalates",
                "priority": 10,
                "conditions": [{"type": "TAG", "key": "vip", "op": "EXISTS"}],
                "emissions": [{"subtask_type": "escalate", "params": {"level": "high"}}],
            },
            {
                "name": "urgent_is_assigned",
                "priority": 5,
                "conditions": [{"type": "SIGNAL", "key": "urgency", "op": ">=", "value": 0.8}],
                "emissions": [{"subtask_type": "assign"}],
            },
        ],
        "fixtures": fixtures
        if fixtures is not None
        else [
            {
                "name": "vip escalates",
                "input": {"tags": ["vip"]},
                "expect": {"subtasks": [{"name": "escalate", "params": {"level": "high"}}]},
            },
        ],
    }


def unique(prefix: str) -> str:
    return f"{prefix}@{uuid.uuid4().hex[:8]}"


def _servers(tmp: Path, database_url: str) -> tuple[ServerProcess, ServerProcess]:
    common = {
        "PKG_DATABASE_URL": database_url,
        "PKG_ADMIN_TOKENS": f"{ADMIN}:{ADMIN_TOKEN}",
        "PKG_EVALUATOR_TOKENS": f"{READER}:{READER_TOKEN}",
        "PKG_UI_SECRET": "console-test-secret",
        "PKG_RECONCILE_INTERVAL_S": "0.5",
        "PKG_HEARTBEAT_INTERVAL_S": "1",
        "PKG_SHADOW_FLUSH_INTERVAL_S": "0.2",
        "PKG_LOG_LEVEL": "WARNING",
    }
    a = ServerProcess(
        {**common, "PKG_INSTANCE_ID": "replica-a", "PKG_SNAPSHOT_CACHE_DIR": str(tmp / "cache-a"),
         "PKG_SEED_FILE": str(ROOT / "examples" / "hotel_ops.yaml"),
         "PKG_DECISION_LOG": "database"},
        log_path=tmp / "a.log",
    )  # fmt: skip
    b = ServerProcess(
        {**common, "PKG_INSTANCE_ID": "replica-b", "PKG_SNAPSHOT_CACHE_DIR": str(tmp / "cache-b"),
         "PKG_AUTO_MIGRATE": "false"},
        log_path=tmp / "b.log",
    )  # fmt: skip
    return a, b


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def console(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Console]:
    tmp = tmp_path_factory.mktemp(f"console-{request.param}")
    if request.param == "sqlite":
        path = tmp / "pkg.db"
        url = f"sqlite+aiosqlite:///{path}"

        def sql(statement: str) -> None:
            with sqlite3.connect(path) as conn:
                conn.execute(statement)

    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        name = f"pkg_console_{uuid.uuid4().hex[:8]}"
        server.create_database(name)
        url = server.url(name)

        def sql(statement: str) -> None:
            server.psql(statement, dbname=name)

    a, b = _servers(tmp, url)
    a.start()  # migrates and seeds; B starts on the migrated database
    try:
        b.start()
        console = Console(request.param, a, b, sql)
        yield console
        console.api.close()
    finally:
        b.stop()
        a.stop()


# ---------------------------------------------------------------------------- browsing
# chromedriver's other word for a stale element: a node found on the page being replaced
_DETACHED = "does not belong to the document"


class _PageWait(WebDriverWait[WebDriver]):
    """`WebDriverWait` that also retries a node detached by the page replacing it, which
    chromedriver sometimes reports as a plain `WebDriverException` instead of a stale one."""

    def until(self, method: Callable[[WebDriver], Any], message: str = "") -> Any:
        def attempt(driver: WebDriver) -> Any:
            try:
                return method(driver)
            except WebDriverException as exc:
                if _DETACHED in (exc.msg or ""):
                    raise StaleElementReferenceException(exc.msg) from exc
                raise

        return super().until(attempt, message)


def wait(driver: WebDriver, timeout: float = WAIT_S) -> WebDriverWait[WebDriver]:
    """Polls; a page that is being replaced (an element gone stale, not there yet) is retried."""
    return _PageWait(
        driver,
        timeout,
        poll_frequency=0.1,
        ignored_exceptions=(NoSuchElementException, StaleElementReferenceException),
    )


def find(driver: WebDriver, css: str) -> WebElement:
    return wait(driver).until(lambda d: d.find_element(By.CSS_SELECTOR, css))


def login(driver: WebDriver, console: Console, token: str = ADMIN_TOKEN) -> None:
    driver.delete_all_cookies()
    driver.get(console.url + "/ui/login")
    find(driver, "#token").send_keys(token)
    driver.find_element(By.CSS_SELECTOR, "form[action='/ui/login'] button").click()
    wait(driver).until(lambda d: "/ui/login" not in d.current_url)


def reloaded(driver: WebDriver) -> WebDriver:
    """The page loaded again (for waits on what another process changes)."""
    driver.refresh()
    return driver


def screenshot(driver: WebDriver, console: Console, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{console.backend}-{re.sub(r'[^a-z0-9-]+', '-', name)}.png"
    driver.save_screenshot(str(path))
    return path


def csp_violations(driver: WebDriver) -> list[str]:
    """Messages the browser logged about refused scripts, styles or frames since last asked."""
    entries = driver.get_log("browser")  # type: ignore[attr-defined]  # Chrome's, not on the remote base class
    return [e["message"] for e in entries if "Content Security Policy" in e["message"]]
