"""A local marketplace on loopback: mcp-hub's catalog, the official registry API, READMEs.

Routes: ``/registry.json`` (mcp-hub catalog), ``/v0/servers`` (official MCP Registry,
two cursor pages), ``/raw/<owner>/<repo>/<ref>/<path>`` (raw README files). Every request
is counted per path; :attr:`RegistryServer.modes` makes paths (or ``"*"``: all) answer 500
(``"500"``) or drop the connection without an answer (``"close"``).
"""

from __future__ import annotations

import copy
import json
import sys
import threading
import urllib.parse
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.helpers import SERVERS


def _config(value: dict[str, Any]) -> str:
    return json.dumps(value, indent=2)


EVERYTHING_CONFIG = {"command": sys.executable, "args": [str(SERVERS / "everything_stdio.py")]}

CATALOG: dict[str, Any] = {
    "version": "1.0.0",
    "generatedAt": 1700000400000,
    "totalServers": 5,
    "servers": [
        {
            "id": "alpha-search",
            "name": "Alpha Search",
            "description": "Web search through the Alpha API",
            "author": "acme",
            "url": "https://github.com/acme/alpha",
            "license": "MIT",
            "category": "search",
            "tags": ["search", "web"],
            "installations": [
                {
                    "name": "npx",
                    "description": "Run with npx",
                    "config": _config(
                        {
                            "command": "npx",
                            "args": ["-y", "alpha-mcp", "--region", "${ALPHA_REGION}"],
                            "env": {"ALPHA_KEY": "${ALPHA_KEY}"},
                        }
                    ),
                    "prerequisites": ["Node.js"],
                },
                {
                    "name": "Docker",
                    "config": _config(
                        {
                            "command": "docker",
                            "args": ["run", "-i", "--rm", "-e", "ALPHA_KEY", "acme/alpha"],
                            "env": {"ALPHA_KEY": "${ALPHA_KEY}"},
                        }
                    ),
                },
            ],
            "parameters": [
                {"name": "API key", "key": "ALPHA_KEY", "placeholder": "ak-...", "required": True},
                {"name": "Region", "key": "ALPHA_REGION", "required": False},
            ],
            "featured": True,
            "verified": True,
            "stars": 50,
            "lastCommit": 1700000300,
        },
        {
            "id": "beta-git",
            "name": "beta Git",
            "description": "Git tools",
            "author": "acme",
            "url": "https://github.com/acme/beta",
            "category": "development",
            "tags": ["git", "vcs"],
            "installations": [
                {"name": "uvx", "config": _config({"command": "uvx", "args": ["beta-git"]})}
            ],
            "stars": 200,
            "lastCommit": 1700000100,
        },
        {
            "id": "gamma-notes",
            "name": "Gamma notes",
            "description": "Note taking with a search index",
            "author": "gamma",
            "url": "https://gitlab.com/gamma/notes",
            "category": "productivity",
            "tags": ["notes", "Search"],
            "installations": [
                {"name": "npx", "config": _config({"command": "npx", "args": ["gamma"]})}
            ],
            "stars": 10,
            "lastCommit": 1700000200,
        },
        {
            "id": "emile",
            "name": "émile tools",
            "description": "Miscellany",
            "author": "emile",
            "url": "https://github.com/emile/tools/tree/main/packages/mcp",
            "category": "productivity",
            "tags": ["misc"],
            "installations": [
                {"name": "npx", "config": _config({"command": "npx", "args": ["emile"]})}
            ],
            "stars": 5,
            "lastCommit": 1700000050,
        },
        {
            "id": "fixture-everything",
            "name": "Everything fixture",
            "description": "The hub's own test server",
            "author": "tornadohub",
            "url": "https://github.com/acme/none",
            "category": "development",
            "tags": ["test"],
            "installations": [
                {"name": "python", "config": _config(EVERYTHING_CONFIG)},
                {
                    "name": "with-env",
                    "config": _config(
                        {**EVERYTHING_CONFIG, "env": {"FIXTURE_TOKEN": "${FIXTURE_TOKEN}"}}
                    ),
                    "parameters": [{"name": "Token", "key": "FIXTURE_TOKEN"}],
                },
            ],
        },
    ],
}

_LATEST = "io.modelcontextprotocol.registry/official"

