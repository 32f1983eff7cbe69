"""Fixture: a small OAuth 2.1 authorization server and an MCP server it protects.

Usage: ``python tests/servers/oauth_server.py AS_PORT RS_PORT``. Binds 127.0.0.1 only and
prints ``READY`` when both listen.

* Authorization server (Tornado, ``http://127.0.0.1:AS_PORT``): RFC 8414 metadata, dynamic
  client registration, ``/authorize`` (checks client, redirect URI and an S256 PKCE
  challenge, then redirects with ``code`` and ``state``), ``/token`` (authorization_code
  with PKCE verification, refresh_token with rotation, client_credentials), and test
  controls under ``/admin``: ``expire`` (every access token), ``revoke`` (every refresh
  token), ``stats`` (request counters), ``client`` (pre-register a confidential client).
* Resource server (the SDK's Streamable HTTP app, ``http://127.0.0.1:RS_PORT/mcp``): answers
  401 with ``WWW-Authenticate`` and serves protected-resource metadata; accepts only live
  tokens issued for its own URL (RFC 8707 audience).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
import sys
import time
from typing import Any
from urllib.parse import urlencode

import uvicorn
from mcp.server import MCPServer
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from pydantic import AnyHttpUrl
from tornado import web

ACCESS_TTL = 3600


class State:
    """Everything the two servers share: clients, codes, tokens, counters."""

    def __init__(self, issuer: str, resource: str) -> None:
        self.issuer = issuer
        self.resource = resource
        self.clients: dict[str, dict[str, Any]] = {}
        self.codes: dict[str, dict[str, Any]] = {}
        self.access: dict[str, dict[str, Any]] = {}
        self.refresh: dict[str, dict[str, Any]] = {}
        self.stats = {"authorize": 0, "token": 0, "refresh": 0, "register": 0, "mcp_401": 0}
        self.access_ttl = ACCESS_TTL

    def issue(self, client_id: str, resource: str | None) -> dict[str, Any]:
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        self.access[access] = {
            "client_id": client_id,
            "resource": resource,
            "expires_at": time.time() + self.access_ttl,
        }
        self.refresh[refresh] = {"client_id": client_id, "resource": resource}
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.access_ttl,
            "refresh_token": refresh,
        }


class Base(web.RequestHandler):
    def initialize(self, state: State) -> None:
        self.state = state

    def reply(self, status: int, body: dict[str, Any]) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    def oauth_error(self, error: str, description: str) -> None:
        self.reply(400, {"error": error, "error_description": description})


class Metadata(Base):
    def get(self) -> None:
        issuer = self.state.issuer
        self.reply(
            200,
            {
                "issuer": issuer + "/",  # as the resource server's metadata spells it
                "authorization_endpoint": f"{issuer}/authorize",
                "token_endpoint": f"{issuer}/token",
                "registration_endpoint": f"{issuer}/register",
                "response_types_supported": ["code"],
                "grant_types_supported": [
                    "authorization_code",
                    "refresh_token",
                    "client_credentials",
                ],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": [
                    "none",
                    "client_secret_post",
                    "client_secret_basic",
                ],
            },
        )


class Register(Base):
    def post(self) -> None:
        self.state.stats["register"] += 1
        metadata = json.loads(self.request.body)
        client_id = "client-" + secrets.token_hex(4)
        client = {**metadata, "client_id": client_id, "client_id_issued_at": int(time.time())}
        self.state.clients[client_id] = client
        self.reply(201, client)


class Authorize(Base):
    def get(self) -> None:
        self.state.stats["authorize"] += 1
        arg = self.get_query_argument
        client = self.state.clients.get(arg("client_id", ""))
        redirect_uri = arg("redirect_uri", "")
        if client is None or redirect_uri not in client.get("redirect_uris", []):
            return self.oauth_error("invalid_request", "unknown client or redirect_uri")
        if arg("code_challenge_method", "") != "S256" or not arg("code_challenge", ""):
            return self.oauth_error("invalid_request", "PKCE S256 required")
        code = secrets.token_urlsafe(16)
        self.state.codes[code] = {
            "client_id": client["client_id"],
            "challenge": arg("code_challenge"),
            "redirect_uri": redirect_uri,
            "resource": arg("resource", None),
        }
        sep = "&" if "?" in redirect_uri else "?"
        query = urlencode({"code": code, "state": arg("state", "")})
        self.redirect(f"{redirect_uri}{sep}{query}")


class Token(Base):
    def post(self) -> None:
        self.state.stats["token"] += 1
        form = {k: self.get_body_argument(k) for k in self.request.body_arguments}
        grant = form.get("grant_type")
        if grant == "authorization_code":
            entry = self.state.codes.pop(form.get("code", ""), None)
            if entry is None:
                return self.oauth_error("invalid_grant", "unknown or used code")
            verifier = form.get("code_verifier", "")
            digest = hashlib.sha256(verifier.encode()).digest()
            challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            if challenge != entry["challenge"]:
                return self.oauth_error("invalid_grant", "PKCE verification failed")
            if form.get("redirect_uri") != entry["redirect_uri"]:
                return self.oauth_error("invalid_grant", "redirect_uri mismatch")
            return self.reply(200, self.state.issue(entry["client_id"], entry["resource"]))
        if grant == "refresh_token":
            self.state.stats["refresh"] += 1
            entry = self.state.refresh.pop(form.get("refresh_token", ""), None)
            if entry is None:
                return self.oauth_error("invalid_grant", "refresh token revoked or unknown")
            return self.reply(200, self.state.issue(entry["client_id"], entry["resource"]))
        if grant == "client_credentials":
            client_id, secret = form.get("client_id"), form.get("client_secret")
            header = self.request.headers.get("Authorization", "")
            if header.startswith("Basic "):
                client_id, secret = base64.b64decode(header[6:]).decode().split(":", 1)
            client = self.state.clients.get(client_id or "")
            if client is None or client.get("client_secret") != secret:
                return self.reply(401, {"error": "invalid_client"})
            tokens = self.state.issue(client["client_id"], form.get("resource"))
            tokens.pop("refresh_token")
            return self.reply(200, tokens)
        return self.oauth_error("unsupported_grant_type", str(grant))


class Admin(Base):
    def post(self, action: str) -> None:
        if action == "expire":
            for token in self.state.access.values():
                token["expires_at"] = 0
        elif action == "revoke":
            self.state.refresh.clear()
            for token in self.state.access.values():
                token["expires_at"] = 0
        elif action == "client":
            body = json.loads(self.request.body)
            self.state.clients[body["client_id"]] = body
        elif action == "ttl":
            self.state.access_ttl = int(json.loads(self.request.body)["seconds"])
        self.reply(200, {"ok": True})

    def get(self, action: str) -> None:
        self.reply(200, {"stats": self.state.stats, "live_tokens": len(self.state.access)})


class Verifier:
    """Accepts live tokens issued for this resource server only."""

    def __init__(self, state: State) -> None:
        self.state = state

    async def verify_token(self, token: str) -> AccessToken | None:
        entry = self.state.access.get(token)
        if entry is None or entry["expires_at"] < time.time():
            self.state.stats["mcp_401"] += 1
            return None
        if entry["resource"] not in (None, self.state.resource):
            return None
        return AccessToken(
            token=token,
            client_id=entry["client_id"],
            scopes=[],
            expires_at=int(entry["expires_at"]),
            resource=entry["resource"],
        )


def build_resource_server(state: State) -> MCPServer:
    server: MCPServer = MCPServer(
        "fixture-protected",
        version="1.0.0",
        token_verifier=Verifier(state),
        auth=AuthSettings(
            issuer_url=AnyHttpUrl(state.issuer),
            resource_server_url=AnyHttpUrl(state.resource),
            validate_token_resource=False,
        ),
    )

    @server.tool(description="Echo a message back.", structured_output=False)
    def echo(message: str) -> str:
        return f"Echo: {message}"

    return server


async def main() -> None:
    as_port, rs_port = int(sys.argv[1]), int(sys.argv[2])
    state = State(f"http://127.0.0.1:{as_port}", f"http://127.0.0.1:{rs_port}/mcp")
    handlers: list[Any] = [
        (r"/\.well-known/oauth-authorization-server", Metadata, {"state": state}),
        (r"/register", Register, {"state": state}),
        (r"/authorize", Authorize, {"state": state}),
        (r"/token", Token, {"state": state}),
        (r"/admin/(\w+)", Admin, {"state": state}),
    ]
    web.Application(handlers).listen(as_port, address="127.0.0.1")
    app = build_resource_server(state).streamable_http_app()
    config = uvicorn.Config(app, host="127.0.0.1", port=rs_port, log_level="warning")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn exposes only this flag
        await asyncio.sleep(0.02)
    print("READY", flush=True)
    await serving


if __name__ == "__main__":
    asyncio.run(main())
