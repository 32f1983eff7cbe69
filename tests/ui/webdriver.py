"""A small W3C WebDriver client over httpx, for Debian's chromium and chromium-driver.

Only what the dashboard tests use: sessions, navigation, elements, keys, scripts,
screenshots, and Chromium's DevTools commands (colour scheme and device emulation) through
chromedriver's ``goog/cdp/execute``. No browser or driver is ever downloaded: both paths
are given, and chromedriver runs on a free loopback port in its own process group, which
:meth:`Chromedriver.stop` ends by pid (the browsers it started with it).
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.helpers import free_port, wait_until

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"

#: Flags that work on a machine without network, as root, without a display.
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--mute-audio",
    "--password-store=basic",
)

#: WebDriver key codes.
ENTER = "\ue007"
TAB = "\ue004"


class WebDriverError(AssertionError):
    """The driver refused a command; the message is its own."""


class Chromedriver:
    """``chromedriver --port=<free>``, in a process group of its own."""

    def __init__(self, driver: str, log_path: Path) -> None:
        self.driver = driver
        self.port = free_port()
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> Chromedriver:
        self.proc = subprocess.Popen(
            [
                self.driver,
                f"--port={self.port}",
                "--allowed-ips=127.0.0.1",
                f"--log-path={self.log_path}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

        def ready() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"chromedriver exited with {self.proc.returncode}")
            try:
                return bool(httpx.get(f"{self.url}/status", timeout=2).json()["value"]["ready"])
            except (httpx.TransportError, ValueError, KeyError):
                return False

        wait_until(ready, 30)
        return self

    def stop(self) -> None:
        """End chromedriver and every browser it started (its process group), by pid."""
        if self.proc is None:
            return
        for signum in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.proc.pid, signum)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(5)
                break
            except subprocess.TimeoutExpired:
                continue
        self.proc.wait(5)


class Browser:
    """One WebDriver session of headless Chromium."""

    def __init__(
        self, driver_url: str, chromium: str, profile: Path, *, width: int, height: int
    ) -> None:
        self.http = httpx.Client(base_url=driver_url, timeout=60)
        args = [*CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"]
        capabilities = {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args},
            "unhandledPromptBehavior": "dismiss",
            "goog:loggingPrefs": {"browser": "ALL"},
        }
        answer = self._send("POST", "/session", {"capabilities": {"alwaysMatch": capabilities}})
        self.session = answer["sessionId"]
        self.base = f"/session/{self.session}"

    def _send(self, method: str, path: str, body: Any = None) -> Any:
        response = self.http.request(
            method, path, json=body if body is not None else ({} if method == "POST" else None)
        )
        payload = response.json()
        value = payload.get("value")
        if response.status_code >= 400:
            error = value.get("error") if isinstance(value, dict) else None
            message = value.get("message") if isinstance(value, dict) else payload
            raise WebDriverError(f"{method} {path}: {error}: {message}")
        return value if path != "/session" else value

    def command(self, method: str, path: str, body: Any = None) -> Any:
        return self._send(method, f"{self.base}{path}", body)

    # --------------------------------------------------------------------- navigation
    def get(self, url: str) -> None:
        self.command("POST", "/url", {"url": url})

    @property
    def url(self) -> str:
        return str(self.command("GET", "/url"))

    @property
    def window(self) -> str:
        return str(self.command("GET", "/window"))

    def new_tab(self) -> str:
        return str(self.command("POST", "/window/new", {"type": "tab"})["handle"])

    def switch_to(self, handle: str) -> None:
        self.command("POST", "/window", {"handle": handle})

    def close_window(self) -> None:
        self.command("DELETE", "/window")

    def set_timeouts(self, *, script_ms: int) -> None:
        self.command("POST", "/timeouts", {"script": script_ms})

    # ----------------------------------------------------------------------- elements
    def find_all(self, css: str, within: str | None = None) -> list[str]:
        path = f"/element/{within}/elements" if within else "/elements"
        found = self.command("POST", path, {"using": "css selector", "value": css})
        return [item[ELEMENT] for item in found]

    def find(self, css: str, within: str | None = None) -> str:
        found = self.find_all(css, within)
        if not found:
            raise WebDriverError(f"no element matches {css!r}")
        return found[0]

    def wait_find(self, css: str, timeout: float = 10.0) -> str:
        return str(wait_until(lambda: next(iter(self.find_all(css)), None), timeout))

    def click(self, element: str) -> None:
        self.command("POST", f"/element/{element}/click")

    def send_keys(self, element: str, text: str) -> None:
        self.command("POST", f"/element/{element}/value", {"text": text})

    def clear(self, element: str) -> None:
        self.command("POST", f"/element/{element}/clear")

    def text(self, element: str) -> str:
        return str(self.command("GET", f"/element/{element}/text"))

    def attribute(self, element: str, name: str) -> str | None:
        value = self.command("GET", f"/element/{element}/attribute/{name}")
        return None if value is None else str(value)

    def active_element(self) -> str:
        return str(self.command("GET", "/element/active")[ELEMENT])

    def keys(self, text: str) -> None:
        """Type into whatever has the focus (real key events: Tab moves the focus)."""
        actions = [{"type": kind, "value": char} for char in text for kind in ("keyDown", "keyUp")]
        self.command(
            "POST", "/actions", {"actions": [{"type": "key", "id": "keyboard", "actions": actions}]}
        )
        self.command("DELETE", "/actions")

    # ------------------------------------------------------------------------ scripts
    def execute(self, script: str, *args: Any) -> Any:
        return self.command("POST", "/execute/sync", {"script": script, "args": list(args)})

    def execute_async(self, script: str, *args: Any) -> Any:
        return self.command("POST", "/execute/async", {"script": script, "args": list(args)})

    def cdp(self, cmd: str, params: dict[str, Any] | None = None) -> Any:
        return self.command("POST", "/goog/cdp/execute", {"cmd": cmd, "params": params or {}})

    def element_arg(self, element: str) -> dict[str, str]:
        """An element as a script argument."""
        return {ELEMENT: element}

    # -------------------------------------------------------------------- appearance
    def emulate(
        self,
        *,
        dark: bool = False,
        width: int | None = None,
        height: int | None = None,
        mobile: bool = False,
    ) -> None:
        """Colour scheme and viewport, as DevTools emulates them."""
        scheme = "dark" if dark else "light"
        self.cdp(
            "Emulation.setEmulatedMedia",
            {"features": [{"name": "prefers-color-scheme", "value": scheme}]},
        )
        if width is None:
            self.cdp("Emulation.clearDeviceMetricsOverride")
        else:
            self.cdp(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
            )

    def console(self) -> list[dict[str, Any]]:
        """The browser console's entries since the last call (errors, CSP reports, ...)."""
        return list(self.command("POST", "/se/log", {"type": "browser"}))

    def screenshot(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(self.command("GET", "/screenshot")))
        return path

    def quit(self) -> None:
        try:
            self._send("DELETE", self.base)
        finally:
            self.http.close()


def poll(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    """:func:`tests.helpers.wait_until` with a short default: the page reacts in milliseconds."""
    return wait_until(predicate, timeout, interval)


def elapsed(since: float) -> float:
    return time.monotonic() - since
