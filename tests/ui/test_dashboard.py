"""The dashboard against a real hub with real fixture servers, in headless Chromium.

The page loads from the hub, shows every server live, stops one through the keyboard,
calls tools through forms generated from their input schemas, sees a server killed from
outside turn red, shows logs and call metrics, adds a marketplace server and sees it come
up, and is photographed in both themes at desktop and phone sizes.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import stdio_entry
from tests.helpers import SERVERS, HubProcess
from tests.marketplace.fakeregistry import RegistryServer
from tests.oauth.test_oauth import AuthServer
from tests.ui.conftest import PHONE, Page
from tests.ui.webdriver import ENTER, TAB, Browser, poll

#: A browser's page reacts to an event from the hub within this (the issue: "within a second").
PAGE_LATENCY = 1.0


@pytest.fixture(scope="module")
def registry() -> Iterator[RegistryServer]:
    server = RegistryServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def auth_server() -> Iterator[AuthServer]:
    server = AuthServer()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def hub(
    tmp_path_factory: pytest.TempPathFactory, registry: RegistryServer, auth_server: AuthServer
) -> Iterator[HubProcess]:
    root = tmp_path_factory.mktemp("dashboard")
    (root / "home").mkdir()
    config = root / "servers.json"
    servers = {
        "everything": stdio_entry("everything_stdio.py", description="The everything fixture"),
        "dashboard": stdio_entry("dashboard_stdio.py"),
        "stopper": stdio_entry("everything_stdio.py"),
        "mortal": {
            "command": sys.executable,
            "args": [str(SERVERS / "one_life_stdio.py"), str(root / "mortal.ran")],
        },
        "protected": {"url": auth_server.mcp_url},
    }
    config.write_text(json.dumps({"mcpServers": servers}, indent=2))
    process = HubProcess(
        [str(config)],
        home=root / "home",
        cwd=root,
        extra_args=("--marketplace-url", registry.catalog_url),
        env={"MCP_HUB_README_BASE_URL": registry.readme_base},
    )
    with process.running():
        yield process


@pytest.fixture
def page(browser: Browser, hub: HubProcess) -> Iterator[Page]:
    page = Page(browser, hub)
    yield page
    assert page.errors() == []


def api_status(hub: HubProcess, name: str) -> str:
    servers = hub.api("GET", "/api/servers").json()["servers"]
    return str(next(s["status"] for s in servers if s["name"] == name))


def call(hub: HubProcess, server: str, tool: str, **arguments: Any) -> str:
    body = {"server_name": server, "tool": tool, "arguments": arguments}
    response = hub.api("POST", "/api/servers/tools", body)
    assert response.status_code == 200, response.text
    return str(response.json()["result"]["content"][0]["text"])


def test_page_shows_every_server_live_with_its_status(page: Page, hub: HubProcess) -> None:
    page.open("")
    for name in ("everything", "dashboard", "stopper", "mortal"):
        page.wait_row(name, "connected")
    page.wait_row("protected", "unauthorized")
    assert page.text('tr[data-server="protected"] td.actions') == "AuthorizeStop"
    assert page.text("#hub-state") == "Hub ready"
    row = 'tr[data-server="everything"]'
    cells = page.js(
        "return [...document.querySelectorAll(arguments[0] + ' > *')].map(c => c.textContent)", row
    )
    assert cells[0] == "everythingThe everything fixture"
    assert cells[1:3] == ["connected", "stdio"]
    assert cells[4:8] == ["8", "2", "2", "servers.json"]
    assert cells[8] == "StopRestartRefresh"
    colour = page.js(
        "return getComputedStyle(document.querySelector(arguments[0] + ' .status')).color", row
    )
    assert colour == "rgb(26, 127, 55)"  # the light theme's green
    # The same page at /ui/, and each action is a real button.
    page.browser.get(f"{page.origin}/ui/")
    page.wait_row("everything", "connected")
    kinds = page.js(
        "return [...document.querySelectorAll('td.actions > *')].map(e => e.tagName + ':' + e.type)"
    )
    assert kinds and set(kinds) == {"BUTTON:button"}


def test_stopping_a_server_with_the_keyboard_changes_its_row_at_once(
    page: Page, hub: HubProcess
) -> None:
    page.open()
    page.wait_row("stopper", "connected")
    stop = page.browser.find('tr[data-server="stopper"] button[data-action="stop"]')
    # Tab from the top of the page to the button: every control on the way takes the focus.
    page.js("document.activeElement.blur(); window.scrollTo(0, 0)")
    for _ in range(60):
        page.browser.keys(TAB)
        if page.browser.active_element() == stop:
            break
    else:
        pytest.fail("the Stop button cannot be reached with the Tab key")
    outline = page.js("return getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"  # the focus is visible
    page.browser.keys(ENTER)
    clicked = time.monotonic()
    changed: dict[str, float] = {}
    while time.monotonic() - clicked < 15 and len(changed) < 2:
        if "page" not in changed and page.row_status("stopper") == "disabled":
            changed["page"] = time.monotonic()
        if "api" not in changed and api_status(hub, "stopper") == "disabled":
            changed["api"] = time.monotonic()
        time.sleep(0.02)
    assert set(changed) == {"page", "api"}, changed
    # The row follows the hub's own state within a second of it changing.
    assert changed["page"] - changed["api"] < PAGE_LATENCY, changed
    actions = page.text('tr[data-server="stopper"] td.actions')
    assert actions == "Start"
    page.browser.click(page.browser.find('tr[data-server="stopper"] button[data-action="start"]'))
    poll(lambda: page.row_status("stopper") in ("connecting", "connected"))


def test_a_tool_call_through_the_generated_form_returns_the_fixtures_answer(page: Page) -> None:
    page.open("#/servers/everything/tools/echo")
    message = page.control("message")
    page.browser.send_keys(message, "hello from the page")
    page.browser.click(page.browser.find("form.tool-form button[type=submit]"))
    answer = page.wait_js(
        "const pre = document.querySelector('.output pre.text'); return pre && pre.textContent"
    )
    assert answer == "Echo: hello from the page"
    # A tool's own error reads as one.
    page.go("#/servers/everything/tools/fail")
    page.browser.send_keys(page.control("message"), "it broke")
    page.browser.click(page.browser.find("form.tool-form button[type=submit]"))
    banner = page.wait_js("return document.querySelector('.output .result-error .error-banner')")
    assert banner
    assert page.text(".output .result-error pre.text") == "it broke"


def fill(page: Page, label: str, text: str) -> None:
    control = page.control(label)
    page.browser.clear(control)
    page.browser.send_keys(control, text)


def select(page: Page, label: str, option: str) -> None:
    page.js(
        "const s = arguments[0]; s.value = [...s.options].find(o => o.text === arguments[1]).value;"
        "s.dispatchEvent(new Event('change'))",
        page.browser.element_arg(page.control(label)),
        option,
    )


def test_the_form_covers_every_kind_of_field_and_says_what_is_wrong(page: Page) -> None:
    page.open("#/servers/dashboard/tools/probe")
    fill(page, "title", "x")
    fill(page, "count", "20")
    submit = page.browser.find("form.tool-form button[type=submit]")
    page.browser.click(submit)
    summary = page.wait_js(
        "const s = document.querySelector('.form-errors'); return !s.hidden && s.textContent"
    )
    assert "title: At least 2 characters" in summary
    assert "count: At most 10" in summary
    assert "mode: Choose one" in summary
    assert "owner.name: Required" in summary
    assert "extra" not in summary  # optional and left empty: its required note does not apply
    assert page.text(".output") == ""  # nothing was sent
    # The first wrong field has the focus and says why.
    focused = page.js("return document.activeElement.dataset.path")
    assert focused == "title"
    assert page.js("return document.activeElement.getAttribute('aria-invalid')") == "true"

    fill(page, "title", "hi")
    fill(page, "count", "3")
    fill(page, "ratio", "0.5")
    page.browser.click(page.control("enabled"))
    select(page, "mode", "safe")
    add_tag = page.browser.find('button[aria-label="Add an item to tags"]')
    page.browser.click(add_tag)
    page.browser.click(add_tag)
    page.browser.send_keys(page.control("Item 1", 'fieldset[data-path="tags"]'), "red")
    page.browser.send_keys(page.control("Item 2", 'fieldset[data-path="tags"]'), "blue")
    page.browser.click(page.browser.find('button[aria-label="Remove item 1 of tags"]'))
    fill(page, "name", "Ada")
    page.browser.click(page.browser.find('button[aria-label="Add an item to points"]'))
    fill(page, "x", "1.5")
    fill(page, "y", "-2")
    page.browser.click(submit)
    answer = page.wait_js(
        "const pre = document.querySelector('.output pre.text'); return pre && pre.textContent"
    )
    assert answer.startswith("received ")
    assert json.loads(answer.removeprefix("received ")) == {
        "title": "hi",
        "count": 3,
        "ratio": 0.5,
        "enabled": True,
        "mode": "safe",
        "tags": ["blue"],
        "owner": {"name": "Ada"},
        "points": [{"x": 1.5, "y": -2}],
    }


#: In-page checks of the schema-to-form module: each returns [what, got, expected].
FORM_CASES = r"""
const done = arguments[arguments.length - 1];
import('/ui/schema-form.js').then((m) => {
  const box = document.createElement('div');
  document.body.append(box);
  const control = (form, path) => form.element.querySelector(`[data-path="${path}"]`);
  const set = (form, path, value) => { control(form, path).value = value; };
  const out = [];
  const check = (what, got, expected) => out.push([what, got, expected]);
  const kind = (schema, root = {}) => m.kindOf(m.resolveSchema(schema, root));
  const problems = (form) => form.read().errors.map((e) => [e.path, e.message]);

  check('nullable union', kind({anyOf: [{type: 'integer'}, {type: 'null'}]}), 'integer');
  check('type list', kind({type: ['string', 'null']}), 'string');
  const root = {$defs: {P: {type: 'object', properties: {a: {type: 'string'}}}}};
  check('$ref', kind({$ref: '#/$defs/P'}, root), 'object');
  const union = {anyOf: [{type: 'object', properties: {a: {}}}, {type: 'string'}]};
  check('union of objects', kind(union), 'json');
  check('tuple', m.kindOf({type: 'array', items: [{type: 'string'}]}), 'json');

  let form = m.buildForm({type: 'object', properties: {}});
  check('no arguments', [form.element.textContent, form.read().value], ['No arguments.', {}]);

  form = m.buildForm({type: 'object', properties: {
    n: {type: 'integer', default: 4}, s: {type: 'string', default: 'x'},
    e: {enum: [1, 'two', true]}, b: {type: 'boolean'}, free: {type: 'object'}}});
  box.append(form.element);
  check('defaults', form.read().value, {n: 4, s: 'x'});
  set(form, 'e', '0'); set(form, 'b', '1'); set(form, 'free', '{"k": [1]}');
  check('enum, optional boolean, JSON', form.read().value,
    {n: 4, s: 'x', e: 1, b: false, free: {k: [1]}});
  set(form, 'free', '[1]');
  check('JSON of the wrong type', problems(form), [['free', 'Enter a JSON object']]);
  set(form, 'free', '{oops');
  check('bad JSON', form.read().errors[0].message.startsWith('Not valid JSON'), true);
  set(form, 'free', ''); set(form, 'n', '2.5');
  check('integer', problems(form), [['n', 'Enter a whole number']]);

  form = m.buildForm({type: 'object', required: ['list'], properties: {
    list: {type: 'array', minItems: 2, uniqueItems: true,
      items: {type: 'number', exclusiveMinimum: 0}},
    p: {type: 'string', pattern: '^a'}}});
  box.append(form.element);
  const empty = form.read();
  check('required empty array', [empty.value, problems(form)],
    [{list: []}, [['list', 'Add at least 2 items']]]);
  const add = form.element.querySelector('fieldset > button');
  add.click(); add.click();
  const items = () => form.element.querySelectorAll('[data-path="list[#]"]');
  items()[0].value = '1';
  items()[1].value = '0';
  set(form, 'p', 'b');
  check('items and pattern', problems(form), [['list[1]', 'More than 0'], ['p', 'Must match ^a']]);
  items()[1].value = '1';
  check('unique', problems(form), [['list', 'Items must differ'], ['p', 'Must match ^a']]);

  const list = {type: 'object', properties: {list: {type: 'array', items: {type: 'string'}}}};
  form = m.buildForm(list, {list: ['a', 'b']});
  check('initial values', form.read().value, {list: ['a', 'b']});
  box.remove();
  done(out);
}).catch((error) => done([['import', String(error), null]]));
"""


def test_the_schema_form_module_in_the_browser(page: Page) -> None:
    page.open()
    results = page.browser.execute_async(FORM_CASES)
    failures = [(what, got, expected) for what, got, expected in results if got != expected]
    assert len(results) == 15 and failures == [], failures


def test_a_server_killed_from_outside_turns_red_live(page: Page, hub: HubProcess) -> None:
    page.open()
    page.wait_row("mortal", "connected")
    pid = int(call(hub, "mortal", "pid"))
    os.kill(pid, signal.SIGKILL)
    page.wait_row("mortal", "disconnected", timeout=10)
    reason = page.text('tr[data-server="mortal"] .reason')
    assert reason  # why it is down, in the row
    colour = page.js(
        "return getComputedStyle(document.querySelector(arguments[0])).color",
        'tr[data-server="mortal"] .status',
    )
    assert colour == "rgb(198, 40, 40)"  # the light theme's red


def test_authorizing_a_server_in_another_tab_turns_it_connected_by_itself(
    page: Page, auth_server: AuthServer
) -> None:
    page.open("#/servers/protected")
    page.wait_row("protected", "unauthorized")
    link = page.wait_js("const a = document.querySelector('.authorize a'); return a && a.href")
    assert link.startswith(f"http://127.0.0.1:{auth_server.as_port}/authorize?")
    assert page.js("return document.querySelector('.authorize a').rel") == "noopener noreferrer"
    browser = page.browser
    dashboard = browser.window
    browser.switch_to(browser.new_tab())
    try:
        browser.get(link)  # the authorization server sends the browser back to the hub
        poll(lambda: "Authorization successful" in page.text("#status"), 20)
    finally:
        browser.close_window()
        browser.switch_to(dashboard)
    page.wait_row("protected", "connected", timeout=20)
    assert page.js("return document.querySelector('.authorize')") is None


def test_server_logs_and_the_activity_view(page: Page, hub: HubProcess) -> None:
    call(hub, "everything", "echo", message="counted")
    page.open("#/servers/everything/logs")
    line = page.wait_js(
        "return [...document.querySelectorAll('.server-logs .message')].map(m => m.textContent)"
        ".find(t => t.includes('fixture-everything stderr hello'))"
    )
    assert line == "everything stderr: fixture-everything stderr hello"
    page.go("#/activity")
    totals = page.wait_js(
        "const card = document.querySelector('.metrics[data-server=\"everything\"] .totals');"
        "return card && card.textContent"
    )
    assert "call" in totals and "p50" in totals
    assert page.wait_js("return document.querySelectorAll('.log-box .log-line').length > 0")
    levels = set(
        page.js("return [...document.querySelectorAll('.log-box .level')].map(l => l.textContent)")
    )
    assert "info" in levels
    select(page, "Level and above", "error")
    levels = set(
        page.js("return [...document.querySelectorAll('.log-box .level')].map(l => l.textContent)")
    )
    assert levels <= {"error"}
    # A call made now shows up in the next chart point.
    calls = page.wait_js(
        "const box = document.querySelector('.metrics[data-server=\"everything\"]');"
        "return box && box.querySelectorAll('polyline, circle').length > 0 && box.textContent",
        timeout=15,
    )
    assert "calls:" in calls


def test_adding_a_marketplace_server_brings_it_up(page: Page, hub: HubProcess) -> None:
    page.open("#/marketplace/fixture-everything")
    page.wait_js("return document.querySelector('form.add-form')")
    select(page, "Installation", "python")
    fill(page, "Server name in the config", "added")
    page.browser.click(page.browser.find("form.add-form button[type=submit]"))
    link = page.wait_js(
        "const a = document.querySelector('.add-form .output a'); return a && a.hash"
    )
    assert link == "#/servers/added"
    page.go(link)
    page.wait_row("added", "connected", timeout=30)
    config = json.loads(Path(hub.configs[0]).read_text())
    assert config["mcpServers"]["added"]["args"][0].endswith("everything_stdio.py")


def test_the_hub_view_gives_the_mcp_url_and_client_snippets(page: Page) -> None:
    page.open("#/hub")
    page.browser.cdp(
        "Browser.grantPermissions",
        {"origin": page.origin, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]},
    )
    url = f"{page.origin}/mcp"
    assert page.js("return document.getElementById('mcp-url').value") == url
    state = page.wait_js(
        "const dd = document.querySelector('[data-fact=\"State\"]'); return dd && dd.textContent"
    )
    assert state == "ready"
    claude = page.text('[data-snippet="claude"] pre')
    assert claude == f"claude mcp add --transport http mcp-hub {url}"
    assert json.loads(page.text('[data-snippet="vscode"] pre')) == {
        "servers": {"mcp-hub": {"type": "http", "url": url}}
    }
    page.browser.click(page.browser.find('button[aria-label="Copy the Claude Code configuration"]'))
    copied = page.browser.execute_async(
        "const done = arguments[0];"
        "navigator.clipboard.readText().then(done, (e) => done(String(e)))"
    )
    assert copied == claude


def test_screenshots_in_both_themes_at_desktop_and_phone_sizes(page: Page, hub: HubProcess) -> None:
    call(hub, "everything", "add", a=2, b=3)
    for dark in (False, True):
        for size, label in ((None, "desktop"), (PHONE, "phone")):
            theme = "dark" if dark else "light"
            if size is None:
                page.open("#/servers/everything/tools/add", dark=dark)
            else:
                page.open("#/servers/everything/tools/add", dark=dark, size=size)
            page.wait_row("everything", "connected")
            page.browser.send_keys(page.control("a"), "2")
            page.browser.send_keys(page.control("b"), "40")
            page.browser.click(page.browser.find("form.tool-form button[type=submit]"))
            page.wait_js("return document.querySelector('.output pre.text')")
            page.js("window.scrollTo(0, 0)")
            background = page.js("return getComputedStyle(document.body).backgroundColor")
            assert background == ("rgb(15, 18, 22)" if dark else "rgb(246, 247, 249)")
            width = page.js("return document.documentElement.scrollWidth")
            expected = 390 if size else 1280
            assert width <= expected, f"{theme} {label}: the page is {width} px wide"
            shot = page.screenshot(f"servers-{theme}-{label}")
            assert shot.stat().st_size > 10_000