OFFICIAL_PAGES: dict[str | None, dict[str, Any]] = {
    None: {
        "servers": [
            {
                "server": {
                    "$schema": "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json",
                    "name": "io.github.acme/weather",
                    "title": "Weather",
                    "description": "Forecasts from the Acme weather API",
                    "version": "1.2.0",
                    "repository": {"url": "https://github.com/acme/weather", "source": "github"},
                    "packages": [
                        {
                            "registryType": "npm",
                            "identifier": "@acme/weather",
                            "version": "1.2.0",
                            "transport": {"type": "stdio"},
                            "packageArguments": [{"type": "named", "name": "--verbose"}],
                            "environmentVariables": [
                                {
                                    "name": "WEATHER_API_KEY",
                                    "description": "Acme API key",
                                    "isRequired": True,
                                    "isSecret": True,
                                },
                                {"name": "UNITS", "default": "metric"},
                            ],
                        }
                    ],
                },
                "_meta": {
                    _LATEST: {
                        "status": "active",
                        "isLatest": True,
                        "publishedAt": "2025-09-01T00:00:00Z",
                        "updatedAt": "2025-10-01T00:00:00Z",
                    }
                },
            },
            {
                "server": {
                    "name": "io.github.acme/weather",
                    "description": "An older version",
                    "version": "1.0.0",
                    "packages": [
                        {
                            "registryType": "npm",
                            "identifier": "@acme/weather",
                            "version": "1.0.0",
                            "transport": {"type": "stdio"},
                        }
                    ],
                },
                "_meta": {_LATEST: {"status": "active", "isLatest": False}},
            },
            {
                "server": {
                    "name": "com.example/remote-docs",
                    "description": "Hosted documentation search",
                    "version": "2.0.0",
                    "websiteUrl": "https://docs.example.com",
                    "remotes": [
                        {
                            "type": "streamable-http",
                            "url": "https://docs.example.com/mcp",
                            "headers": [
                                {
                                    "name": "Authorization",
                                    "value": "Bearer {token}",
                                    "variables": {
                                        "token": {"isRequired": True, "description": "API token"}
                                    },
                                }
                            ],
                        },
                        {
                            "type": "sse",
                            "url": "https://{region}.docs.example.com/sse",
                            "variables": {"region": {"default": "eu"}},
                        },
                    ],
                },
                "_meta": {
                    _LATEST: {
                        "status": "active",
                        "isLatest": True,
                        "updatedAt": "2025-11-01T00:00:00Z",
                    }
                },
            },
        ],
        "metadata": {"nextCursor": "com.example/remote-docs:2.0.0", "count": 3},
    },
    "com.example/remote-docs:2.0.0": {
        "servers": [
            {
                "server": {
                    "name": "io.github.acme/pyserver",
                    "description": "A Python server",
                    "version": "0.3.0",
                    "repository": {"url": "https://github.com/acme/pyserver", "source": "github"},
                    "packages": [
                        {
                            "registryType": "pypi",
                            "identifier": "acme-py",
                            "version": "0.3.0",
                            "transport": {"type": "stdio"},
                            "packageArguments": [
                                {"type": "positional", "valueHint": "workspace_dir"}
                            ],
                        },
                        {
                            "registryType": "oci",
                            "identifier": "docker.io/acme/py",
                            "version": "0.3.0",
                            "transport": {"type": "stdio"},
                            "environmentVariables": [{"name": "PY_TOKEN", "isRequired": True}],
                        },
                    ],
                },
                "_meta": {_LATEST: {"status": "active", "isLatest": True}},
            },
            {
                "server": {
                    "name": "io.github.acme/gone",
                    "description": "Deleted",
                    "version": "1.0.0",
                    "remotes": [{"type": "sse", "url": "https://gone.example.com/sse"}],
                },
                "_meta": {_LATEST: {"status": "deleted", "isLatest": True}},
            },
            {
                "server": {
                    "name": "io.github.acme/http-only",
                    "description": "A package with an HTTP transport only: not installable",
                    "version": "1.0.0",
                    "packages": [
                        {
                            "registryType": "npm",
                            "identifier": "http-only",
                            "version": "1.0.0",
                            "transport": {
                                "type": "streamable-http",
                                "url": "http://localhost:{port}/mcp",
                            },
                        }
                    ],
                },
                "_meta": {_LATEST: {"status": "active", "isLatest": True}},
            },
        ],
        "metadata": {"count": 3},
    },
}

READMES: dict[str, str] = {
    "/raw/acme/alpha/main/README.md": "# Alpha\nmain branch readme\n",
    "/raw/acme/beta/master/README.md": "# Beta\nmaster branch readme\n",
    "/raw/emile/tools/main/packages/mcp/README.md": "# Emile\nmonorepo package readme\n",
    "/raw/acme/weather/main/README.md": "# Weather\n",
}


class RegistryServer:
    """The registry on a free 127.0.0.1 port, served by a thread; stop() ends it."""

    def __init__(self) -> None:
        self.catalog: dict[str, Any] = copy.deepcopy(CATALOG)
        self.official_pages = copy.deepcopy(OFFICIAL_PAGES)
        self.readmes = dict(READMES)
        self.modes: dict[str, str] = {}
        self.hits: Counter[str] = Counter()
        self.queries: list[tuple[str, dict[str, list[str]]]] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def catalog_url(self) -> str:
        return f"{self.base}/registry.json"

    @property
    def readme_base(self) -> str:
        return f"{self.base}/raw"

    def start(self) -> RegistryServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(10)

    def count(self, prefix: str) -> int:
        with self._lock:
            return sum(n for path, n in self.hits.items() if path.startswith(prefix))

    def _answer(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        if path == "/registry.json":
            return 200, self.catalog
        if path == "/v0/servers":
            cursor = query.get("cursor", [None])[0]
            page = self.official_pages.get(cursor)
            return (200, page) if page is not None else (400, {"error": "bad cursor"})
        if path in self.readmes:
            return 200, self.readmes[path]
        return 404, "Not Found"

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        registry = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                parts = urllib.parse.urlsplit(self.path)
                query = urllib.parse.parse_qs(parts.query)
                with registry._lock:
                    registry.hits[parts.path] += 1
                    registry.queries.append((parts.path, query))
                    mode = registry.modes.get(parts.path, registry.modes.get("*", "ok"))
                if mode == "close":
                    self.close_connection = True
                    return
                status, body = (
                    (500, "boom") if mode == "500" else registry._answer(parts.path, query)
                )
                data = (body if isinstance(body, str) else json.dumps(body)).encode()
                self.send_response(status)
                kind = "text/plain" if isinstance(body, str) else "application/json"
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
