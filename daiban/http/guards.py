"""Guards in front of every route: where the API may be reached from, and how its answers are
cached.

- In development the API serves only loopback ``Host`` names: a page on another site whose name
  was rebound to 127.0.0.1 (DNS rebinding) gets a 421 instead of the API.
- With a public or guessable JWT secret (the development default), the API answers only on a
  loopback listener: ``daiban serve --host 0.0.0.0`` with the development secret would let anyone
  on the network mint any token. The settings refuse such a ``DAIBAN_API_HOST``; this catches a
  host given on the command line too.
- Answers to a request with a token, and every codec answer, may carry residents in the clear:
  ``Cache-Control: no-store`` keeps them out of shared and browser caches.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from daiban.core.settings import Settings, is_loopback
from daiban.http.problems import Problem

NO_STORE = "no-store"


class MisdirectedRequest(Problem):
    status, slug, title = 421, "misdirected-request", "Not served under this host name"


class UnsafeListener(Problem):
    status, slug, title = 503, "unsafe-listener", "Refusing to serve with a public secret"


def host_name(headers: Headers) -> str:
    return urlsplit("//" + headers.get("host", "")).hostname or ""


class Guards:
    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.development = settings.environment == "development"
        self.placeholder_secret = settings.placeholder_secret

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            await refusal.response(scope.get("path"))(scope, receive, send)
            return
        sensitive = "authorization" in headers or scope.get("path", "").startswith("/codec/")

        async def send_no_store(message: Message) -> None:
            if message["type"] == "http.response.start" and sensitive:
                MutableHeaders(scope=message)["Cache-Control"] = NO_STORE
            await send(message)

        await self.app(scope, receive, send_no_store)

    def _refusal(self, scope: Scope, headers: Headers) -> Problem | None:
        server = scope.get("server")
        if self.placeholder_secret and server and not is_loopback(str(server[0])):
            return UnsafeListener(
                "the API listens on a non-loopback address with the development JWT secret; "
                "set DAIBAN_JWT_SECRET"
            )
        if self.development and not is_loopback(host_name(headers)):
            return MisdirectedRequest("in development the API answers loopback host names only")
        return None
