"""HTTP/1.1 on 127.0.0.1: turns each request into an `ApiRequest` and writes back the `Answer`.

The answer is written after its `delay`, in the request's own thread; a dropped answer closes
the connection without writing anything.
"""

from __future__ import annotations

import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from tap_crescendo.fake_api.exchange import ApiRequest

if TYPE_CHECKING:
    from collections.abc import Callable

    from tap_crescendo.fake_api.exchange import Answer


class HttpServer(ThreadingHTTPServer):
    """A threading HTTP server that hands every request to one application callable."""

    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], application: Callable[[ApiRequest], Answer]
    ) -> None:
        self.application = application
        super().__init__(address, RequestHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore clients that hang up; report anything else as the standard server does."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class RequestHandler(BaseHTTPRequestHandler):
    """Parses the request line, query and headers; answers with keep-alive and no logging."""

    protocol_version = "HTTP/1.1"
    server_version = "FakeCrescendo/1.0"
    sys_version = ""
    disable_nagle_algorithm = True
    server: HttpServer

    def do_GET(self) -> None:
        """Answer a GET (every method is answered the same way; the application decides)."""
        received_at = time.monotonic()
        self._discard_body()
        path, _, query = self.path.partition("?")
        request = ApiRequest(
            method=self.command,
            path=path,
            query=dict(parse_qsl(query, keep_blank_values=True)),
            headers=dict(self.headers.items()),
            received_at=received_at,
            client_port=self.client_address[1],
        )
        answer = self.server.application(request)
        if answer.delay:
            time.sleep(answer.delay)
        if answer.drop:
            self.close_connection = True  # closed with nothing written: the client sees EOF
            return
        self.send_response(answer.status)
        for name, value in answer.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def log_message(self, _format: str, *_args: Any) -> None:
        """Log nothing: tests, demos and benchmarks keep stderr for their own output."""

    def _discard_body(self) -> None:
        """Read a request body announced by Content-Length, so keep-alive stays in step."""
        length = self.headers.get("Content-Length", "")
        if length.isascii() and length.isdigit():
            self.rfile.read(int(length))
