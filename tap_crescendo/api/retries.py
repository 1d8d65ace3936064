"""How the tap retries a transient failure: the SDK's backoff hooks, filled in."""

from __future__ import annotations

import math
import random
import sys
import threading
import time
import typing as t

from singer_sdk import RESTStream
from singer_sdk.exceptions import RetriableAPIError

from tap_crescendo.api.redaction import quoted
from tap_crescendo.api.responses import retry_after_seconds

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if t.TYPE_CHECKING:
    from collections.abc import Generator

    from backoff.types import Details

#: No single wait is longer than this, whatever the API's Retry-After says.
MAX_WAIT_SECONDS = 300.0


class SharedPause:
    """A moment before which no worker sends a request: one Retry-After slows them all."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._until = -math.inf  # a monotonic clock may read anything, even below zero

    def extend(self, seconds: float) -> None:
        """Hold every request back for at least `seconds` from now."""
        with self._lock:
            self._until = max(self._until, time.monotonic() + seconds)

    def wait(self) -> None:
        """Sleep until the pause is over, if one is on."""
        delay = self._until - time.monotonic()
        if delay > 0:
            time.sleep(delay)


class RetryPolicy(RESTStream[t.Any]):
    """Exponential backoff with jitter that never waits less than `Retry-After`."""

    #: The first wait, in seconds; each next one doubles it.
    backoff_base_seconds: t.ClassVar[float] = 1.0

    def __init__(self, **kwargs: t.Any) -> None:
        """Create the pause every worker honours before each request."""
        super().__init__(**kwargs)
        self.pause = SharedPause()

    @override
    def backoff_max_tries(self) -> int:
        """Tries per request: the first one and `max_retries` more."""
        return int(self.config["max_retries"]) + 1

    @override
    def backoff_wait_generator(self) -> Generator[float, t.Any, None]:
        """Yield base * 2**n seconds, raised to the answer's Retry-After, capped."""
        exception = yield 0.0  # backoff primes the generator; this value is unused
        attempt = 0
        while True:
            wait = self.backoff_base_seconds * 2**attempt
            response = getattr(exception, "response", None)
            asked = retry_after_seconds(response) if response is not None else None
            if asked is not None:
                wait = max(wait, asked)
                self.pause.extend(min(asked, MAX_WAIT_SECONDS))
            attempt += 1
            exception = yield min(wait, MAX_WAIT_SECONDS)

    @override
    def backoff_jitter(self, value: float) -> float:
        """Add up to 10% (at most 1 s) so workers spread out; never shorten the wait."""
        return value + min(value * 0.1, 1.0) * random.random()  # jitter, not crypto

    @override
    def backoff_handler(self, details: Details) -> None:
        """Log one line per retry: what failed, which try, how long the wait."""
        error = details.get("exception")
        reason = str(error) if isinstance(error, RetriableAPIError) else repr(error)
        self.logger.warning(
            "Retrying after %s (try %d of %d failed; waiting %.1f s)",
            quoted(reason),
            details["tries"],
            self.backoff_max_tries(),
            details.get("wait", 0.0),
        )
