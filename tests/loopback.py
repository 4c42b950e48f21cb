"""A small HTTP server on 127.0.0.1 for fakes of providers' APIs: a fake is one function from the
request to the answer, and the server runs it in a thread of its own (the Hub's async clients
reach it like the real thing).

    def answer(request: FakeRequest) -> Reply | tuple:
        if request.headers.get("Authorization") != "Bearer key":
            return 401, {"errors": [{"message": "unauthorized"}]}
        return 202, None, {"X-Message-Id": "abc"}

    server = LoopbackServer(answer)       # started; server.url is http://127.0.0.1:<port>
    ...
    server.close()

An answer is (status, body) or (status, body, headers): a dict or list body goes as JSON,
bytes or str as they are (text/plain), None as an empty body. Every request is kept in
`server.requests` (for assertions).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, parse_qsl, urlsplit


@dataclass
class FakeRequest:
    method: str
    path: str  # without the query string
    query: dict[str, list[str]]
    headers: dict[str, str]  # names lower-cased
    body: bytes
    extra: dict[str, Any] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        """An application/x-www-form-urlencoded body (the last value of a repeated field)."""
        return dict(parse_qsl(self.body.decode()))

    def form_lists(self) -> dict[str, list[str]]:
        """Every value of each field: form-encoded or multipart/form-data (files as their bytes)."""
        content_type = self.headers.get("content-type", "")
        if content_type.startswith("multipart/form-data"):
            from email import message_from_bytes, policy

            message = message_from_bytes(f"Content-Type: {content_type}\r\n\r\n".encode() + self.body,
                                         policy=policy.HTTP)
            fields: dict[str, list] = {}
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                value = part.get_payload(decode=True)
                if part.get_filename() is None:
                    value = value.decode()
                else:
                    value = (part.get_filename(), value, part.get_content_type())
                fields.setdefault(name, []).append(value)
            return fields
        return parse_qs(self.body.decode(), keep_blank_values=True)


Answer = Callable[[FakeRequest], tuple]


class LoopbackServer:
    def __init__(self, answer: Answer) -> None:
        self.requests: list[FakeRequest] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                request = FakeRequest(self.command, parts.path, parse_qs(parts.query),
                                      {name.lower(): value for name, value in self.headers.items()},
                                      self.rfile.read(length) if length else b"")
                server.requests.append(request)
                status, body, *rest = answer(request)
                headers = rest[0] if rest else {}
                if isinstance(body, (dict, list)):
                    data, content_type = json.dumps(body).encode(), "application/json"
                elif isinstance(body, str):
                    data, content_type = body.encode(), "text/plain; charset=utf-8"
                else:
                    data, content_type = body or b"", "application/octet-stream"
                self.send_response(status)
                headers = {"Content-Type": content_type, **headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle  # noqa: N815 (http.server's names)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
