"""CORS, for browser apps served from other origins: `[http] cors_origins` (empty, the default:
off, and browsers refuse cross-origin calls).

quart-cors adds the headers after the error handlers have run, so errors (401, 404, 429, ...)
carry them too and the browser app can read them; preflight requests (OPTIONS) are Quart's
automatic OPTIONS responses, which no `require` guards. WebSockets are left out: browsers do not
apply CORS to them, and every socket authenticates with a token anyway.
"""

from __future__ import annotations

from quart import Quart
from quart_cors import cors, cors_exempt

# Response headers a browser app may read besides the CORS-safelisted ones.
EXPOSED_HEADERS = [
    "X-Request-ID", "traceparent", "API-Version", "Retry-After", "WWW-Authenticate",
    "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset",
    "X-Total-Count", "X-Page", "X-Per-Page",
]
PREFLIGHT_CACHE_SECONDS = 600  # browsers cap it (Chrome: 2 h, Firefox: 24 h)


def install(app: Quart, hub) -> None:
    """Call once every route is mounted (WebSocket routes are exempted one by one)."""
    origins = hub.settings.http.cors_origins
    if not origins:
        return
    cors(app, allow_origin=origins, expose_headers=EXPOSED_HEADERS, max_age=PREFLIGHT_CACHE_SECONDS)
    for rule in app.url_map.iter_rules():
        if rule.websocket:
            cors_exempt(app.view_functions[rule.endpoint])
