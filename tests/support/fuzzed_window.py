"""A window's pages as a broken or hostile server may send them, for `test_fuzz_pages.py`.

Three daily windows: the middle one's pages are random bytes, random JSON, random envelopes
(mutated rows, totals and cursors) and random error answers, with random Content-Type and
Content-Encoding; its neighbours serve valid rows.
"""

from __future__ import annotations

import gzip
import json
import re
import threading
import typing as t
import zlib
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from hypothesis import strategies as st

from tap_crescendo.fake_api import generate_bot_rows
from tap_crescendo.fake_api.rows import utc_text
from tap_crescendo.streams import BotConversationsStream
from tests.support.echo_server import Reply, envelope, page
from tests.support.tap_runs import API_KEY, SPAN_START_MS, TENANT

if t.TYPE_CHECKING:
    from tests.support.echo_server import Asked

Row: t.TypeAlias = dict[str, t.Any]

DAY_MS = 86_400_000
#: The three windows `[start, end)`; the middle one is fuzzed.
WINDOWS = [(SPAN_START_MS + n * DAY_MS, SPAN_START_MS + (n + 1) * DAY_MS) for n in range(3)]
FUZZED = 1
SPAN_END_MS = WINDOWS[-1][1]
NEIGHBOURS = {
    n: generate_bot_rows(4, start_ms=start, end_ms=end, seed=30 + n, tenant_id=TENANT)
    for n, (start, end) in enumerate(WINDOWS)
    if n != FUZZED
}
#: Valid rows of the fuzzed window, which the examples mutate.
BASE_ROWS = generate_bot_rows(6, start_ms=WINDOWS[FUZZED][0], end_ms=WINDOWS[FUZZED][1], seed=3)
SCHEMA: dict[str, t.Any] = BotConversationsStream.schema["properties"]

#: JSON no Python value dumps to, spliced in where a placeholder string stands.
RAW_TOKENS = [
    b"NaN",
    b"-Infinity",
    b"1e400",
    b'"\xff\xfe invalid UTF-8"',
    b'{"a": 1, "a": 2}',
    b"[" * 1000 + b"]" * 1000,
    b"[" * 100_000 + b"]" * 100_000,
]
PLACEHOLDER = re.compile(rb'"\\u0000raw(\d+)\\u0000"')
RAW_PLACEHOLDERS = [f"\x00raw{n}\x00" for n in range(len(RAW_TOKENS))]
RAW = st.sampled_from(RAW_PLACEHOLDERS)
#: Text a hostile server may hold: anything, or the key and what forges a log line.
HOSTILE_TEXT = st.text(max_size=12) | st.sampled_from(
    [API_KEY, f"Bearer {API_KEY}", f"oops\n2026-12-02 ERROR {API_KEY}\x1b[31m"]
)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**64), 2**64)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | RAW,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=5,
)
HEADER_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=20)
CONTENT_TYPES = (
    st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain", ""])
    | HEADER_TEXT
)
#: How a body is sent: as is, compressed as it says, or claiming a coding it lacks.
ENCODINGS = st.sampled_from([None, "gzip", "deflate", "identity", "gzip-lie", "br-lie"])
VALID_ENCODINGS_SENT = (None, "gzip", "deflate", "identity")
VALID_ENCODINGS = st.sampled_from(VALID_ENCODINGS_SENT)
#: A start in 2099, far past the span.
FUTURE = 4_102_444_700_000
#: The kinds of pages: valid, with rows that start anywhere, with any change.
VALID, MOVED, CHANGED = "valid", "moved", "changed"
#: Any start from 1970 to 2100, in epoch ms.
ANY_START = st.integers(0, 4_102_444_800_000)
STATUSES = st.sampled_from([200, 400, 401, 403, 404, 429, 500, 503])
#: The bytes of a body a failing example shows: a few rows, not a 200 KB nesting.
SHOWN_BYTES = 2000


