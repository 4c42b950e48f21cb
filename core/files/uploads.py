"""A multipart/form-data upload streamed from the request straight into the store.

    @bp.post("/api/v1/tickets/<ticket_id>/attachments")
    @require("support.write")
    @max_body(lambda hub: 10 * 1024 * 1024 + 64 * 1024)      # the body: the file and the form around it
    async def attach(ticket_id):
        info = await save_upload(purpose="support.attachment", owner_id=ticket_id, max_bytes=10 * 1024 * 1024)

Quart's own form parsing spools the whole body before the view sees a byte; here the body is
decoded as it arrives (werkzeug's sans-IO MultipartDecoder) and the file part's data goes on to
`save_file`, which stops at its `max_bytes`. The body as a whole is counted too: a chunked body
(no Content-Length, which Quart cannot bound in advance) past the route's limit is 413.
"""

from __future__ import annotations

from collections import deque
from typing import Any, AsyncIterator, Iterable

from quart import current_app, request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.http import parse_options_header
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData

from core.files.service import FileInfo, save_file
from core.http.auth import current_principal
from core.kernel.errors import HubError, validation_error

PIECE_BYTES = 64 * 1024  # the decoder is fed this much at a time, so its buffer stays small
FIELD_BYTES = 64 * 1024  # a form field beside the file
MAX_PARTS = 32


class _Body:
    """The request body's multipart events, read as they are needed."""

    def __init__(self, boundary: bytes, limit: int | None) -> None:
        self.decoder = MultipartDecoder(boundary, max_form_memory_size=4 * PIECE_BYTES, max_parts=MAX_PARTS)
        self.body = request.body.__aiter__()
        self.pieces: deque[bytes] = deque()
        self.received = 0
        self.limit = limit

    async def next_event(self) -> Any:
        while True:
            try:
                event = self.decoder.next_event()
            except ValueError as error:  # cut short, or not multipart after all
                raise validation_error("body", f"malformed multipart/form-data: {error}") from None
            if not isinstance(event, NeedData):
                return event
            if not self.pieces:
                try:
                    chunk = await self.body.__anext__()
                except StopAsyncIteration:
                    self.decoder.receive_data(None)
                    continue
                self.received += len(chunk)
                if self.limit is not None and self.received > self.limit:
                    raise RequestEntityTooLarge()
                self.pieces.extend(chunk[i:i + PIECE_BYTES] for i in range(0, len(chunk), PIECE_BYTES))
                if not self.pieces:
                    continue
            self.decoder.receive_data(self.pieces.popleft())

    async def part_data(self) -> AsyncIterator[bytes]:
        """The data of the part just started, up to its end."""
        while True:
            event = await self.next_event()
            if not isinstance(event, Data):
                raise validation_error("body", "malformed multipart/form-data")
            if event.data:
                yield event.data
            if not event.more_data:
                return


async def save_upload(*, field: str = "file", purpose: str = "upload", owner_id: Any = None, shared: bool = True,
                      allowed_types: Iterable[str] | None = None, max_bytes: int | None = None) -> FileInfo:
    """Store the file sent in the current request's multipart/form-data part `field`, for the
    caller's organization and as theirs (see `save_file` for the checks and refusals). 415 when
    the body is not multipart/form-data, 400 when it has no such file part."""
    kind, options = parse_options_header(request.headers.get("Content-Type", ""))
    boundary = options.get("boundary", "")
    if kind != "multipart/form-data" or not boundary:
        raise HubError("UNSUPPORTED_MEDIA_TYPE", "Send the file as multipart/form-data", {"field": "Content-Type"})
    principal = current_principal()
    # the route's own bound (core.max_body), else the Hub's [http] max_body_bytes
    limit = current_app.body_limit_for(request.path, request.method) or request.max_content_length
    body = _Body(boundary.encode("latin-1"), limit)
    while True:
        event = await body.next_event()
        if isinstance(event, Epilogue):
            raise validation_error(field, "required: a file part of the multipart/form-data body")
        if isinstance(event, File) and event.name == field:
            return await save_file(
                principal.org_id, body.part_data(), name=event.filename, purpose=purpose, owner_id=owner_id,
                shared=shared, content_type=event.headers.get("Content-Type"), allowed_types=allowed_types,
                max_bytes=max_bytes, created_by=principal.user_id)
        if isinstance(event, (Field, File)):  # another part: read past it
            size = 0
            async for data in body.part_data():
                size += len(data)
                if isinstance(event, Field) and size > FIELD_BYTES:
                    raise validation_error(event.name or "body", f"a form field of more than {FIELD_BYTES} bytes")
