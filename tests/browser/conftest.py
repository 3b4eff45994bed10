"""Browser tests: Playwright for Python driving Debian's Chromium against a live server
on the real PostgreSQL.

Chromium is launched from /usr/bin/chromium with the flags this closed network needs.
If it cannot start, the tests fail loudly when SIDESTAGE_REQUIRE_BROWSER=1 (CI sets it)
and are skipped with the reason otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
# (to act as the reconciler would) are still synchronous. pytest-django's docs advise this.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from tests.factories import PASSWORD
from tests.fixtures.world import World, build_world

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 15_000  # polling runs every 2 s; leave room for a slow CI machine


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


def _unavailable(reason: str) -> None:
    if os.environ.get("SIDESTAGE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser tests are required but Chromium is unavailable: {reason}")
    pytest.skip(f"Chromium is unavailable: {reason}")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError as exc:  # pragma: no cover - playwright is a dev dependency
        _unavailable(f"playwright is not installed ({exc})")
    if not os.access(CHROMIUM, os.X_OK):
        _unavailable(f"{CHROMIUM} is missing")
    manager = sync_playwright().start()
    try:
        instance = manager.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
    except Error as exc:
        manager.stop()
        _unavailable(str(exc).splitlines()[0])
    yield instance
    instance.close()
    manager.stop()


@pytest.fixture(autouse=True)
def _no_worker(queued_reconciles: list[int]) -> None:
    # `queued_reconciles` stands in for the queue: no worker runs here; the tests act
    # as the reconciler by writing the status themselves.
    return None


@pytest.fixture
def bworld(transactional_db: None) -> World:
    """The usual world, committed, so the live server's thread sees it."""
    return build_world()


@pytest.fixture
def new_page(browser: Any, live_server: Any) -> Iterator[Callable[..., Any]]:
    contexts: list[Any] = []

    def _new_page(**options: Any) -> Any:
        context = browser.new_context(
            base_url=live_server.url,
            permissions=["clipboard-read", "clipboard-write"],
            viewport=options.pop("viewport", {"width": 1280, "height": 900}),
            **options,
        )
        context.set_default_timeout(WAIT_MS)
        contexts.append(context)
        return context.new_page()

    yield _new_page
    for context in contexts:
        context.close()


def log_in(page: Any, username: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/")


@pytest.fixture
def logged_in(new_page: Callable[..., Any]) -> Callable[..., Any]:
    def _logged_in(username: str, **options: Any) -> Any:
        page = new_page(**options)
        log_in(page, username)
        return page

    return _logged_in


def mark_no_reload(page: Any) -> None:
    """Set a flag that only survives if the page is never reloaded."""
    page.evaluate("window.__sidestageNoReload = true")


def assert_not_reloaded(page: Any) -> None:
    assert page.evaluate("window.__sidestageNoReload === true"), "the page was reloaded"
