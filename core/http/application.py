"""The Quart application class of the Hub: Quart, with a bound on how long a view may take."""

from __future__ import annotations

import asyncio
from typing import Any

from quart import Quart

from core.kernel.errors import HubError


class HubApp(Quart):
    # Seconds a view may take before the client gets 504 REQUEST_TIMEOUT (None: no bound); set
    # by create_app from [http] request_timeout_seconds. Streamed bodies (SSE) are not bounded:
    # they are produced after the view returned.
    request_timeout: float | None = None

    async def dispatch_request(self, request_context: Any = None) -> Any:
        if not self.request_timeout:
            return await super().dispatch_request(request_context)
        try:
            async with asyncio.timeout(self.request_timeout):
                return await super().dispatch_request(request_context)
        except TimeoutError:
            raise HubError("REQUEST_TIMEOUT", f"The request took longer than {self.request_timeout:g} s",
                           {"timeout_seconds": self.request_timeout}) from None
