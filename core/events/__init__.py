"""Events: the bus (`emit`), the WebSocket gateway, signed webhooks, and the SSRF guard that
every user-given URL passes."""
