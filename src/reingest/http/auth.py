"""Who may call the server: an API key in ``X-Gu-Media-Key`` (Grid's header), or a session
cookie the dashboard's login form sets, because a browser cannot add headers to a form post.

Keys are compared in constant time against every configured key. The session cookie is a
random session id and its expiry, HMAC-signed under a secret made at start-up; the server keeps
the live session ids, so logging out ends a session for good (and restarting the server, e.g. to
change keys, ends every one). It is HttpOnly and SameSite=Strict, so another site's form cannot
carry it (our CSRF defence); posts that do carry it, and the login form's post, must come from
our own origin. A cookie of any shape is just "no session": parsing it never fails.
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
        #: live sessions: id → expiry (epoch seconds)
        self._sessions: dict[str, int] = {}

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
        moment = time.time() if now is None else now
        self._forget_expired(moment)
        session_id = secrets.token_hex(16)
        expiry = int(moment + SESSION_SECONDS)
        self._sessions[session_id] = expiry
        text = f"{session_id}.{expiry}"
        return f"{text}.{self._sign(text)}"

    def valid_session(self, token: str | None, now: float | None = None) -> bool:
        session_id = self._session_id(token)
        if session_id is None:
            return False
        expiry = self._sessions.get(session_id)
        return expiry is not None and expiry > (time.time() if now is None else now)

    def end_session(self, token: str | None) -> None:
        """Logout: the session id is forgotten, so its cookie is worthless from now on."""
        session_id = self._session_id(token)
        if session_id is not None:
            self._sessions.pop(session_id, None)

    def _session_id(self, token: str | None) -> str | None:
        """The id of a cookie this server signed, or None for anything else."""
        if not token or not token.isascii() or token.count(".") != 2:
            return None
        session_id, expiry, signature = token.split(".")
        if not hmac.compare_digest(signature, self._sign(f"{session_id}.{expiry}")):
            return None
        return session_id

    def _forget_expired(self, now: float) -> None:
        for session_id, expiry in list(self._sessions.items()):
            if expiry <= now:
                del self._sessions[session_id]

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
