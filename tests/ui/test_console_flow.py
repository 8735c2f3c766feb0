"""A team's work through the console, in a browser: log in, see what the API pushed, diff two
versions, promote behind the confirmation page and watch the fleet follow, find a tampered
audit row named in red, decide facts in the playground, read a shadow lane's chart, look up a
decision and watch the live numbers move."""

from __future__ import annotations

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select

from bench.server import ROOT
from tests.ui.conftest import (
    ADMIN,
    READER,
    READER_TOKEN,
    SEED,
    Console,
    find,
    login,
    policy,
    reloaded,
    screenshot,
    unique,
    wait,
)


def text_of(driver: WebDriver, css: str) -> str:
    return find(driver, css).text


def test_login_then_the_overview_shows_active_versions_replicas_and_lanes(
    browser: WebDriver, console: Console
) -> None:
    browser.delete_all_cookies()
    browser.get(console.url + "/ui/")
    wait(browser).until(lambda d: "/ui/login" in d.current_url)  # no session: the login form
    login(browser, console)

    wait(browser).until(  # B reports itself on its first heartbeat
        lambda d: "replica-b" in reloaded(d).find_element(By.ID, "replica-list").text
    )
    prod = browser.find_element(By.XPATH, "//tr[td[1][text()='prod']]")
    assert prod.find_element(By.CSS_SELECTOR, "a.version").text  # prod serves something
    assert ADMIN in text_of(browser, ".who")
    replicas = text_of(browser, "#replica-list")
    assert "replica-a" in replicas and "replica-b" in replicas
    screenshot(browser, console, "overview")


def test_a_pushed_snapshot_is_found_by_search_with_its_rules_fixtures_and_runs(
    browser: WebDriver, console: Console
) -> None:
    version = unique("search-me")
    console.push(policy(version))
    console.validate(version)
    login(browser, console)

    browser.get(console.url + "/ui/snapshots")
    find(browser, "#q").send_keys(version.split("@")[1])
    browser.find_element(By.CSS_SELECTOR, "form[role=search] button").click()
    wait(browser).until(lambda d: version in d.find_element(By.ID, "snapshot-list").text)
    assert SEED not in text_of(browser, "#snapshot-list")  # the search filters
    screenshot(browser, console, "snapshots")

    browser.find_element(By.LINK_TEXT, version).click()
    rules = text_of(browser, "#rules-table")
    assert "vip_escalates" in rules and "TAG vip EXISTS" in rules
    assert "SIGNAL urgency >= 0.8" in rules
    assert "vip escalates" in text_of(browser, "#fixtures + .scroll")
    assert "passed" in text_of(browser, "#runs-table")
    screenshot(browser, console, "snapshot")


def test_two_versions_are_diffed_rule_by_rule(browser: WebDriver, console: Console) -> None:
    before, after = unique("diff-a"), unique("diff-b")
    console.push(policy(before))
    changed = policy(after)
    changed["rules"][0]["priority"] = 50  # vip_escalates: changed
    changed["rules"][1:] = [  # urgent_is_assigned: removed; night_shift: added
        {"name": "night_shift", "conditions": [{"type": "TAG", "key": "night", "op": "EXISTS"}],
         "emissions": [{"subtask_type": "assign"}]},
    ]  # fmt: skip
    console.push(changed)
    login(browser, console)

    browser.get(console.url + f"/ui/snapshot?version={before}")
    Select(find(browser, "#diff-b")).select_by_visible_text(after)
    browser.find_element(By.CSS_SELECTOR, "form[action='/ui/diff'] button").click()

    summary = text_of(browser, "#diff-summary")
    assert summary.startswith("1 added, 1 removed, 1 changed, 0 unchanged")
    rows = {
        row.get_attribute("data-rule"): row
        for row in browser.find_elements(By.CSS_SELECTOR, "#rule-diff tbody tr")
    }
    assert rows["vip_escalates"].get_attribute("class") == "changed"
    assert "priority" in rows["vip_escalates"].text and "50" in rows["vip_escalates"].text
    assert rows["night_shift"].get_attribute("class") == "added"
    assert rows["urgent_is_assigned"].get_attribute("class") == "removed"
    screenshot(browser, console, "diff")