@dataclass(frozen=True)
class Answer:
    """One answer the fuzzed window gets."""

    status: int
    body: bytes
    content_type: str
    encoding: str | None

    def __repr__(self) -> str:
        """The answer with its body cut short, as a failing example shows it."""
        hidden = len(self.body) - SHOWN_BYTES
        body = repr(self.body[:SHOWN_BYTES]) + (f"+{hidden} bytes" if hidden > 0 else "")
        return f"Answer({self.status}, {body}, {self.content_type!r}, {self.encoding!r})"

    def _repr_pretty_(self, printer: t.Any, _cycle: bool) -> None:
        """Show a failing example's answer as `__repr__` does."""
        printer.text(repr(self))

    def reply(self) -> Reply:
        """The answer as the echo server sends it, compressed as `encoding` says."""
        body, coding = self.body, self.encoding
        if coding == "gzip":
            body = gzip.compress(body)
        elif coding == "deflate":
            body = zlib.compress(body)
        elif coding is not None:
            coding = coding.removesuffix("-lie")
        headers = {"Content-Encoding": coding} if coding else {}
        return Reply(self.status, body, self.content_type, headers=headers)

    def document(self) -> t.Any:
        """The JSON document the body holds (before any coding), strictly read, or None."""
        try:
            return json.loads(self.body.decode(), parse_constant=_refuse)
        except (UnicodeDecodeError, ValueError, RecursionError):
            return None

    def ends_the_window(self) -> bool:
        """Whether the answer could be the window's last page, read as loosely as any tap."""
        document = self.document()
        if self.status != 200 or not isinstance(document, dict):
            return False
        cursor = document.get("cursor")
        following = cursor.get("next") if isinstance(cursor, dict) else None
        return not (isinstance(following, str) and following)

    def row_ids(self) -> list[t.Any]:
        """The IDs of a page the contract allows, sent as it says, which a tap must all write."""
        document = self.document()
        if self.status != 200 or self.encoding not in VALID_ENCODINGS_SENT:
            return []
        if not isinstance(document, dict):
            return []
        total, cursor, data = (document.get(k) for k in ("total", "cursor", "data"))
        if type(total) is not int or total < 0 or not isinstance(cursor, dict):
            return []
        if not isinstance(cursor.get("next"), str | None) or not isinstance(data, list):
            return []
        return [row["ID"] for row in data if isinstance(row, dict) and type(row.get("ID")) is str]


def _refuse(constant: str) -> t.NoReturn:
    """Refuse `NaN` and `Infinity`, which JSON lacks."""
    raise ValueError(constant)


def dump(document: t.Any) -> bytes:
    """JSON bytes of `document`, each placeholder replaced by its raw token."""
    text = json.dumps(document).encode()
    return PLACEHOLDER.sub(lambda match: RAW_TOKENS[int(match[1])], text)


def typed_value(name: str) -> st.SearchStrategy[t.Any]:
    """A value of the type the schema gives field `name`, or any JSON value."""
    kinds = {
        "string": st.text(max_size=8),
        "integer": st.integers(-(2**63), 2**63),
        "number": st.floats(allow_nan=False, allow_infinity=False),
        "boolean": st.booleans(),
        "array": st.lists(st.text(max_size=4), max_size=2),
        "null": st.none(),
    }
    prop = SCHEMA[name]
    if prop.get("format") == "date-time":
        kinds["string"] = ANY_START.map(utc_text)
    return st.one_of(*(kinds[kind] for kind in prop["type"])) | JSON_VALUES


FIELD_CHANGES = st.sampled_from(list(SCHEMA)).flatmap(
    lambda name: st.tuples(st.just(name), typed_value(name) | st.just(...))
) | st.tuples(st.text(min_size=1, max_size=6), JSON_VALUES)


@st.composite
def rows(draw: st.DrawFn, page_index: int, kind: str) -> list[Row]:
    """Rows of the fuzzed window: valid, with starts anywhere (`MOVED`), or with a few random
    changes (`CHANGED`; `...` removes a field)."""
    picked = draw(st.lists(st.sampled_from(BASE_ROWS), max_size=3))
    result = []
    for n, base in enumerate(picked):
        row = {**base, "ID": f"fz-{page_index}-{n}"}
        start = {VALID: st.none(), MOVED: ANY_START, CHANGED: st.none() | ANY_START}[kind]
        if (moved := draw(start)) is not None:  # a start the window may not hold, in both fields
            row.update(Datetime=moved, DatetimeUTC=utc_text(moved))
        for name, value in draw(st.lists(FIELD_CHANGES, max_size=3)) if kind == CHANGED else []:
            if value is ...:
                row.pop(name, None)
            else:
                row[name] = value
        result.append(row)
    return result


