"""The Quart application class of the Hub: Quart, with a bound on how long a view may take,
and JSON responses written by orjson."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from quart import Quart
from quart.json.provider import DefaultJSONProvider

from core.kernel.errors import HubError


class HubJSONProvider(DefaultJSONProvider):
    """The JSON provider with orjson writing compact output: a 50-lead list page in ~13 µs
    instead of ~245 µs, the same values a client parses (keys sorted; datetimes, dates, UUIDs,
    Decimals, pydantic values through the `default` of the provider it replaces, quart-schema's:
    see `replace`). Only non-ASCII
    text differs (UTF-8 instead of \\u escapes), and a NaN or infinity is null (valid JSON)
    instead of NaN. What orjson refuses (an integer over 64 bits, a
    non-string key) and indented output go through `json` as before. Parsing stays `json`'s:
    orjson would refuse request bodies that `json` accepts (integers over 64 bits)."""

    OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        if not kwargs or kwargs == {"separators": (",", ":")}:
            try:
                return orjson.dumps(obj, default=self.default, option=self.OPTIONS).decode()
            except orjson.JSONEncodeError:
                pass
        return super().dumps(obj, **kwargs)

    @classmethod
    def replace(cls, app: Quart) -> None:
        """Write `app`'s JSON with orjson, converting what JSON lacks as its provider did."""
        provider = cls(app)
        provider.default = app.json.default  # type: ignore[method-assign]
        app.json = provider


class HubApp(Quart):
    # Seconds a view may take before the client gets 504 REQUEST_TIMEOUT (None: no bound); set
    # by create_app from [http] request_timeout_seconds. Streamed bodies (SSE) are not bounded:
    # they are produced after the view returned.
    request_timeout: float | None = None

    def body_limit_for(self, path: str, method: str) -> int | None:
        """The body limit of the route at `path` when it declares one (core.max_body), else None."""
        from werkzeug.exceptions import HTTPException

        from core.http.errors import BODY_LIMIT_ATTRIBUTE

        try:
            endpoint, _ = self.url_map.bind("hub").match(path, method=method)
        except HTTPException:
            return None
        limit = getattr(self.view_functions.get(endpoint), BODY_LIMIT_ATTRIBUTE, None)
        return limit(self.extensions["hub"]) if callable(limit) else limit

    async def dispatch_request(self, request_context: Any = None) -> Any:
        if not self.request_timeout:
            return await super().dispatch_request(request_context)
        try:
            async with asyncio.timeout(self.request_timeout):
                return await super().dispatch_request(request_context)
        except TimeoutError:
            raise HubError("REQUEST_TIMEOUT", f"The request took longer than {self.request_timeout:g} s",
                           {"timeout_seconds": self.request_timeout}) from None
