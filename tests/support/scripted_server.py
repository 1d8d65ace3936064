"""A scripted API on 127.0.0.1 (or another loopback address): raw answers in order, each
request's headers kept, and answers that trickle or never come."""

from __future__ import annotations

import json
import select
import socket
import threading
import typing as t
from contextlib import contextmanager
from dataclasses import dataclass, field

if t.TYPE_CHECKING:
    from collections.abc import Iterator


@dataclass(frozen=True)
class Trickle:
    """Send `head` after `hold` seconds, then `piece` bytes of `body` every `every` seconds."""

    head: bytes
    body: bytes
    every: float
    hold: float = 0.0
    piece: int = 1

    @classmethod
    def of(cls, answer: bytes, *, every: float, pieces: int, hold: float = 0.0) -> Trickle:
        """An answer (see `http_answer`) whose body is sent in at most `pieces` pieces."""
        head, _, body = answer.partition(b"\r\n\r\n")
        piece = max(-(-len(body) // pieces), 1)  # rounded up: no more than `pieces` pieces
        return cls(head + b"\r\n\r\n", body, every, hold=hold, piece=piece)


#: Read the request and say nothing until the server stops.
SILENT = Trickle(b"", b"", 0.0)


def http_answer(status: int, body: bytes = b"", *, headers: dict[str, str] | None = None) -> bytes:
    """An HTTP/1.1 answer that closes its connection; `headers` replace (or, empty, remove)
    Content-Type and Content-Length."""
    fields = {"Content-Type": "application/json", "Content-Length": str(len(body))}
    fields.update(headers or {})
    lines = [f"HTTP/1.1 {status} Scripted", *(f"{k}: {v}" for k, v in fields.items() if v)]
    return "\r\n".join([*lines, "Connection: close", "", ""]).encode() + body


def page_body(rows: list[t.Any], next_cursor: t.Any = None, **envelope: t.Any) -> bytes:
    """A page's JSON body: `{total, cursor: {next}, data}`, any part replaced by `envelope`
    (or removed, given `...`)."""
    page = {"total": len(rows), "cursor": {"next": next_cursor}, "data": rows, **envelope}
    return json.dumps({name: part for name, part in page.items() if part is not ...}).encode()


@dataclass
class ScriptedApi:
    """Answers each request for bot conversations with the next of `answers` (the last one
    again once they run out), and VOC ones with an empty last page."""

    answers: list[bytes | Trickle]
    host: str = "127.0.0.1"
    #: The base URL, once serving.
    url: str = ""
    #: Each request's target (path and query) and headers (names lower-cased), in order.
    seen: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    #: For each trickled answer the client hung up on, how many bytes of its body it got.
    hung_up_after: list[int] = field(default_factory=list)
    stopped: threading.Event = field(default_factory=threading.Event)

    def answer(self, connection: socket.socket) -> None:
        """Read one request from `connection`, keep it, and send the next answer."""
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = connection.recv(65536)
            if not chunk:
                return
            received += chunk
        request_line, *header_lines = received.split(b"\r\n\r\n")[0].decode().split("\r\n")
        target = request_line.split(" ")[1]
        if "/voc" in target:
            connection.sendall(http_answer(200, page_body([])))
            return
        headers = dict(line.split(": ", 1) for line in header_lines)
        self.seen.append((target, {k.lower(): v for k, v in headers.items()}))
        script = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(script, bytes):
            connection.sendall(script)
            return
        if script.hold and not self._paused(connection, script.hold):
            return
        connection.sendall(script.head)
        for sent in range(0, len(script.body), script.piece):
            if not self._paused(connection, script.every):
                self.hung_up_after.append(sent)
                return
            connection.sendall(script.body[sent : sent + script.piece])
        self.stopped.wait()

    def _paused(self, connection: socket.socket, seconds: float) -> bool:
        """Wait `seconds`; False if the client hung up meanwhile, or the server stops."""
        hung_up, _, _ = select.select([connection], [], [], seconds)
        return not hung_up and not self.stopped.is_set()


@contextmanager
def scripted_api(*answers: bytes | Trickle, host: str = "127.0.0.1") -> Iterator[ScriptedApi]:
    """Serve `answers` on `host`, one connection per request; yield the server (see `url`)."""
    api = ScriptedApi(list(answers), host)
    listener = socket.create_server((host, 0))
    api.url = f"http://{host}:{listener.getsockname()[1]}"

    def serve(connection: socket.socket) -> None:
        with connection:
            try:
                api.answer(connection)
            except OSError:  # the tap gave up and hung up
                return

    def accept() -> None:
        while True:
            connection, _ = listener.accept()
            if api.stopped.is_set():
                connection.close()
                return
            threading.Thread(target=serve, args=(connection,), daemon=True).start()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield api
    finally:
        api.stopped.set()
        socket.create_connection(listener.getsockname()).close()  # wakes `accept`
        acceptor.join()
        listener.close()
