"""Dashboard tests in a real browser: Debian's headless Chromium driven through chromedriver.

- ``browser``: one Chromium session for the whole run (chromedriver on a free loopback port,
  stopped by pid with its browsers at the end); skipped locally when chromium or
  chromium-driver is missing, failed in CI (``TORNADOHUB_REQUIRE_EXTERNAL=1``).
- :class:`Page`: the dashboard of one hub in that browser, with bounded waits on the DOM.

Screenshots go to ``build/ui-screenshots/`` (kept as CI artifacts).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.external import require_program
from tests.helpers import ROOT, HubProcess
from tests.ui.webdriver import Browser, Chromedriver, poll

SCREENSHOTS = ROOT / "build" / "ui-screenshots"
DESKTOP = (1280, 800)
PHONE = (390, 844)


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    chromium = require_program("chromium", "chromium")
    driver_path = require_program("chromedriver", "chromium-driver")
    tmp = tmp_path_factory.mktemp("chromium")
    driver = Chromedriver(driver_path, tmp / "chromedriver.log").start()
    try:
        browser = Browser(
            driver.url, chromium, tmp / "profile", width=DESKTOP[0], height=DESKTOP[1]
        )
        try:
            browser.set_timeouts(script_ms=20_000)
            yield browser
        finally:
            browser.quit()
    finally:
        driver.stop()


class Page:
    """The dashboard of *hub*, as the browser shows it."""

    def __init__(self, browser: Browser, hub: HubProcess) -> None:
        self.browser = browser
        self.hub = hub
        self.origin = f"http://127.0.0.1:{hub.port}"

    def open(
        self, fragment: str = "#/servers", *, dark: bool = False, size: tuple[int, int] = DESKTOP
    ) -> None:
        """Load the page afresh (a new document: no state of a previous test)."""
        self.browser.get("about:blank")
        self.browser.emulate(dark=dark, width=size[0], height=size[1], mobile=size == PHONE)
        self.browser.get(f"{self.origin}/{fragment}")
        try:
            self.wait_js("return document.getElementById('live').textContent === 'Live'")
        except AssertionError:
            live = self.text("#live")
            raise AssertionError(
                f"the page is not live ({live}): {self.browser.console()}"
            ) from None

    def go(self, fragment: str) -> None:
        """Follow an in-page link (the page stays loaded)."""
        self.browser.execute("window.location.hash = arguments[0]", fragment)

    def js(self, script: str, *args: Any) -> Any:
        return self.browser.execute(script, *args)

    def wait_js(self, script: str, *args: Any, timeout: float = 10.0) -> Any:
        """Poll a script until it returns something truthy."""
        return poll(lambda: self.browser.execute(script, *args), timeout)

    def row_status(self, server: str) -> str | None:
        status: str | None = self.js(
            'const row = document.querySelector(`tr[data-server="${CSS.escape(arguments[0])}"]`);'
            "return row ? row.dataset.status : null",
            server,
        )
        return status

    def wait_row(self, server: str, status: str, timeout: float = 10.0) -> None:
        poll(lambda: self.row_status(server) == status, timeout)

    def text(self, css: str) -> str:
        return str(
            self.js(
                "const el = document.querySelector(arguments[0]); return el ? el.textContent : ''",
                css,
            )
        )

    def wait_text(self, css: str, timeout: float = 10.0) -> str:
        """The text of the first element matching *css*, once there is one with text."""
        script = "const el = document.querySelector(arguments[0]); return el && el.textContent"
        return str(self.wait_js(script, css, timeout=timeout))

    def control(self, label: str, within: str = "main") -> str:
        """The form control whose <label> reads *label* (an element reference)."""
        found = self.wait_js(
            "const scope = document.querySelector(arguments[1]);"
            "for (const l of scope.querySelectorAll('label')) {"
            "  const own = [...l.childNodes]"
            "    .filter(n => n.nodeType === 3 || n.tagName === 'SPAN' && !n.className)"
            "    .map(n => n.textContent).join('').trim();"
            "  if (own === arguments[0]) return document.getElementById(l.htmlFor); }"
            "return null",
            label,
            within,
        )
        return str(next(iter(found.values())))

    def screenshot(self, name: str) -> Path:
        return self.browser.screenshot(SCREENSHOTS / f"{name}.png")

    def errors(self) -> list[str]:
        """Console errors since the last call, other than refused requests (401s, 404s)."""
        return [
            entry["message"]
            for entry in self.browser.console()
            if entry.get("level") == "SEVERE" and "Failed to load resource" not in entry["message"]
        ]