@st.composite
def page_answer(draw: st.DrawFn, page_index: int, last: bool, kind: str) -> Answer:
    """A 200 envelope `{total, cursor: {next}, data}` of `kind` rows; if `CHANGED`, the
    envelope and its headers changed too."""
    data = draw(rows(page_index, kind))
    next_cursor = None if last else f"p{page_index + 1}"
    document: dict[str, t.Any] = {"total": 6, "cursor": {"next": next_cursor}, "data": data}
    changes = st.sampled_from(["total", "cursor", "data", "extra"]).flatmap(
        lambda part: st.tuples(st.just(part), JSON_VALUES | st.just(...))
    ) | st.tuples(
        st.just("next"),
        JSON_VALUES | HOSTILE_TEXT | st.sampled_from(["", "p0", "p1", "p2", "p9"]) | st.just(...),
    )
    if kind != CHANGED:
        return Answer(200, dump(document), "application/json", draw(VALID_ENCODINGS))
    for part, value in draw(st.lists(changes, max_size=2)):
        if part == "next":
            kept = document.get("cursor")
            cursor = document["cursor"] = dict(kept) if isinstance(kept, dict) else {}
            if value is ...:
                cursor.pop("next", None)
            else:
                cursor["next"] = value
        elif value is ...:
            document.pop(part, None)
        else:
            document[part] = value
    return Answer(200, dump(document), draw(CONTENT_TYPES), draw(ENCODINGS))


def page_of(data: list[Row]) -> Answer:
    """A valid last page holding `data`."""
    return Answer(
        200, dump({"total": len(data), "cursor": {}, "data": data}), "application/json", None
    )


def error_answer() -> st.SearchStrategy[Answer]:
    """An answer of any fuzzed status, with the error envelope, other JSON, text or nothing."""
    bodies = (
        st.builds(envelope, HOSTILE_TEXT, HOSTILE_TEXT)
        | JSON_VALUES.map(dump)
        | HOSTILE_TEXT.map(str.encode)
        | st.just(b"")
    )
    return st.builds(Answer, STATUSES, bodies, CONTENT_TYPES, ENCODINGS)


def any_answer(page_index: int, last: bool) -> st.SearchStrategy[Answer]:
    """Mostly a valid page; else a changed page, random JSON, random bytes or an error."""
    valid = page_answer(page_index, last, VALID)
    return (
        st.one_of(valid, valid, valid)
        | page_answer(page_index, last, MOVED)
        | page_answer(page_index, last, CHANGED)
        | st.builds(Answer, st.just(200), JSON_VALUES.map(dump), CONTENT_TYPES, ENCODINGS)
        | st.builds(Answer, STATUSES, st.binary(max_size=64), CONTENT_TYPES, ENCODINGS)
        | error_answer()
    )


@st.composite
def scripts(draw: st.DrawFn) -> list[list[Answer]]:
    """For each page of the fuzzed window, its answers: to the first request, then retries."""
    count = draw(st.integers(1, 3))
    return [
        draw(st.lists(any_answer(n, n == count - 1), min_size=1, max_size=2)) for n in range(count)
    ]


@dataclass(repr=False)
class FuzzedApi:
    """Serves the neighbours' rows, and each page of the fuzzed window its answers in turn."""

    script: list[list[Answer]]
    #: Each answer the fuzzed window got, in order.
    served: list[Answer] = field(default_factory=list)
    tries: Counter[int] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, asked: Asked) -> Reply:
        """Answer one request."""
        query = {name: values[0] for name, values in parse_qs(urlsplit(asked.path).query).items()}
        if "voc" in asked.path:
            return Reply(200, page(None))
        if "cursor" not in query:
            window = next(n for n, (start, _) in enumerate(WINDOWS) if str(start) == query["from"])
            if window != FUZZED:
                return Reply(200, dump({"total": 4, "cursor": {}, "data": NEIGHBOURS[window]}))
            index = 0
        elif query["cursor"] in (cursors := {f"p{n}": n for n in range(1, len(self.script))}):
            index = cursors[query["cursor"]]
        else:
            return Reply(400, envelope("InvalidCursor", "The cursor is not one of this query's"))
        with self.lock:
            answers = self.script[index]
            answer = answers[min(self.tries[index], len(answers) - 1)]
            self.tries[index] += 1
            self.served.append(answer)
        return answer.reply()

    def window_rows_written(self, window: int, ids: set[t.Any]) -> bool:
        """Whether the API said `window` ended and every row it sent that window is in `ids`."""
        if window != FUZZED:
            return {row["ID"] for row in NEIGHBOURS[window]} <= ids
        sent = {row_id for answer in self.served for row_id in answer.row_ids()}
        return any(answer.ends_the_window() for answer in self.served) and sent <= ids
