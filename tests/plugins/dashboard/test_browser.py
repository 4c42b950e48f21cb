"""The dashboard in a real browser: headless Chromium (Debian's chromium + chromedriver) driven by
Selenium against one live `hub serve` on 127.0.0.1. Sign in, create a lead and see it in the list
and on the overview chart, run a workflow and watch its progress arrive over the WebSocket,
switch a plugin off and see its pages go; every page screenshotted (at desktop and phone width)
into $HUB_TEST_ARTIFACTS (default /tmp/hub-test-artifacts/dashboard), every form control
labelled, and no request leaving 127.0.0.1 while the pages load (the browser's own network log,
CDP Network events)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from core.testing import PASSWORD
from tests.live_server import live_account, live_hub

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT = 30
ARTIFACTS = Path(os.environ.get("HUB_TEST_ARTIFACTS", "/tmp/hub-test-artifacts")) / "dashboard"


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """The live Hub; no LLM model in its data dir (the playground shows the API's 503)."""
    with live_hub(tmp_path_factory.mktemp("dashboard-live")) as server:
        yield server


@pytest.fixture(scope="module")
def account(hub):
    account = live_account(hub.url)
    with httpx.Client(base_url=hub.url, headers=account["headers"], timeout=30) as http:
        created = http.post("/api/workflows", json={
            "name": "Greeter",
            "nodes": [{"id": "start", "type": "webhook-trigger", "title": "Start", "config": {}},
                      {"id": "greet", "type": "data-transformation", "title": "Greet",
                       "config": {"mapping": {"greeting": "hello"}}}],
            "edges": [{"id": "e1", "source_node_id": "start", "source_port": "main", "target_node_id": "greet",
                       "target_port": "main"}]})
        assert created.status_code == 201, created.text
        account["workflow_id"] = created.json()["id"]
    return account


@pytest.fixture(scope="module")
def browser():
    profile = tempfile.mkdtemp(prefix="hub-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1280,900"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(WAIT)
    driver.get("about:blank")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    except BaseException:
        raise
    finally:
        driver.save_screenshot(str(ARTIFACTS / "last.png"))
        (ARTIFACTS / "last.html").write_text(driver.page_source)
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def requested_urls(driver) -> list[str]:
    """Every URL the browser sent a request to since the last call (CDP Network events in the
    performance log: requests and WebSocket handshakes), less those the page's
    Content-Security-Policy blocked before they were sent."""
    urls, blocked = {}, set()
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message.get("params", {})
        if message["method"] == "Network.requestWillBeSent":
            urls[params["requestId"]] = params["request"]["url"]
        elif message["method"] == "Network.webSocketCreated":
            urls[params["requestId"]] = params["url"]
        elif message["method"] == "Network.loadingFailed" and params.get("blockedReason") == "csp":
            blocked.add(params["requestId"])
    return [url for request_id, url in urls.items() if request_id not in blocked]


def assert_local(urls: list[str], port: int) -> None:
    """Every network request to this Hub; the browser's own pages (chrome://, its new-tab page) and
    inline data are not network requests."""
    outside = [url for url in urls if not (url.startswith((f"http://127.0.0.1:{port}/", f"ws://127.0.0.1:{port}/"))
                                           or url.startswith(("data:", "blob:", "about:", "chrome:", "chrome-untrusted:")))]
    assert not outside, outside


def unlabelled_controls(driver) -> list[str]:
    return driver.execute_script("""
        return Array.from(document.querySelectorAll('input, select, textarea'))
          .filter(e => e.type !== 'hidden' && (!e.labels || e.labels.length === 0) && !e.getAttribute('aria-label'))
          .map(e => e.outerHTML.slice(0, 120));""")


def visit(driver, hub, path: str, name: str) -> None:
    """Open a page, wait for it, screenshot it at desktop and phone width, check its labels and
    that nothing it loaded came from elsewhere."""
    requested_urls(driver)  # drop what came before
    driver.get(hub.url + path)
    WebDriverWait(driver, WAIT).until(lambda d: d.execute_script("return document.readyState") == "complete")
    capture(driver, name)
    assert not unlabelled_controls(driver), (path, unlabelled_controls(driver))
    assert_local(requested_urls(driver), hub.port)


def capture(driver, name: str) -> None:
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))
    # a phone: its screen size, and its browser honouring <meta name="viewport">
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True})
    try:
        driver.save_screenshot(str(ARTIFACTS / f"{name}-phone.png"))
        overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        wide = driver.execute_script("""return Array.from(document.querySelectorAll('body *'))
            .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1 && !(e.parentElement && e.parentElement.closest('.scroll, nav')))
            .map(e => e.tagName + '.' + e.className + '#' + e.id).slice(0, 8);""")
        assert overflow <= 1, f"{name}: the page is {overflow}px wider than a phone's screen: {wide}"
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def nav_pages(driver) -> set[str]:
    return {link.get_attribute("data-page") for link in driver.find_elements(By.CSS_SELECTOR, "nav a[data-page]")}


