"""Browser tests: the example project served on loopback, driven by Playwright in Chromium.

Debian's Chromium (``/usr/bin/chromium``) is used, never a downloaded browser. The
tests skip, saying why, when Playwright is not installed or Chromium is missing.
Screenshots are written to ``docs/img/screenshots/`` only with ``UPDATE_SCREENSHOTS=1``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from tests.example_env import MANAGE, ROOT, example_env

SCREENSHOTS = ROOT / "docs" / "img" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# Without the background-networking flags Chromium tries to reach Google's services
# at start-up, and a closed network makes it refuse connections.
CHROMIUM_ARGS = [
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ADMIN_USER = "admin"
ADMIN_PASSWORD = "browser-tests-only-Pa55"  # the throwaway superuser of a temp database


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "browser: drives the example project in headless Chromium (Playwright)"
    )


def skip_reason() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install 'django-helpdesk-oauth[browser]')"
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = skip_reason()
    if reason is None:
        return
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=reason))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def example_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    """The example project on a free loopback port (never 8000), with a fresh database and a
    superuser. ``SANDBOX_BASE_URL`` is not set: the example finds its sandbox at the address
    and port each request came in on, as a user's ``runserver 127.0.0.1:8123`` does."""
    tmp = tmp_path_factory.mktemp("example")
    port = _free_port()
    while port == 8000:
        port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = example_env(tmp, DJANGO_SUPERUSER_PASSWORD=ADMIN_PASSWORD, PYTHONUNBUFFERED="1")

    def manage(*args: str) -> None:
        result = subprocess.run(
            [sys.executable, str(MANAGE), *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, f"manage.py {args[0]}: {result.stdout}{result.stderr}"

    manage("migrate", "--no-input", "-v", "0")
    manage("seed_sandbox_apps")
    manage("createsuperuser", "--noinput", "--username", ADMIN_USER, "--email", "a@example.com")

    log = (tmp / "runserver.log").open("w")
    server = subprocess.Popen(
        [sys.executable, str(MANAGE), "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url + "/", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(f"runserver did not come up:\n{(tmp / 'runserver.log').read_text()}")
            time.sleep(0.1)
        yield SimpleNamespace(url=url, port=port, manage=manage, log=tmp / "runserver.log")
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Headless Debian Chromium through Playwright (no browser download)."""
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    args = list(CHROMIUM_ARGS)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--no-sandbox")  # Chromium's sandbox refuses to run as root
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Any, example_server: SimpleNamespace) -> Iterator[Any]:
    """A fresh browser context (own cookies) per test, based at the example project."""
    context = chromium.new_context(
        base_url=example_server.url, viewport={"width": 1200, "height": 760}
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def screenshot() -> Any:
    """``screenshot(page, name)``: saved under docs/img/screenshots/ with UPDATE_SCREENSHOTS=1."""

    def take(page: Any, name: str, **options: Any) -> None:
        if os.environ.get("UPDATE_SCREENSHOTS") != "1":
            return
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), **options)

    return take


@pytest.fixture
def login(example_server: SimpleNamespace) -> Any:
    """``login(page)``: sign in as the staff superuser through the admin login form."""

    def sign_in(page: Any, next_path: str = "/") -> None:
        page.goto(f"/admin/login/?next={next_path}")
        page.fill("#id_username", ADMIN_USER)
        page.fill("#id_password", ADMIN_PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_url(f"**{next_path}")

    return sign_in
