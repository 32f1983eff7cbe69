"""The dashboard's security in a real browser: hostile server text stays text, the page's
Content-Security-Policy holds, a page of another origin cannot change anything through the
user's browser, and with API keys the page asks for one and shows nothing until it has it.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import stdio_entry
from tests.helpers import ROOT, HubProcess
from tests.servers.dashboard_stdio import HOSTILE, STDERR_LINE
from tests.ui.conftest import Page
from tests.ui.webdriver import Browser

UI = ROOT / "tornadohub" / "ui"
TOKEN = "dashboard-test-token-0123456789"
#: What must never appear in the dashboard's code: each parses text as HTML or as code.
HTML_SINKS = re.compile(
    r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|setHTML"
    r"|createContextualFragment|srcdoc"
)


def hub_with(root: Path, servers: dict[str, Any], **env: str) -> HubProcess:
    (root / "home").mkdir()
    config = root / "servers.json"
    config.write_text(json.dumps({"mcpServers": servers}))
    return HubProcess([str(config)], home=root / "home", cwd=root, env=env)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    servers = {
        "dashboard": stdio_entry("dashboard_stdio.py"),
        "victim": stdio_entry("everything_stdio.py"),
        "asleep": stdio_entry("everything_stdio.py", disabled=True),
    }
    with hub_with(tmp_path_factory.mktemp("security"), servers).running() as process:
        yield process


@pytest.fixture
def page(browser: Browser, hub: HubProcess) -> Page:
    return Page(browser, hub)


# --------------------------------------------------------------------- the code itself
def test_the_dashboard_code_has_no_html_sinks_and_no_inline_script_or_style() -> None:
    for path in sorted(UI.glob("*.js")):
        found = HTML_SINKS.findall(path.read_text())
        assert not found, f"{path.name}: {found}"
    page = (UI / "index.html").read_text()
    assert re.findall(r"<script[^>]*>", page) == ['<script type="module" src="/ui/app.js">']
    assert not re.search(r"<script[^>]*>\s*[^<\s]", page)  # no script body
    assert not re.search(r"\sstyle=|<style|\son[a-z]+=", page)


# ------------------------------------------------------------------- hostile server text
def xss_count(page: Page) -> Any:
    return page.js("return window.__xss")


def test_hostile_text_from_a_server_stays_text(page: Page) -> None:
    page.open("#/servers/dashboard/tools/hostile")
    description = page.wait_text("article.tool .tool-description")
    assert description == f"A description with markup: {HOSTILE}"
    assert page.text("article.tool h3").startswith(f"Hostile {HOSTILE}")
    assert page.js("return document.querySelectorAll('article.tool img').length") == 0
    hint = page.js("return document.querySelector('article.tool .hint').textContent")
    assert hint == f"Markup: {HOSTILE}"
    # The tool list shows the description as text too.
    assert page.js("return document.querySelectorAll('.item-list img').length") == 0

    page.browser.click(page.browser.find("form.tool-form button[type=submit]"))
    page.wait_js("return document.querySelector('.output .result')")
    texts = page.js(
        "return [...document.querySelectorAll('.output pre.text')].map(p => p.textContent)"
    )
    assert texts == [f"answer {HOSTILE}", HOSTILE]
    images = page.js("return [...document.querySelectorAll('.output img')].map(i => i.src)")
    assert len(images) == 1 and images[0].startswith("data:image/png;base64,")

    page.go("#/servers/dashboard/resources")
    page.wait_js("return document.querySelector('.tab-body .card button')")
    page.browser.click(page.browser.find(".tab-body .card button"))
    read = page.wait_text(".tab-body .output pre.text")
    assert read == f"note {HOSTILE}"
    page.go("#/servers/dashboard/prompts")
    page.browser.send_keys(page.control("name"), "Ada")
    page.browser.click(page.browser.find(".tab-body .card button[type=submit]"))
    assert page.wait_text(".tab-body .output pre.text") == "Hello Ada"
    assert page.text(".tab-body .card .hint") == HOSTILE
    page.go("#/servers/dashboard/logs")
    line = page.wait_js(
        "return [...document.querySelectorAll('.server-logs .message')].map(m => m.textContent)"
        ".find(t => t.includes('dashboard fixture ready'))"
    )
    assert line == f"dashboard stderr: {STDERR_LINE}"
    page.go("#/activity")
    page.wait_js("return document.querySelectorAll('.log-box .log-line').length > 0")
    everything = page.js("return document.body.textContent")
    assert HOSTILE in everything  # shown, as text
    assert page.js("return document.querySelectorAll('img[src=\"x\"]').length") == 0
    assert xss_count(page) is None
    assert page.errors() == []


def test_the_content_security_policy_blocks_inline_script_and_style(page: Page) -> None:
    page.open()
    ran = page.js(
        "const s = document.createElement('script'); s.textContent = 'window.__inline = 1';"
        "document.body.append(s); return window.__inline === 1"
    )
    assert ran is False
    styled = page.js(
        "const p = document.createElement('p'); document.body.append(p);"
        "p.setAttribute('style', 'display: none'); const shown = getComputedStyle(p).display;"
        "p.remove(); return shown"
    )
    assert styled == "block"
    reports = [entry["message"] for entry in page.browser.console()]
    assert any("Content Security Policy" in message for message in reports), reports


# ---------------------------------------------------------------- another origin's page
ATTACK = """<!DOCTYPE html>
<html><body>
<iframe name="one"></iframe><iframe name="two"></iframe>
<form id="restart" method="POST" action="{hub}/api/restart" target="one"></form>
<form id="stop" method="POST" action="{hub}/api/servers/stop?disable=true" enctype="text/plain"
  target="two"><input name='{{"server_name": "victim", "x": "' value='"}}'></form>