def sign_in(driver, hub, email: str) -> None:
    visit(driver, hub, "/dashboard/", "login")  # redirected to the sign-in page
    assert "/dashboard/login" in driver.current_url
    driver.find_element(By.ID, "email").send_keys(email)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "#login-form button[type=submit]").click()
    WebDriverWait(driver, WAIT).until(lambda d: d.find_elements(By.ID, "logout"))


def test_the_dashboard_in_a_browser(hub, account, browser):
    driver = browser
    sign_in(driver, hub, account["email"])
    cookie = driver.get_cookie("hub_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/dashboard"

    # a lead, created through the form, is in the list
    name = f"Lead {uuid.uuid4().hex[:6]}"
    visit(driver, hub, "/dashboard/leads", "leads-empty")
    form = driver.find_element(By.ID, "new-lead")
    form.find_element(By.NAME, "name").send_keys(name)
    form.find_element(By.NAME, "email").send_keys("ada@example.com")
    form.find_element(By.NAME, "value").send_keys("250")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(driver, WAIT).until(lambda d: name in d.find_element(By.ID, "rows").text)
    capture(driver, "leads")
    # its status changes from the list
    row = driver.find_element(By.XPATH, f"//tr[td/a[text()='{name}']]")
    Select(row.find_element(By.TAG_NAME, "select")).select_by_visible_text("qualified")
    row.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(driver, WAIT).until(lambda d: "Status changed" in d.page_source)
    with httpx.Client(base_url=hub.url, headers=account["headers"], timeout=30) as http:
        leads = http.get("/api/leads").json()["leads"]
    assert [(lead["name"], lead["status"]) for lead in leads] == [(name, "qualified")]
    # the search filters the list as one types (htmx swaps the rows in place)
    search = driver.find_element(By.ID, "q-search")
    search.send_keys("nobody-has-this-name")
    WebDriverWait(driver, WAIT).until(lambda d: "No leads." in d.find_element(By.ID, "rows").text)
    assert "nobody-has-this-name" in driver.current_url  # the address follows (hx-push-url)
    search.clear()
    search.send_keys(name[-6:])
    WebDriverWait(driver, WAIT).until(lambda d: name in d.find_element(By.ID, "rows").text)

    # ... and on the overview's leads chart (analytics through hub functions)
    visit(driver, hub, "/dashboard/", "overview")
    WebDriverWait(driver, WAIT).until(lambda d: d.execute_script("return document.body.dataset.chartsReady"))
    chart = driver.find_element(By.CSS_SELECTOR, 'section[data-metric="crm.leads"]')
    assert chart.get_attribute("data-rendered") == "true"
    assert float(chart.find_element(By.CSS_SELECTOR, "[data-total]").get_attribute("data-total")) == 1
    assert chart.find_elements(By.CSS_SELECTOR, "canvas")

    # a workflow runs, and its progress arrives over the WebSocket
    visit(driver, hub, "/dashboard/workflows", "workflows")
    driver.find_element(By.CSS_SELECTOR, f'button[data-run="{account["workflow_id"]}"]').click()
    card = driver.find_element(By.ID, "progress-card")
    WebDriverWait(driver, WAIT).until(lambda d: card.get_attribute("data-finished"))
    assert card.get_attribute("data-finished") == "completed"
    steps = driver.find_elements(By.CSS_SELECTOR, "#execution-log li")
    assert any("step_" in step.text for step in steps) and any("completed" in step.text for step in steps)
    capture(driver, "workflow-run")

    # every other page opens, labelled, from this machine only
    for path, shot in [("/dashboard/contacts", "contacts"), ("/dashboard/conversations", "conversations"),
                       ("/dashboard/tickets", "tickets"), ("/dashboard/notifications", "notifications"),
                       ("/dashboard/recommender", "recommender"), ("/dashboard/playground", "playground"),
                       ("/dashboard/admin/members", "members"), ("/dashboard/admin/keys", "keys"),
                       ("/dashboard/admin/webhooks", "webhooks"), ("/dashboard/admin/billing", "billing"),
                       ("/docs", "docs"), ("/redocs", "redocs")]:
        visit(driver, hub, path, shot)
    # the LLM playground: the functions to offer and the tool choice are the member's; without a
    # model file this Hub answers 503 AI_SERVICE_UNAVAILABLE, and the page says so
    visit(driver, hub, "/dashboard/playground", "playground")
    driver.find_element(By.ID, "f-prompt").send_keys("Which metrics do we have?")
    Select(driver.find_element(By.ID, "f-tools")).select_by_value("list_metrics")
    Select(driver.find_element(By.ID, "f-tool_choice")).select_by_value("required")
    driver.find_element(By.CSS_SELECTOR, "form.card button[type=submit]").click()
    WebDriverWait(driver, WAIT).until(lambda d: d.find_elements(By.ID, "error"))
    capture(driver, "playground-answer")
    assert driver.find_element(By.ID, "error").text.startswith("503: No local model")
    assert Select(driver.find_element(By.ID, "f-tools")).all_selected_options[0].text == "list_metrics"
    # an API key is shown once
    visit(driver, hub, "/dashboard/admin/keys", "keys")
    driver.find_element(By.ID, "f-name").send_keys("browser key")
    driver.find_element(By.CSS_SELECTOR, "form.card button[type=submit]").click()
    key = WebDriverWait(driver, WAIT).until(lambda d: d.find_elements(By.ID, "new-key"))[0].text
    assert key.startswith("hub_")
    visit(driver, hub, "/dashboard/admin/keys", "keys-after")
    assert key not in driver.page_source

    # switching a plugin off takes its pages away
    assert {"tickets", "leads"} <= nav_pages(driver)
    visit(driver, hub, "/dashboard/admin/plugins", "plugins")
    driver.find_element(By.ID, "switch-support").click()
    WebDriverWait(driver, WAIT).until(lambda d: "Plugin switched" in d.page_source)
    assert "tickets" not in nav_pages(driver) and "leads" in nav_pages(driver)
    visit(driver, hub, "/dashboard/tickets", "tickets-off")
    assert "There is no such page" in driver.page_source

    # the notification badge is live
    visit(driver, hub, "/dashboard/", "overview-again")
    badge = driver.find_element(By.ID, "unread")
    before = int(badge.get_attribute("data-count"))
    WebDriverWait(driver, WAIT).until(lambda d: badge.get_attribute("data-live") == "true")
    with httpx.Client(base_url=hub.url, headers=account["headers"], timeout=30) as http:
        sent = http.post("/api/v1/notifications", json={"title": "Hello", "message": "Live"})
        assert sent.status_code in (200, 201, 202), sent.text
    WebDriverWait(driver, WAIT).until(lambda d: int(badge.get_attribute("data-count")) > before)

    # signing out ends the session
    driver.find_element(By.ID, "logout").click()
    WebDriverWait(driver, WAIT).until(lambda d: "/dashboard/login" in d.current_url)
    driver.get(hub.url + "/dashboard/leads")
    assert "/dashboard/login" in driver.current_url
