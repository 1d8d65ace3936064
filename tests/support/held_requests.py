"""A fake API that holds one request of a tenant until the test lets it go.

While a request is held, the process that sent it is at a known point of its run (mid-run,
after every tenant before that one), so a test can act then (kill it, start another) without
waiting for time to pass.
"""

from __future__ import annotations

import threading
import typing as t

from tap_crescendo.fake_api import FakeCrescendo
from tap_crescendo.fake_api.routes import match_route

if t.TYPE_CHECKING:
    from tap_crescendo.fake_api.exchange import Answer, ApiRequest

#: Longest wait, in seconds, for a request to come, or to be let go.
PATIENCE = 600


class Hold:
    """The next export request of `tenant`: it arrives, is let go, then is answered."""

    def __init__(self, tenant: str) -> None:
        self.tenant = tenant
        self.arrived = threading.Event()
        self.released = threading.Event()
        self.answered = threading.Event()

    def wait(self) -> None:
        """Wait until the request is held; fail if it never comes."""
        assert self.arrived.wait(PATIENCE), f"no request of tenant {self.tenant!r} came"

    def release(self) -> None:
        """Let the request go and wait until it is answered (and recorded)."""
        self.released.set()
        assert self.answered.wait(PATIENCE), "the held request was never answered"


class HoldingFake(FakeCrescendo):
    """`FakeCrescendo`, which can hold the next export request of a tenant."""

    def __init__(self, **kwargs: t.Any) -> None:
        super().__init__(**kwargs)
        self._holds_lock = threading.Lock()
        self._holds: list[Hold] = []

    def hold_next(self, tenant: str) -> Hold:
        """Hold the next export request of `tenant` until `Hold.release`."""
        hold = Hold(tenant)
        with self._holds_lock:
            self._holds.append(hold)
        return hold

    def handle(self, request: ApiRequest) -> Answer:
        """Answer the request, once let go if it is the one a hold waits for."""
        route = match_route(request.path)
        with self._holds_lock:
            hold = next((h for h in self._holds if route and h.tenant == route.tenant), None)
            if hold is not None:
                self._holds.remove(hold)
        if hold is None:
            return super().handle(request)
        hold.arrived.set()
        hold.released.wait(PATIENCE)
        try:
            return super().handle(request)
        finally:
            hold.answered.set()
