"""Requests exactly as a browser sends them, for the edge-policy tests.

A hostile page can make the user's browser send: a cross-origin ``fetch`` with a CORS-safelisted
content type (no preflight), an auto-submitting form, a no-cors ``GET`` (image, script) that
carries no ``Origin``, and, after DNS rebinding, same-origin requests whose ``Host`` is the
attacker's name. Each helper gives the header set Chromium sends for one of those.
"""

from __future__ import annotations

USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120"
EVIL = "http://evil.example"


def cross_origin_fetch(
    origin: str = EVIL, content_type: str = "text/plain;x=json"
) -> dict[str, str]:
    """``fetch(url, {method: "POST", body, headers: {"Content-Type": ...}})`` from *origin*."""
    return {
        "User-Agent": USER_AGENT,
        "Accept": "*/*",
        "Content-Type": content_type,
        "Origin": origin,
        "Sec-Fetch-Site": "cross-site",
        "Sec-Fetch-Mode": "cors",
        "Sec-Fetch-Dest": "empty",
    }


def form_post(origin: str = EVIL) -> dict[str, str]:
    """An auto-submitting ``<form method=post>`` on a page at *origin*."""
    return {
        "User-Agent": USER_AGENT,
        "Accept": "text/html,application/xhtml+xml,*/*;q=0.8",
        "Content-Type": "application/x-www-form-urlencoded",
        "Origin": origin,
        "Sec-Fetch-Site": "cross-site",
        "Sec-Fetch-Mode": "navigate",
        "Sec-Fetch-Dest": "iframe",
    }


def no_cors_get() -> dict[str, str]:
    """``<img src=...>`` or ``fetch(url, {mode: "no-cors"})``: a GET without ``Origin``."""
    return {
        "User-Agent": USER_AGENT,
        "Accept": "image/avif,image/webp,*/*",
        "Sec-Fetch-Site": "cross-site",
        "Sec-Fetch-Mode": "no-cors",
        "Sec-Fetch-Dest": "image",
    }


def rebound(port: int, *, post: bool = False) -> dict[str, str]:
    """A page at ``attacker.example:<port>`` whose name now resolves to 127.0.0.1."""
    headers = {
        "User-Agent": USER_AGENT,
        "Host": f"attacker.example:{port}",
        "Accept": "*/*",
        "Sec-Fetch-Site": "same-origin",
        "Sec-Fetch-Mode": "cors",
        "Sec-Fetch-Dest": "empty",
    }
    if post:
        headers["Origin"] = f"http://attacker.example:{port}"
        headers["Content-Type"] = "application/json"
    return headers
