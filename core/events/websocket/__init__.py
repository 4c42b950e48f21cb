"""The WebSocket gateway: events pushed to browsers and services as they happen.

Sockets
    /ws                  every event of the caller's organization (seed 004 "WebSocket Events")
    /ws/notifications    notification and announcement events only (seed 001)
    plugin topic sockets a plugin's own websocket route calls `serve_topic(...)` (seed 001's
                         /ws/executions/{id}, collaboration sockets)

Authentication (one of, checked in this order)
    `Authorization: Bearer <JWT or API key>` or `X-API-Key: <key>` on the upgrade request;
    `?token=<JWT or API key>` in the URL (handy for browsers, but URLs end up in logs);
    a first message `{"type": "auth", "token": "..."}` within `websocket.auth_timeout_seconds`.
    The socket is accepted first, so every refusal is a message plus a close code that any
    client (including a browser) can read: `{"type": "error", "error": {code, message,
    details, request_id, timestamp}}` (the Hub's error envelope; request_id is the
    connection's id), then the close code below. On success the server sends
    `{"type": "connected", "data": {"connection_id", "user_id", "org_id", "node", "events"},
    "timestamp"}`; events emitted after that message are delivered.

Delivery rule (who gets an event)
    An event emitted with `core.events.emit(org_id, type, data)` reaches a socket only if
    1. the socket's principal belongs to `org_id`;
    2. the principal holds `events.read` (viewers do; an API key needs a scope that grants it),
       the permission the event type was registered with in the catalogue (`lead.created` ->
       `crm.leads.read`), and every permission that `restrict_events(pattern, permission)`
       attached to the type;
    3. if `data` carries a non-null `user_id`, the principal is that user (API keys act as
       their creator);
    4. the socket's topic accepts it: /ws takes every type, /ws/notifications the types
       NOTIFICATION_TYPES, a plugin topic its `types` and `match` (equal `data` fields); and
       the client's own filter, set with `{"type": "subscribe", "events": ["lead.*", ...]}`.
    The message is `event.to_message()`: `{"type", "data", "timestamp"}`; on /ws/notifications
    a notification event's message is named `notification` as seed 001 names it (its own type
    in `event`: topics.seed_notification).
    Credentials are re-checked at every keep-alive ping: a revoked token, a removed user or
    key, or an expired JWT closes the socket (4401); losing `events.read` closes it (4403).
    Send `{"type": "auth", "token": "<new JWT>"}` before expiry to renew: the answer is
    `{"type": "authenticated"}`, or an error message (the socket keeps its current token);
    a token of another user closes the socket (4403).

Keep-alive
    The client may send `{"type": "ping"}` at any time and gets `{"type": "pong", "timestamp"}`.
    Every `ping_interval_seconds` the server sends `{"type": "ping", "timestamp"}`; a client
    must then send something (normally `{"type": "pong"}`) within `pong_timeout_seconds`, or
    the socket is taken for dead and closed with 4408.

Close codes
    4401 authentication failed, expired or revoked     4403 not allowed (events.read, topic)
    4404 topic not found / plugin off for the org        4408 keep-alive timeout
    4429 connection limit of the organization's plan     1009 client message too large
    1013 client too slow (its send queue is full)        1011 server error
    A stopping server closes what is still open after hypercorn's graceful timeout (1011 or
    1001): clients should reconnect with back-off on any close they did not ask for.

Connection limits
    Open sockets per organization, by `Organization.plan`: `[websocket.connection_limits]`
    (seed 004: free/starter 5, pro 25, enterprise 100), or a plugin's `hub_plan_limits(plan)`
    entry `"websocket_connections"`, which wins. With Redis they are counted across every
    process in a hash per organization (one field per socket, holding a lease that each
    process renews every LEASE_RENEW_SECONDS, so a killed process's sockets free themselves
    within LEASE_SECONDS); without Redis, per process. If Redis fails during the check the
    socket is let in (fail open) and the failure is logged and counted.

Across processes
    With Redis, every event is published on one channel (CHANNEL, per Redis database number)
    and each process runs one subscriber (started before serving, stopped after) that
    delivers to its own sockets. All events take that path, so every socket sees the events
    of an organization in the order they were published, whichever process emitted them.
    If publishing fails the event still reaches the emitting process's sockets; events
    published while a subscriber reconnects to Redis are lost to its sockets (no replay).
    Without Redis events stay in the emitting process: run one process, or configure Redis.
"""
