"""One remote upstream's authorization by a user: the SDK provider that runs it, the
authorization URL handed out and the callback that resumes the flow, and the URLs around it.

Only a connection attempt waits for the user (the upstream's owner task; start() callers
are released as soon as the URL is published). A request of a live session never does:
see :class:`OAuthSession`. In cluster mode the wait also ends when another node's user
authorizes first (its tokens are then the cluster's: the attempt ends and the next one uses
them). Storage, refresh and cluster sharing are :mod:`tornadohub.oauth`.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, quote, urlparse

import httpx2
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
from mcp.client.auth.utils import extract_field_from_www_auth
from mcp.shared.auth import OAuthClientMetadata
from pydantic import AnyUrl

from tornadohub.errors import HubError, ValidationError
from tornadohub.oauth import CLIENT_NAME, ServerTokenStorage
from tornadohub.oauth_refresh import expire_now, refresh_early

log = logging.getLogger("tornadohub.oauth")

#: Cluster mode: while a user is asked to authorize, how often the cluster's tokens are
#: checked for another node's authorization (seconds).
SHARED_TOKENS_POLL_SECONDS = 1.0


def needs_user(response: httpx2.Response) -> bool:
    """Whether the SDK's flow answers *response* with a new authorization: a 401, or a
    403 asking for more scope."""
    if response.status_code == 401:
        return True
    return (
        response.status_code == 403
        and extract_field_from_www_auth(response, "error") == "insufficient_scope"
    )


@dataclass
class PendingAuthorization:
    """An authorization URL handed to the user, and the flow waiting for its callback."""

    url: str
    state: str | None
    callback: asyncio.Future[AuthorizationCodeResult] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class OAuthSession:
    """One remote upstream's OAuth state: the provider and a pending authorization.

    ``on_authorization_url`` is called (in the owner task) when the user must act;
    the upstream uses it to become ``unauthorized`` and to release its start() waiters.

    Only a connection attempt may wait for the user. Once :attr:`serving` is set, a
    request whose token the server refuses with a 401 is sent once more after a refresh
    (when there is a refresh token); if that fails too, the request gets the 401 back at
    once and ``on_tokens_refused`` is called: the SDK would otherwise start the
    authorization-code flow inside the request and hold it until someone authorizes.
    """

    def __init__(
        self,
        name: str,
        server_url: str,
        storage: ServerTokenStorage,
        redirect_uri: str,
        on_authorization_url: Callable[[str], Awaitable[None]],
        on_tokens_refused: Callable[[], None],
        *,
        scope: str | None = None,
    ) -> None:
        self.name = name
        self.pending: PendingAuthorization | None = None
        #: Cluster mode: set when another node's authorization ended this one's wait.
        self.authorized_elsewhere = False
        self._storage = storage
        #: Set once the connection is up (see the class docstring); never cleared, as
        #: each connection attempt has its own session.
        self.serving = False
        #: Set when a request of the live session found its tokens refused: this
        #: session's remaining requests go out as they are, without another refresh.
        self.refused = False
        self._on_authorization_url = on_authorization_url
        self._on_tokens_refused = on_tokens_refused
        self.provider = OAuthClientProvider(
            server_url=server_url,
            client_metadata=OAuthClientMetadata(
                redirect_uris=[AnyUrl(redirect_uri)],
                token_endpoint_auth_method="none",
                grant_types=["authorization_code", "refresh_token"],
                response_types=["code"],
                client_name=CLIENT_NAME,
                scope=scope,
            ),
            storage=storage,
            redirect_handler=self._redirect,
            callback_handler=self._callback,
        )
        refresh_early(self.provider, storage)
        self._never_wait_in_a_request()

    def _never_wait_in_a_request(self) -> None:
        """Wrap the provider's flow (cluster mode's included) as the class docstring says."""
        flow = self.provider._auth_flow

        async def auth_flow(
            request: httpx2.Request,
        ) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
            if self.refused:  # e.g. the session's closing DELETE: no further refresh
                yield request
                return
            may_refresh = True
            while True:
                inner = flow(request)
                try:
                    outgoing = await inner.__anext__()
                    while True:
                        incoming = yield outgoing
                        if self.serving and outgoing is request and needs_user(incoming):
                            break
                        outgoing = await inner.asend(incoming)
                except StopAsyncIteration:
                    return
                finally:
                    await inner.aclose()
                context = self.provider.context
                if may_refresh and incoming.status_code == 401 and context.can_refresh_token():
                    # Refused before its time (revoked, or the server's clock): refresh
                    # first, as mcp-hub does, then send the request once more.
                    may_refresh = False
                    expire_now(context)
                    continue
                log.warning("%s refused the hub's tokens: authorize it again", self.name)
                self.refused = True
                self._on_tokens_refused()
                return  # the request gets the 401; the flow is closed unasked

        self.provider._auth_flow = auth_flow  # type: ignore[method-assign]

    async def _redirect(self, url: str) -> None:
        state = parse_qs(urlparse(url).query).get("state", [None])[0]
        self.pending = PendingAuthorization(url=url, state=state)
        log.info("%s needs authorization: %s", self.name, url)
        await self._on_authorization_url(url)

    async def _callback(self) -> AuthorizationCodeResult:
        """The user's redirect; in cluster mode, unless another node's user authorizes
        first (the attempt then ends: :class:`~tornadohub.upstreams.core.AuthorizedElsewhere`)."""
        pending = self.pending
        if pending is None:  # pragma: no cover - the SDK always redirects first
            raise RuntimeError("no authorization in progress")
        poll = SHARED_TOKENS_POLL_SECONDS if self._storage.store.shared is not None else None
        try:
            while True:
                done, _ = await asyncio.wait({pending.callback}, timeout=poll)
                if done:
                    return pending.callback.result()
                if await self._storage.authorized_elsewhere():
                    self.authorized_elsewhere = True
                    raise HubError(f"{self.name} was authorized on another node")
        finally:
            self.pending = None

    def complete(self, code: str | None, state: str | None, iss: str | None = None) -> None:
        """Resume the waiting flow with the redirect's ``code`` (and matching ``state``)."""
        pending = self.pending
        if pending is None or pending.callback.done():
            raise HubError(
                f"No authorization in progress for server '{self.name}'",
                code="OAUTH_ERROR",
                data={"server": self.name},
                status=409,
            )
        if not code:
            raise ValidationError("Missing code parameter", data={"field": "code"})
        if pending.state is not None and state != pending.state:
            raise ValidationError(
                "State parameter mismatch", code="OAUTH_STATE_MISMATCH", data={"server": self.name}
            )
        pending.callback.set_result(AuthorizationCodeResult(code=code, state=state, iss=iss))


def open_browser(url: str) -> bool:
    """Open *url* on the hub's own desktop, only when there is one (never on a server)."""
    import sys
    import webbrowser

    if os.environ.get("MCP_HUB_NO_BROWSER"):
        return False
    has_display = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if not (has_display or sys.platform == "darwin"):
        return False
    try:
        return webbrowser.open(url)
    except webbrowser.Error:
        return False


def redirect_uri_for(port: int, name: str) -> str:
    """mcp-hub's redirect URI: always ``localhost`` (hence the manual callback route)."""
    return f"http://localhost:{port}/api/oauth/callback?server_name={quote(name, safe='')}"


def parse_callback_url(url: str) -> dict[str, str | None]:
    """``code``, ``state``, ``server_name`` (and ``iss``) from a pasted redirect URL."""
    query = parse_qs(urlparse(url).query)
    return {key: query.get(key, [None])[0] for key in ("code", "state", "server_name", "iss")}
