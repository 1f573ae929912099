"""Headless Chromium (the system's, never a downloaded one) against the live stack's daphne.
A failing test leaves a screenshot of every page it opened; the report names the files."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.integration.helpers import PASSWORD

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Pages:
    """Pages in fresh browser contexts (one per user), logged in through the login form."""

    def __init__(self, browser: Browser, base_url: str, folder: Path) -> None:
        self.browser = browser
        self.base_url = base_url
        self.folder = folder
        self.opened: list[tuple[str, Page]] = []

    def logged_in(self, username: str) -> Page:
        context = self.browser.new_context(base_url=self.base_url)
        context.set_default_timeout(20_000)
        page = context.new_page()
        self.opened.append((username, page))
        page.goto("/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{self.base_url}/")
        return page

    def screenshots(self) -> list[Path]:
        self.folder.mkdir(parents=True, exist_ok=True)
        taken = []
        for number, (username, page) in enumerate(self.opened):
            path = self.folder / f"{number}-{username}.png"
            try:
                page.screenshot(path=str(path), full_page=True)
            except Exception:  # a crashed page must not hide the test's own failure
                continue
            taken.append(path)
        return taken

    def close(self) -> None:
        for _, page in self.opened:
            page.context.close()


@pytest.fixture
def pages(browser: Browser, live_stack: Any, tmp_path: Path) -> Iterator[Pages]:
    opened = Pages(browser, live_stack.web_urls[0], tmp_path / "screenshots")
    yield opened
    opened.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Callable[..., Any]:
    report = yield
    opened = getattr(item, "funcargs", {}).get("pages")
    if report.when == "call" and report.failed and isinstance(opened, Pages):
        taken = opened.screenshots()
        report.sections.append(("screenshots", "\n".join(str(path) for path in taken) or "none taken"))
    return report
