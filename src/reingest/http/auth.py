"""Who may call the server: an API key in ``X-Gu-Media-Key`` (Grid's header), or a session
cookie the dashboard's login form sets, because a browser cannot add headers to a form post.

Keys are compared in constant time against every configured key. The session cookie is an
HMAC-signed expiry time under a secret made at start-up (restarting the server, e.g. to change
keys, ends every session); it is HttpOnly and SameSite=Strict, so another site's form cannot
carry it (our CSRF defence), and posts that do carry it must come from our own origin.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Sequence
from urllib.parse import urlsplit

from fastapi import Request, Security
from fastapi.security import APIKeyHeader

from ..errors import ConfigurationError
from .errors import ApiError, LoginRequired

API_KEY_HEADER = "X-Gu-Media-Key"
SESSION_COOKIE = "reingest_session"
SESSION_SECONDS = 12 * 3600
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

#: declares the header in the OpenAPI document, so /docs can send it ("Authorize")
api_key_header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False)


class Auth:
    def __init__(self, keys: Sequence[str], *, insecure_no_auth: bool = False) -> None:
        if not keys and not insecure_no_auth:
            raise ConfigurationError(
                "no API keys configured: set REINGEST_API_KEYS (comma-separated), "
                "or explicitly allow unauthenticated access"
            )
        self._keys = [key.encode() for key in keys]
        self.insecure_no_auth = insecure_no_auth
        self._secret = secrets.token_bytes(32)

    def valid_key(self, candidate: str | None) -> bool:
        """Constant time: every key is compared, whichever matches."""
        if not candidate:
            return False
        given = candidate.encode()
        matched = False
        for key in self._keys:
            matched |= hmac.compare_digest(given, key)
        return matched

    def new_session(self, now: float | None = None) -> str:
        expiry = str(int((time.time() if now is None else now) + SESSION_SECONDS))
        return f"{expiry}.{self._sign(expiry)}"

    def valid_session(self, token: str | None, now: float | None = None) -> bool:
        if not token or "." not in token:
            return False
        expiry, signature = token.split(".", 1)
        if not hmac.compare_digest(signature, self._sign(expiry)):
            return False
        return expiry.isdigit() and int(expiry) > (time.time() if now is None else now)

    def _sign(self, text: str) -> str:
        return hmac.new(self._secret, text.encode(), hashlib.sha256).hexdigest()

    def check(self, request: Request, header_key: str | None) -> bool:
        """True when the request may proceed; a cookie-authenticated post from another origin
        is refused even though SameSite=Strict should already keep it out."""
        if self.insecure_no_auth or self.valid_key(header_key):
            return True
        if not self.valid_session(request.cookies.get(SESSION_COOKIE)):
            return False
        if request.method in UNSAFE_METHODS and not same_origin(request):
            raise ApiError(403, "cross-origin", "cross-origin form posts are not accepted")
        return True


def same_origin(request: Request) -> bool:
    """Origin (or Referer) names this host; requests without either (not from a browser
    form) are left to the SameSite cookie."""
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source or source == "null":
        return source is None
    return urlsplit(source).netloc == request.headers.get("host")


def require_key(request: Request, key: str | None = Security(api_key_header)) -> None:
    """Dependency of every API route: 401 without a valid key or session."""
    auth: Auth = request.app.state.auth
    if not auth.check(request, key):
        raise ApiError(401, "unauthorised", f"a valid API key is required in {API_KEY_HEADER}")


def require_login(request: Request, key: str | None = Security(api_key_header)) -> None:
    """Dependency of dashboard pages: a browser without a session goes to the login form."""
    auth: Auth = request.app.state.auth
    if not auth.check(request, key):
        raise LoginRequired(request.url.path)