def _serves(browser: WebDriver, replica: str) -> str:
    row = browser.find_element(By.CSS_SELECTOR, f"tr[data-replica='pkg-service:{replica}']")
    return str(row.find_element(By.CSS_SELECTOR, ".version").text)


def test_promotion_goes_through_the_confirmation_and_the_replica_list_follows(
    browser: WebDriver, console: Console
) -> None:
    version = unique("promote-me")
    console.push(policy(version))
    login(browser, console)
    browser.get(console.url + "/ui/promotions")
    Select(find(browser, "#promote-version")).select_by_visible_text(version)
    browser.find_element(By.ID, "promote-review").click()

    # the confirmation says what changes, and that the version was never validated
    assert "never validated" in text_of(browser, "#validation")
    find(browser, "#reason").send_keys("ship it")
    browser.find_element(By.ID, "confirm-promote").click()
    assert "never validated" in text_of(browser, "#refused")  # the API's rule, not skipped
    browser.find_element(By.ID, "validate-now").click()
    wait(browser).until(lambda d: "passed" in d.find_element(By.ID, "validation").text)
    screenshot(browser, console, "promote-confirm")
    find(browser, "#reason").send_keys("ship it")
    find(browser, "#on_behalf_of").send_keys("the night team")
    browser.find_element(By.ID, "confirm-promote").click()

    assert "Recorded as audit row" in text_of(browser, "#done")
    newest = browser.find_elements(By.CSS_SELECTOR, "#audit tbody tr")[0].text
    assert version in newest and ADMIN in newest and "the night team" in newest
    assert "ship it" in newest

    browser.get(console.url + "/ui/")
    wait(browser).until(  # B converges by itself and reports; A's page shows it
        lambda d: (
            _serves(reloaded(d), "replica-a") == version and _serves(d, "replica-b") == version
        )
    )
    assert browser.find_elements(By.XPATH, f"//td[a[text()='{version}']]")
    screenshot(browser, console, "overview-after-promotion")


def test_a_reader_sees_the_confirmation_but_may_not_promote(
    browser: WebDriver, console: Console
) -> None:
    version = unique("reader")
    console.push(policy(version))
    login(browser, console, READER_TOKEN)
    browser.get(console.url + f"/ui/promote?version={version}")
    assert READER in text_of(browser, "#read-only")
    assert not browser.find_elements(By.ID, "confirm-promote")


def test_rollback_shows_where_it_goes_and_goes_there(browser: WebDriver, console: Console) -> None:
    first, second = unique("rb-one"), unique("rb-two")
    for version in (first, second):
        console.push(policy(version))
        console.validate(version)
        console.promote(version)
    login(browser, console)
    browser.get(console.url + "/ui/promotions")
    browser.find_element(By.ID, "rollback-review").click()
    assert text_of(browser, "#rollback-to") == first
    browser.find_element(By.ID, "confirm-rollback").click()
    assert "Recorded as audit row" in text_of(browser, "#done")
    assert console.api.get("/snapshots/active").json()["version"] == first


def test_a_tampered_audit_row_is_named_in_red(browser: WebDriver, console: Console) -> None:
    version = unique("staging-chain")
    console.push(policy(version, env="staging"))
    console.validate(version)
    row = console.promote(version, env="staging")["id"]
    login(browser, console)
    browser.get(console.url + "/ui/promotions?env=staging")
    assert "verified" in text_of(browser, "#chain")

    console.sql(f"UPDATE pkg_promotions SET reason = 'nothing to see' WHERE id = {row}")
    browser.refresh()
    chain = find(browser, "#chain")
    assert f"broken at row {row}" in chain.text and "altered" in chain.text
    assert chain.get_attribute("class") == "bad"
    assert find(browser, f"#audit-{row}").get_attribute("class") == "broken"
    assert chain.value_of_css_property("color") == "rgba(179, 38, 30, 1)"  # red
    screenshot(browser, console, "promotions-broken-chain")


