"""Fixtures for browser tests: a live server over a fresh registry and Debian's headless Chromium."""

from __future__ import annotations

import os
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import make_app
from tests.servers import serving

CHROMIUM = "/usr/bin/chromium"
# Debian's Chromium, not a Playwright download (the machines cannot fetch one). The switches keep
# the browser itself from calling home, so the only traffic is what the page asks for.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
ALLOWED_HOST = "127.0.0.1"


@pytest.fixture
def live_store_url(gpkg_url):
    """The registry the live server opens: the GeoPackage; a module overrides it to run on both stores."""
    return gpkg_url


@pytest.fixture
def live_server(live_store_url):
    """Start the app on 127.0.0.1 at a free port in a thread: ``live_server(**settings) -> base URL``."""
    with ExitStack() as running:

        def start(**settings) -> str:
            return running.enter_context(serving(make_app(live_store_url, **settings)))

        yield start


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the session."""
    if not Path(CHROMIUM).exists():
        reason = f"browser tests need Debian's Chromium at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@dataclass
class WatchedPage:
    """A page and everything that went wrong on it, recorded as it happened."""

    page: object
    blocked: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)

    def problems(self) -> dict[str, list[str]]:
        return {"blocked": self.blocked, "failed": self.failed, "console": self.console_errors,
                "page errors": self.page_errors}


# Chromium reports a script, style or image the Content-Security-Policy stopped as a console error in these words.
CSP_WORDS = "Content Security Policy"


def cancelled(request) -> bool:
    """Whether a failed request was cancelled rather than failed.

    net::ERR_ABORTED is a cancellation: the page navigated away while the request was in flight, or
    the map aborted a viewport load the user had already panned past. A server that is down or refuses
    shows as another error, and the blocked hosts as ERR_BLOCKED_BY_CLIENT.
    """
    return request.failure == "net::ERR_ABORTED"


@pytest.fixture
def watched_page(browser):
    """A fresh page whose requests to any host but 127.0.0.1 are aborted and recorded."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    watched = WatchedPage(page)

    def guard(route):
        url = route.request.url
        if urlsplit(url).hostname == ALLOWED_HOST:
            route.continue_()
        else:
            watched.blocked.append(url)
            route.abort("blockedbyclient")

    def failed(request):
        if not cancelled(request):
            watched.failed.append(f"{request.url} ({request.failure})")

    page.route("**/*", guard)
    page.on("requestfailed", failed)
    def console(message):
        if message.type == "error":
            watched.console_errors.append(message.text)
        if CSP_WORDS in message.text:
            watched.csp_violations.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda error: watched.page_errors.append(str(error)))
    yield watched
    context.close()
    # Every browser test fails on a policy violation, even one that only looks at what the page shows.
    assert watched.csp_violations == [], f"the Content-Security-Policy blocked something: {watched.csp_violations}"


@pytest.fixture
def field_server(gpkg_url, tmp_path):
    """The app on 127.0.0.1 with its instance folder (photos) under the test's folder; yields (base URL, app)."""
    app = make_app(gpkg_url, BASEMAP="none")
    app.instance_path = str(tmp_path / "instance")
    with serving(app, "manage-live-server") as base:
        yield base, app


def sign_in(page, base_url, username):
    """Sign in through the form as ``username`` (password ``<username>-password``)."""
    page.goto(base_url + "/login")
    page.fill("#username" if page.locator("#username").count() else "input[name=username]", username)
    page.fill("input[name=password]", f"{username}-password")
    page.locator("form").filter(has=page.locator("input[name=password]")).locator("button[type=submit]").click()
    page.wait_for_load_state("networkidle")