<script>
const hub = "{hub}";
const plain = (type, body) => ({{method: "POST", mode: "no-cors", credentials: "include",
  headers: {{"Content-Type": type}}, body: JSON.stringify(body)}});
const sent = (name) => new Promise((done) =>
  document.querySelector(`iframe[name=${{name}}]`).addEventListener("load", done, {{once: true}}));
async function attack() {{
  const answers = await Promise.allSettled([
    fetch(hub + "/api/servers/stop?disable=true",
      plain("text/plain;charset=json", {{server_name: "victim"}})),
    fetch(hub + "/api/servers/start", plain("text/plain;x=json", {{server_name: "asleep"}})),
    fetch(hub + "/api/servers/tools", plain("text/plain;charset=json",
      {{server_name: "victim", tool: "add_tool", arguments: {{name: "planted"}}}})),
    fetch(hub + "/api/servers/tools", plain("application/x-www-form-urlencoded; charset=json",
      {{server_name: "victim", tool: "echo", arguments: {{message: "csrf"}}}})),
  ]);
  let loaded = sent("one"); document.getElementById("restart").submit(); await loaded;
  loaded = sent("two"); document.getElementById("stop").submit(); await loaded;
  window.answers = answers.map((a) => a.status);
  document.title = "done";
}}
attack();
</script>
</body></html>
"""


class AttackerSite:
    """A web page on another origin (another port of 127.0.0.1), served from a thread."""

    def __init__(self, page: str) -> None:
        body = page.encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


def tool_names(hub: HubProcess, server: str) -> list[str]:
    return [tool["name"] for tool in hub.server(server)["capabilities"]["tools"]]


def tool_calls(hub: HubProcess, server: str) -> int:
    stats = hub.api("GET", "/api/stats").json()["servers"]
    return int(next(s["calls"] for s in stats if s["server"] == server))


def test_a_page_of_another_origin_cannot_start_stop_or_call_anything(
    browser: Browser, hub: HubProcess
) -> None:
    assert hub.server("victim")["status"] == "connected"
    assert hub.server("asleep")["status"] == "disabled"
    calls_before = tool_calls(hub, "victim")
    site = AttackerSite(ATTACK.format(hub=f"http://127.0.0.1:{hub.port}"))
    try:
        browser.get("about:blank")
        browser.get(site.url)
        page = Page(browser, hub)
        page.wait_js("return document.title === 'done'", timeout=20)
        # Every request reached the hub and was answered (nothing failed on the way).
        assert page.js("return window.answers") == ["fulfilled"] * 4
    finally:
        browser.get("about:blank")
        site.close()
    health = hub.health()
    assert health is not None and health["state"] == "ready"  # not restarted
    assert hub.server("victim")["status"] == "connected"
    assert hub.server("asleep")["status"] == "disabled"
    assert "planted" not in tool_names(hub, "victim")
    assert tool_calls(hub, "victim") == calls_before


# ------------------------------------------------------------------------------ API keys
@pytest.fixture(scope="module")
def keyed_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    servers = {"secretive": stdio_entry("everything_stdio.py", disabled=True)}
    process = hub_with(
        tmp_path_factory.mktemp("keys"), servers, MCP_HUB_AUTH_TOKENS=f"dashboard:{TOKEN}"
    )
    process.client.headers["Authorization"] = f"Bearer {TOKEN}"
    process.start()
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


def test_with_api_keys_the_page_asks_for_one_and_shows_nothing_before(
    browser: Browser, keyed_hub: HubProcess
) -> None:
    page = Page(browser, keyed_hub)
    browser.get("about:blank")
    browser.emulate(width=1280, height=800)
    browser.get(f"{page.origin}/")
    page.wait_js("return document.getElementById('key-dialog').open")
    assert page.text("main h1") == "This hub needs an API key"
    assert "secretive" not in page.js("return document.documentElement.textContent")
    key = browser.find("#key-input")
    browser.send_keys(key, "not-the-right-key-at-all")
    browser.click(browser.find("#key-form button[type=submit]"))
    refused = page.wait_js(
        "const e = document.getElementById('key-error'); return !e.hidden && e.textContent"
    )
    assert refused == "That key was refused"
    assert page.js("return sessionStorage.getItem('tornadohub.apiKey')") is None
    browser.send_keys(key, TOKEN)
    browser.click(browser.find("#key-form button[type=submit]"))
    page.wait_row("secretive", "disabled")
    page.wait_js("return document.getElementById('live').textContent === 'Live'")
    assert page.js("return document.getElementById('key-dialog').open") is False
    # The key is in this tab's sessionStorage only: not in the URL, a cookie or the page.
    assert page.js("return sessionStorage.getItem('tornadohub.apiKey')") == TOKEN
    assert page.js("return document.cookie") == ""
    assert TOKEN not in browser.url
    page.go("#/hub")
    snippet = page.wait_text('[data-snippet="claude"] pre')
    assert snippet.endswith('--header "Authorization: Bearer YOUR_API_KEY"')
    assert TOKEN not in page.js("return document.documentElement.outerHTML")
    # Forgetting the key locks the page again.
    browser.click(browser.find("#key-button"))
    page.wait_js("return document.getElementById('key-dialog').open")
    assert page.js("return sessionStorage.getItem('tornadohub.apiKey')") is None
    errors = [message for message in page.errors() if "401" not in message]
    assert errors == []
