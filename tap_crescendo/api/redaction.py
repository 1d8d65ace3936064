"""What a person reads: the API key shown as `***`, server and config text kept on one line.

The keys are the process's, as logging is: a key is added when a tap is created, and from
then on `masked` and every log record the tap's output goes through hide it.
"""

from __future__ import annotations

import logging
import sys
import typing as t
from urllib.parse import quote_plus

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if t.TYPE_CHECKING:
    from collections.abc import Iterable

#: What a person reads where a key was.
MASK = "***"
#: Keys shorter than this are not masked: "abc" would hide ordinary words, and a key
#: that short is guessed at once whether it is shown or not.
SHORTEST_MASKED_KEY = 4
#: Loggers besides the tap's whose records reach the tap's output ("" is the root).
OTHER_LOGGERS = ("", "singer_sdk", "singer_sdk.metrics", "urllib3", "requests")


class KeyMask(logging.Filter):
    """Replaces each key, as sent and percent-encoded, with `***` in any text or log record."""

    def __init__(self) -> None:
        """Start with no key to mask."""
        super().__init__()
        self._forms: tuple[str, ...] = ()

    def add(self, key: str) -> None:
        """Mask `key` from now on, unless it is too short to mask."""
        if len(key) < SHORTEST_MASKED_KEY:
            return
        plus = quote_plus(key)
        forms = {*self._forms, key, plus, plus.replace("+", "%20")}  # a space as + or %20
        self._forms = tuple(sorted(forms, key=len, reverse=True))  # a key may hold another

    def mask(self, text: str) -> str:
        """Return `text` with every key shown as `***`."""
        for form in self._forms:
            text = text.replace(form, MASK)
        return text

    @override
    def filter(self, record: logging.LogRecord) -> bool:
        """Mask the keys in the record's message; drop no record."""
        message = record.getMessage()
        hidden = self.mask(message)
        if hidden != message:
            record.msg, record.args = hidden, ()
        return True


_KEYS = KeyMask()


def hide_key(key: str, logger: logging.Logger) -> None:
    """Mask `key` in `masked` and in each record `logger` and the other loggers handle."""
    _KEYS.add(key)
    loggers = [logger, *map(logging.getLogger, OTHER_LOGGERS)]
    for filterer in _filterers(loggers):
        filterer.addFilter(_KEYS)  # adds nothing if it is there already


def _filterers(loggers: Iterable[logging.Logger]) -> list[logging.Filterer]:
    """The loggers, their handlers, and the handler used when there is none."""
    found: list[logging.Filterer] = []
    for logger in loggers:
        found += [logger, *logger.handlers]
    if logging.lastResort is not None:
        found.append(logging.lastResort)
    return found


def masked(text: str) -> str:
    """Return `text` with every key the tap was given shown as `***`."""
    return _KEYS.mask(text)


def escaped(text: str) -> str:
    """Return `text` with each unprintable character (newline, CR, ESC...) as its escape."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def quoted(text: str) -> str:
    """Return text from the server or the config, fit for one line: keys masked, escaped."""
    return escaped(masked(text))
