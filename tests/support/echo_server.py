"""A hostile API on 127.0.0.1: each answer is built from the request, e.g. to echo the key."""

from __future__ import annotations

import json
import threading
import typing as t
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

if t.TYPE_CHECKING:
    from collections.abc import Iterator


@dataclass
class Reply:
    """An answer: status, reason phrase (the standard one if None), headers and body."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    reason: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def envelope(code: str, message: str) -> bytes:
    """The API's error body, any text JSON-encoded."""
    return json.dumps({"code": code, "message": message}).encode()


def page(next_cursor: str | None) -> bytes:
    """A 200 body with no rows and `next_cursor`."""
    return json.dumps({"total": 0, "cursor": {"next": next_cursor}, "data": []}).encode()


@dataclass
class Asked:
    """What an answer may echo: the request's path and query, and its Authorization header."""

    path: str
    auth: str


#: The same reply to every request, or one built from what was asked.
Answer = Reply | t.Callable[[Asked], Reply]


@contextmanager
def echo_api(answer: Answer) -> Iterator[str]:
    """Serve `answer` to every GET; yield the base URL."""

    class Echo(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked = Asked(self.path, self.headers.get("Authorization", ""))
            reply = answer if isinstance(answer, Reply) else answer(asked)
            self.send_response(reply.status, reply.reason)
            headers = {"Content-Type": reply.content_type, **reply.headers}
            for name, value in {**headers, "Content-Length": str(len(reply.body))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(reply.body)

        def log_message(self, format: str, *args: t.Any) -> None:
            """Keep the test's output for the tap."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
