"""A forward proxy on 127.0.0.1 for tests: http GETs by absolute URI, https by CONNECT tunnels.

It records what it was asked, and the local port of each connection it opened upstream, so a
test can tell that every connection a server accepted came through it.
"""

from __future__ import annotations

import http.client
import selectors
import socket
import threading
import typing as t
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

if t.TYPE_CHECKING:
    from collections.abc import Iterator

#: Headers that concern one hop only, never forwarded.
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authorization", "proxy-connection", "te"}


@dataclass(frozen=True)
class Proxied:
    """What the proxy was asked: a method, its target (absolute URI or host:port), headers."""

    method: str
    target: str
    headers: dict[str, str]
    #: The local port of the connection the proxy opened to the server.
    upstream_port: int


class ForwardProxy(ThreadingHTTPServer):
    """A threading proxy server that records every request it forwards."""

    daemon_threads = True

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: list[Proxied] = []
        super().__init__(("127.0.0.1", 0), ProxyHandler)

    @property
    def seen(self) -> list[Proxied]:
        """A copy of what the proxy forwarded, in order."""
        with self._lock:
            return list(self._seen)

    def record(self, proxied: Proxied) -> None:
        """Note one forwarded request."""
        with self._lock:
            self._seen.append(proxied)


class ProxyHandler(BaseHTTPRequestHandler):
    """Forwards a GET for an absolute URI, or tunnels a CONNECT; logs nothing."""

    protocol_version = "HTTP/1.1"
    server: ForwardProxy

    def do_GET(self) -> None:
        """Forward the request upstream on a new connection and relay the answer."""
        url = urlsplit(self.path)
        assert url.hostname, f"not an absolute URI: {self.path}"
        upstream = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        upstream.request("GET", url.path + (f"?{url.query}" if url.query else ""), headers=headers)
        assert upstream.sock is not None
        port = upstream.sock.getsockname()[1]
        answer = upstream.getresponse()
        body = answer.read()
        upstream.close()
        self.server.record(Proxied("GET", self.path, dict(self.headers.items()), port))
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in {*HOP_BY_HOP, "content-length", "transfer-encoding"}:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_CONNECT(self) -> None:
        """Open a tunnel to `host:port` and copy bytes both ways until one side closes."""
        host, _, port = self.path.rpartition(":")
        upstream = socket.create_connection((host, int(port)), timeout=30)
        local_port = upstream.getsockname()[1]
        self.server.record(Proxied("CONNECT", self.path, dict(self.headers.items()), local_port))
        self.send_response(200, "Connection established")
        self.end_headers()
        with upstream:
            _relay(self.connection, upstream)
        self.close_connection = True

    def log_message(self, _format: str, *_args: t.Any) -> None:
        """Log nothing."""


def _relay(one: socket.socket, other: socket.socket) -> None:
    """Copy bytes between two sockets until either closes."""
    with selectors.DefaultSelector() as selector:
        selector.register(one, selectors.EVENT_READ, other)
        selector.register(other, selectors.EVENT_READ, one)
        while True:
            for key, _ in selector.select(timeout=60):
                try:
                    data = t.cast("socket.socket", key.fileobj).recv(65536)
                    if not data:
                        return
                    key.data.sendall(data)
                except OSError:
                    return


@contextmanager
def forward_proxy() -> Iterator[tuple[str, ForwardProxy]]:
    """Run a forward proxy on 127.0.0.1 in a daemon thread; yield its URL and the server."""
    proxy = ForwardProxy()
    thread = threading.Thread(target=proxy.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield f"http://127.0.0.1:{proxy.server_port}", proxy
    finally:
        proxy.shutdown()
        proxy.server_close()
        thread.join()