def test_the_playground_checks_facts_as_you_type_and_explains_the_decision(
    browser: WebDriver, console: Console
) -> None:
    login(browser, console)
    browser.get(console.url + "/ui/playground")
    Select(find(browser, "#version")).select_by_visible_text(SEED)
    facts = find(browser, "#facts")
    wait(browser).until(lambda d: d.find_elements(By.ID, "facts-ok"))  # checked on load
    facts.clear()
    facts.send_keys('{"tags": "vip"}')
    problem = wait(browser).until(lambda d: d.find_element(By.ID, "facts-problem"))
    assert "tags: must be a list of strings" in problem.text
    facts.clear()
    facts.send_keys((ROOT / "examples" / "facts" / "vip_allergy.json").read_text())
    wait(browser).until(lambda d: d.find_elements(By.ID, "facts-ok"))
    browser.find_element(By.ID, "decide").click()

    trace = text_of(browser, "#trace")
    assert ": fired" in trace and "✓ held" in trace and "✗ failed" in trace
    assert find(browser, "#subtasks").text
    screenshot(browser, console, "playground")


def test_a_shadow_lanes_chart_totals_and_examples(browser: WebDriver, console: Console) -> None:
    candidate = unique("shadow")
    different = policy(candidate)
    different["rules"][0]["emissions"][0]["params"] = {"level": "critical"}
    different["fixtures"] = []
    console.push(different)  # decides differently from whatever is active on these facts
    lane = console.api.post(
        "/deployments",
        json={"version": candidate, "target": "web", "percent": 100, "mode": "shadow"},
    ).json()
    facts = {"tags": ["vip"], "signals": {"urgency": 0.9}}

    def traffic(count: int) -> None:
        for index in range(count):
            response = console.api.post(
                "/evaluate", params={"target": "web", "subject": f"user-{index}"}, json=facts
            )
            assert response.status_code == 200, response.text

    login(browser, console)
    traffic(20)
    browser.get(console.url + f"/ui/shadow/lane?lane={lane['id']}")
    wait(browser).until(lambda d: int(_total(reloaded(d))) >= 20)
    traffic(20)  # the page polls every 5 s: a second point on the chart
    wait(browser).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, "#divergence-chart circle.dot")) >= 2
    )
    assert browser.find_element(By.CSS_SELECTOR, "#divergence-chart polyline.series")
    assert find(browser, "#divergence").text == "100.0 %"
    assert "replica-a" in text_of(browser, "#shadow-replicas")
    example = find(browser, ".example")
    assert "served" in example.text and "shadow" in example.text
    screenshot(browser, console, "shadow-lane")


def _total(driver: WebDriver) -> str:
    return str(driver.find_element(By.CSS_SELECTOR, "#shadow-totals dd").text)


def test_a_decision_is_found_by_its_id_and_in_the_filtered_list(
    browser: WebDriver, console: Console
) -> None:
    decided = console.api.post("/evaluate", json={"tags": ["vip"]}).json()
    login(browser, console)
    browser.get(console.url + "/ui/decisions")

    def logged(driver: WebDriver) -> bool:
        field = driver.find_element(By.ID, "decision_id")
        field.clear()
        field.send_keys(decided["decision_id"])
        driver.find_element(By.CSS_SELECTOR, "form[role=search] button").click()
        return bool(driver.find_elements(By.ID, "decision-record"))

    wait(browser).until(logged)  # the log is written off the request path
    assert decided["snapshot"] in text_of(browser, "#decision-record")
    Select(find(browser, "#outcome")).select_by_value("matched")
    browser.find_element(By.CSS_SELECTOR, "form[action='/ui/decisions']:not([role]) button").click()
    wait(browser).until(lambda d: "outcome=matched" in d.current_url)  # the filtered page
    listed = wait(browser).until(lambda d: d.find_element(By.ID, "decision-list").text)
    assert decided["decision_id"][:12] in listed and "no_match" not in listed
    screenshot(browser, console, "decisions")

    login(browser, console, READER_TOKEN)  # the API's rule: the log is the admin's
    browser.get(console.url + "/ui/decisions")
    assert "admin role" in text_of(browser, "#admin-only")


def test_live_numbers_refresh_by_themselves(browser: WebDriver, console: Console) -> None:
    login(browser, console)
    browser.get(console.url + "/ui/live")
    first = int(text_of(browser, "#total"))
    for _ in range(10):
        console.api.post("/evaluate", json={"tags": ["vip"]})
    wait(browser).until(lambda d: int(d.find_element(By.ID, "total").text) >= first + 10)
    wait(browser).until(lambda d: d.find_element(By.ID, "rate").text != "measuring…")
    assert float(text_of(browser, "#rate")) >= 0
    assert text_of(browser, "#p99").endswith("µs")
    screenshot(browser, console, "live")
