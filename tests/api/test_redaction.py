"""The key shown as `***` and unprintable text escaped (`redaction.py`)."""

from __future__ import annotations

import io
import logging

import pytest

from tap_crescendo.api.redaction import KeyMask, escaped, hide_key, masked, quoted

KEY = "k3y/with+special=chars"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        pytest.param(f"Bearer {KEY}", "Bearer ***", id="as-sent"),
        pytest.param("cursor=k3y%2Fwith%2Bspecial%3Dchars&x", "cursor=***&x", id="percent-encoded"),
        pytest.param(f"{KEY} and {KEY}", "*** and ***", id="each-time"),
        pytest.param("no key here", "no key here", id="no-key"),
    ],
)
def test_a_key_is_masked_as_sent_and_percent_encoded(text: str, shown: str) -> None:
    mask = KeyMask()
    mask.add(KEY)

    assert mask.mask(text) == shown


def test_a_space_in_a_key_is_masked_in_both_percent_encodings() -> None:
    mask = KeyMask()
    mask.add("a key/x")

    assert mask.mask("a key/x, a%20key%2Fx, a+key%2Fx, a%20key/x") == "***, ***, ***, a%20key/x"


@pytest.mark.parametrize(
    ("key", "shown"), [("abcd", "x *** y"), ("abc", "x abcd y")], ids=["four", "three"]
)
def test_a_key_of_fewer_than_four_characters_is_not_masked(key: str, shown: str) -> None:
    mask = KeyMask()
    mask.add(key)

    assert mask.mask("x abcd y") == shown


def test_a_key_that_holds_another_is_masked_whole() -> None:
    mask = KeyMask()
    mask.add("bcde")
    mask.add("abcdef")

    assert mask.mask("abcdef") == "***"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        pytest.param("plain text, é and ü", "plain text, é and ü", id="printable"),
        pytest.param("oops\n2026 ERROR", "oops\\n2026 ERROR", id="newline"),
        pytest.param("a\rb\tc", "a\\rb\\tc", id="cr-and-tab"),
        pytest.param("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m", id="ansi"),
        pytest.param("a\u2028b\x85c", "a\\u2028b\\x85c", id="unicode-line-breaks"),
        pytest.param("C:\\dir\n", "C:\\dir\\n", id="a-backslash-kept"),
        pytest.param("", "", id="empty"),
    ],
)
def test_unprintable_characters_are_escaped(text: str, shown: str) -> None:
    assert escaped(text) == shown


def test_quoted_masks_then_escapes() -> None:
    hide_key(KEY, logging.getLogger("test-redaction"))

    assert quoted(f"Bearer {KEY}\nnext") == "Bearer ***\\nnext"
    assert masked(f"Bearer {KEY}\nnext") == "Bearer ***\nnext"


@pytest.fixture
def output(monkeypatch: pytest.MonkeyPatch, name: str) -> io.StringIO:
    """What the root logger's only handler, added after the key was hidden, writes.

    The logger `name` starts with no filter, as in a process where no tap was created yet.
    """
    monkeypatch.setattr(logging.getLogger(name), "filters", [])
    hide_key(KEY, logging.getLogger("test-redaction"))
    stream = io.StringIO()
    monkeypatch.setattr(logging.getLogger(), "handlers", [logging.StreamHandler(stream)])
    return stream


@pytest.mark.parametrize("name", ["", "singer_sdk", "singer_sdk.metrics", "urllib3", "requests"])
def test_the_loggers_of_the_tap_output_mask_even_for_a_later_handler(
    output: io.StringIO, name: str
) -> None:
    logging.getLogger(name).warning("sent %s", f"Bearer {KEY}")

    assert output.getvalue() == "sent Bearer ***\n"


def test_the_handlers_there_mask_what_any_logger_sends_them() -> None:
    stream = io.StringIO()
    own = logging.getLogger("test-redaction-own")
    own.addHandler(logging.StreamHandler(stream))
    own.propagate = False
    hide_key(KEY, own)

    own.getChild("stream").warning("sent %s", f"Bearer {KEY}")

    assert stream.getvalue() == "sent Bearer ***\n"


def test_the_handler_used_when_there_is_none_masks_too(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    last_resort = logging.StreamHandler(stream)
    monkeypatch.setattr(logging, "lastResort", last_resort)
    hide_key(KEY, logging.getLogger("test-redaction"))
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "sent %s", (KEY,), None)

    last_resort.handle(record)

    assert stream.getvalue() == "sent ***\n"


def test_a_record_without_the_key_is_left_as_logged() -> None:
    mask = KeyMask()
    mask.add(KEY)
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%d rows", (5,), None)

    assert mask.filter(record) is True
    assert (record.msg, record.args) == ("%d rows", (5,))


def test_a_record_with_the_key_is_rewritten_masked() -> None:
    mask = KeyMask()
    mask.add(KEY)
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "sent %s", (KEY,), None)

    assert mask.filter(record) is True
    assert (record.msg, record.args) == ("sent ***", ())
