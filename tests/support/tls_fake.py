"""The fake API over TLS on 127.0.0.1, its certificate from a throwaway CA (trustme)."""

from __future__ import annotations

import ssl
import threading
import typing as t
from contextlib import contextmanager

from tap_crescendo.fake_api.server import HOST
from tap_crescendo.fake_api.transport import HttpServer

if t.TYPE_CHECKING:
    import socket
    from collections.abc import Callable, Iterator

    import trustme

    from tap_crescendo.fake_api.exchange import Answer, ApiRequest


class TlsServer(HttpServer):
    """The fake's HTTP server behind TLS; counts the TCP connections it accepts."""

    def __init__(
        self,
        address: tuple[str, int],
        application: Callable[[ApiRequest], Answer],
        context: ssl.SSLContext,
    ) -> None:
        self.context = context
        self.connections = 0
        #: The client port of each accepted connection, in order.
        self.client_ports: list[int] = []
        super().__init__(address, application)

    def get_request(self) -> tuple[socket.socket, t.Any]:
        """Accept a connection and count it; its handshake happens in its own thread."""
        connection, address = super().get_request()
        self.connections += 1
        self.client_ports.append(address[1])
        return self.context.wrap_socket(
            connection, server_side=True, do_handshake_on_connect=False
        ), address

    def finish_request(self, request: t.Any, client_address: t.Any) -> None:
        """Shake hands, then serve; a client that refuses the certificate ends here."""
        try:
            request.do_handshake()
        except (ssl.SSLError, OSError):
            return
        super().finish_request(request, client_address)


@contextmanager
def serve_tls(
    application: Callable[[ApiRequest], Answer],
    ca: trustme.CA,
    *,
    names: tuple[str, ...] = (HOST, "localhost"),
) -> Iterator[tuple[str, TlsServer]]:
    """Serve `application` on 127.0.0.1 over TLS, with a certificate for `names` from `ca`."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(context)
    server = TlsServer((HOST, 0), application, context)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"https://{HOST}:{server.server_port}", server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
