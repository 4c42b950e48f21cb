"""Browser sessions, for pages the Hub serves itself (the dashboard plugin): a person signs in
with the Hub's own accounts and the browser keeps only a signed cookie.

A browser session is a Hub session like an API login's: one refresh-token family (its refresh
token is never handed out), so logout, `revoke_all_sessions`, a removal or a deactivation end it
everywhere at once, by the same invalidation path as API tokens. The cookie names the family,
the user and the session's CSRF token, signed with the Hub's secret (itsdangerous, with a salt of
its own and the refresh lifetime as its maximum age); it carries no credential that works
anywhere else. Each request resolves it to the user's *current* principal (role changes count
at once) and to a short-lived access token of the family, minted by the process and reused
until shortly before it expires: the token with which pages call the Hub's own API and open its
WebSockets.

    session, cookie = await sign_in(email, password)        # INVALID_CREDENTIALS, 429 when throttled
    session = await browser_session(cookie)                  # None: missing, forged, expired, ended
    session.check_csrf(form["csrf_token"])                    # False: refuse the form
    await sign_out(session)

Setting the cookie (name, path, `HttpOnly`, `SameSite=Lax`, and `Secure` when
`served_over_https()`) is the caller's: it knows its mount.
"""

from __future__ import annotations

import hmac
import secrets
import time
import uuid
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

from quart import request

from core.http.client import _networks, _trusted, client_address
from core.kernel.errors import HubError
from core.kernel.hub import Hub, current_hub
from core.tenancy import accounts
from core.tenancy.models import RefreshToken, User
from core.tenancy.principals import Principal, principal_from_credential
from core.tenancy.security import now

_SALT = "hub.browser-session"
_RENEW_BEFORE_SECONDS = 120  # mint a new access token this long before the cached one expires


@dataclass(frozen=True)
class BrowserSession:
    family: uuid.UUID
    user_id: uuid.UUID
    csrf_token: str
    principal: Principal
    access_token: str  # short-lived, of this session: for the Hub's API and WebSockets

    def check_csrf(self, token: str | None) -> bool:
        """Whether a form's or header's CSRF token is this session's (constant time)."""
        return bool(token) and hmac.compare_digest(str(token).encode(), self.csrf_token.encode())


def _serializer(hub: Hub) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(hub.signing_key, salt=_SALT)


async def sign_in(email: str, password: str, hub: Hub | None = None) -> tuple[BrowserSession, str]:
    """Check the password (with the login throttling of `POST /api/auth/login`, counted per
    email and the request's client address) and start a session: the session and the value of
    its cookie. Raises HubError INVALID_CREDENTIALS (401) or RATE_LIMIT_EXCEEDED (429)."""
    hub = hub or current_hub()
    address = client_address(hub.settings.rate_limits.trusted_proxies)
    user = await accounts.login(hub, email, password, address)
    family = uuid.uuid4()
    await accounts.issue_tokens(hub, user, family)  # the family's row; its refresh token is dropped
    csrf = secrets.token_urlsafe(32)
    cookie = _serializer(hub).dumps({"f": family.hex, "u": str(user.id), "c": csrf})
    session = await _resolve(hub, family, user.id, csrf)
    if session is None:  # deactivated in between
        raise HubError("INVALID_CREDENTIALS", "Invalid email or password")
    return session, cookie


async def browser_session(cookie: str | None, hub: Hub | None = None) -> BrowserSession | None:
    """The session a cookie names, with the user's current principal; None when the cookie is
    missing, forged or older than the refresh lifetime, or the session has ended."""
    if not cookie:
        return None
    hub = hub or current_hub()
    try:
        data = _serializer(hub).loads(cookie, max_age=hub.settings.auth.refresh_token_days * 86400)
        family, user_id, csrf = uuid.UUID(data["f"]), uuid.UUID(data["u"]), str(data["c"])
    except (BadSignature, KeyError, TypeError, ValueError):
        return None
    return await _resolve(hub, family, user_id, csrf)


async def sign_out(session: BrowserSession, hub: Hub | None = None) -> None:
    """End the session in every process: its access tokens and its family are revoked."""
    hub = hub or current_hub()
    _tokens(hub).pop(session.family, None)
    await accounts.logout(hub, session.principal.token, None)


def served_over_https(hub: Hub | None = None) -> bool:
    """Whether the browser reached the Hub over https: the request's own scheme, or
    `X-Forwarded-Proto: https` from a trusted proxy (`[rate_limits] trusted_proxies`, the same
    list that decides whose X-Forwarded-For counts); from anyone else the header is ignored."""
    if request.scheme in ("https", "wss"):
        return True
    hub = hub or current_hub()
    networks = _networks(tuple(hub.settings.rate_limits.trusted_proxies))
    if not networks or not _trusted(request.remote_addr or "", networks):
        return False
    return request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower() == "https"


def _tokens(hub: Hub) -> dict[uuid.UUID, tuple[str, float]]:
    return hub.extensions.setdefault("browser_session_tokens", {})


async def _resolve(hub: Hub, family: uuid.UUID, user_id: uuid.UUID, csrf: str) -> BrowserSession | None:
    tokens = _tokens(hub)
    cached = tokens.get(family)
    if cached is None or cached[1] - _RENEW_BEFORE_SECONDS <= time.time():
        token = await _mint(hub, family, user_id)
        if token is None:
            tokens.pop(family, None)
            return None
        if len(tokens) > 10_000:
            tokens.clear()
        tokens[family] = cached = token
    try:  # the revocation lists, the user's current role: the same check as any API token
        principal = await principal_from_credential(cached[0], hub)
    except HubError:
        tokens.pop(family, None)
        return None
    if principal.user_id != user_id:
        return None
    return BrowserSession(family, user_id, csrf, principal, cached[0])


async def _mint(hub: Hub, family: uuid.UUID, user_id: uuid.UUID) -> tuple[str, float] | None:
    live = await RefreshToken.filter(family=family, user_id=user_id, revoked=False, expires_at__gt=now()).exists()
    user = await User.filter(id=user_id, is_active=True).first() if live else None
    if user is None:
        return None
    token, payload = accounts._access_token(hub, user, family)
    return token, float(payload["exp"])
