"""The dashboard: one static page and its files, served from the package (and the zipapp).

The page (``tornadohub/ui/index.html``) and its scripts and styles carry no data: everything
the page shows it asks for through the REST API and ``/api/events``, with the user's API key
when the hub has keys. So the files themselves need no key, like the probes.

Every answer has a strict Content-Security-Policy: scripts, styles and connections from
this origin only, no inline script or style, no framing, no ``<base>``; images may be
``data:`` URLs (tool results carry base64 images).
"""

from __future__ import annotations

import re
from importlib import resources

from tornado import web

from tornadohub.handlers.base import APIHandler
from tornadohub.handlers.docs import DASHBOARD_PAGE, RouteDoc, error
from tornadohub.openapi import Operation, PathParameter, Response
from tornadohub.policy import Check

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "media-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)

#: The file types the dashboard is made of, and how each is served.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
ASSET_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*\.(?:js|css|svg)")
PAGE = "index.html"


def read_asset(name: str) -> bytes | None:
    """A file of the dashboard by its name, or None when there is no such file."""
    if name != PAGE and not ASSET_NAME.fullmatch(name):
        return None
    try:
        return resources.files("tornadohub").joinpath("ui", name).read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


class DashboardFileHandler(APIHandler):
    """Base of the dashboard routes: no key needed, security headers on every answer.

    The files hold no data (the page asks for a key itself), so they need no key, and a
    link from another site may open the page (a cross-site navigation): API keys and the
    Origin/``Sec-Fetch-Site`` checks are skipped. The Host check still applies, so a
    rebinding name never gets the page; everything the page then does goes through the
    full policy.
    """

    auth_required = False
    exempt_from = frozenset({Check.site})

    def set_default_headers(self) -> None:
        self.set_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("X-Frame-Options", "DENY")
        self.set_header("Cross-Origin-Opener-Policy", "same-origin")
        self.set_header("Cross-Origin-Resource-Policy", "same-origin")
        self.set_header("Cache-Control", "no-cache")  # revalidated by ETag: upgrades show at once

    def send_file(self, name: str) -> None:
        body = read_asset(name)
        if body is None:
            raise web.HTTPError(404, f"Cannot {self.request.method} {self.request.path}")
        suffix = name[name.rindex(".") :]
        self.set_header("Content-Type", CONTENT_TYPES[suffix])
        self.finish(body)


class DashboardHandler(DashboardFileHandler):
    """GET /ui/: the dashboard page."""

    openapi = RouteDoc({"get": DASHBOARD_PAGE}, tag="dashboard")

    def get(self) -> None:
        self.send_file(PAGE)


class RootHandler(DashboardHandler):
    """GET /: the dashboard page (the same as ``/ui/``)."""

    openapi = RouteDoc({"get": DASHBOARD_PAGE}, tag="dashboard")


class DashboardAssetHandler(DashboardFileHandler):
    """GET /ui/{file}: a script, style sheet or icon of the dashboard."""

    openapi = RouteDoc(
        {
            "get": Operation(
                {
                    200: Response(
                        "The file",
                        {"text/javascript": None, "text/css": None, "image/svg+xml": None},
                    ),
                    404: error("No such file (NOT_FOUND)"),
                },
                public=True,
            )
        },
        path_parameters=[PathParameter("file", "A file name, such as app.js")],
        tag="dashboard",
    )

    def get(self, name: str) -> None:
        self.send_file(name)


default_handlers = [
    (r"/", RootHandler),
    (r"/ui", DashboardHandler),
    (r"/ui/([^/]+)", DashboardAssetHandler),
]
