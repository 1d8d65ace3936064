"""The fake's VOC export and path styles, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import typing as t
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import pytest
import requests

from tap_crescendo.fake_api import FakeCrescendo, generate_bot_rows, generate_voc_rows
from tap_crescendo.fake_api.__main__ import main
from tests.local_servers import REPO, free_port, wait_until_answering

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterator

KEY = "voc-key"
TENANT = "tenant-alpha"
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
START_MS = 1_790_812_800_000  # 2026-10-01T00:00:00Z
END_MS = START_MS + 10 * DAY_MS
VOC = generate_voc_rows(120, start_ms=START_MS, end_ms=END_MS, seed=11, tenant_id=TENANT)
BOT = generate_bot_rows(120, start_ms=START_MS, end_ms=END_MS, seed=11, tenant_id=TENANT)
VOC_KEYS = [
    "ID",
    "TenantID",
    "Datetime",
    "DatetimeUTC",
    "Duration",
    "Direction",
    "Media",
    "AgentName",
    "AgentId",
    "AgentEmail",
    "CustomerName",
    "CustomerId",
    "CustomerEmail",
    "Groups",
    "Tags",
    "Category",
    "Subcategory",
    "Tertiary",
    "CategoryExplanation",
    "CategoriesId",
    "Summary",
    "CSat",
    "CSatExplanation",
    "Sentiment",
    "SentimentExplanation",
    "Problems",
    "KPIs",
    "SourceSystem",
    "TicketId",
    "TicketUrl",
]
VOC_EXPORTS = [
    pytest.param("vocconv", id="vocconv"),
    pytest.param("voc/conversations", id="voc-conversations"),
]
DOC_PATHS = ("botconv", "vocconv")
OPENAPI_PATHS = ("assistant/conversations", "voc/conversations")
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def instant_ms(text: str) -> int:
    """Epoch milliseconds of an RFC 3339 timestamp, parsed independently of the fake."""
    moment = datetime.strptime(
        text, "%Y-%m-%dT%H:%M:%S.%f%z" if "." in text else "%Y-%m-%dT%H:%M:%S%z"
    )
    return (moment - EPOCH) // timedelta(milliseconds=1)


def by_instant(row: dict[str, t.Any]) -> tuple[int, str]:
    return instant_ms(row["DatetimeUTC"]), row["ID"]


def iso(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc).isoformat()


def voc_row(row_id: str, datetime_text: str) -> dict[str, t.Any]:
    """A copy of the first generated VOC row with another ID and start."""
    utc = datetime.strptime(datetime_text, "%Y-%m-%dT%H:%M:%S%z").astimezone(timezone.utc)
    return {
        **VOC[0],
        "ID": row_id,
        "Datetime": datetime_text,
        "DatetimeUTC": f"{utc:%Y-%m-%dT%H:%M:%SZ}",
    }


def span(from_ms: int, to_ms: int, **extra: t.Any) -> dict[str, t.Any]:
    return {"from": str(from_ms), "to": str(to_ms), **extra}


def not_found(path: str) -> dict[str, str]:
    return {"code": "NotFound", "message": f"No route for GET {path}"}


@dataclass
class Api:
    """A running fake and a session to call it with."""

    fake: FakeCrescendo
    url: str
    session: requests.Session

    def path(self, export: str, tenant: str = TENANT) -> str:
        return f"/api/v1/reporting/tenants/{quote(tenant, safe='')}/{export}"

    def get(
        self, export: str, params: dict[str, t.Any] | None = None, *, tenant: str = TENANT
    ) -> requests.Response:
        return self.session.get(
            self.url + self.path(export, tenant),
            params=params,
            headers={"Authorization": f"Bearer {KEY}"},
            timeout=10,
        )

    def ok(self, export: str, params: dict[str, t.Any]) -> dict[str, t.Any]:
        response = self.get(export, params)
        assert response.status_code == 200, response.text
        body: dict[str, t.Any] = response.json()
        return body

    def pages(self, export: str, params: dict[str, t.Any]) -> list[dict[str, t.Any]]:
        """Every page of a query, following cursor.next with the first request's limit."""
        limit = {"limit": params["limit"]} if "limit" in params else {}
        bodies = [self.ok(export, params)]
        while bodies[-1]["cursor"].get("next"):
            bodies.append(self.ok(export, {"cursor": bodies[-1]["cursor"]["next"], **limit}))
        return bodies

    def ids(self, export: str, params: dict[str, t.Any]) -> list[str]:
        return [row["ID"] for body in self.pages(export, params) for row in body["data"]]


@pytest.fixture
def start_api() -> Iterator[Callable[..., Api]]:
    """Start fakes (the test bot and VOC rows by default) that live until the test ends."""
    with contextlib.ExitStack() as stack:

        def start(**options: t.Any) -> Api:
            options.setdefault("api_keys", {KEY: {TENANT, "tenant-beta"}})
            options.setdefault("rows", {TENANT: BOT})
            options.setdefault("voc_rows", {TENANT: VOC})
            fake = FakeCrescendo(**options)
            url = stack.enter_context(fake.serve())
            session = stack.enter_context(requests.Session())
            session.trust_env = False
            return Api(fake, url, session)

        yield start


@pytest.fixture
def api(start_api: Callable[..., Api]) -> Api:
    return start_api()


# Rows


def test_voc_rows_have_exactly_the_openapi_keys_in_its_order() -> None:
    assert all(list(row) == VOC_KEYS for row in VOC)


def test_voc_rows_depend_only_on_the_seed() -> None:
    again = generate_voc_rows(120, start_ms=START_MS, end_ms=END_MS, seed=11, tenant_id=TENANT)
    other = generate_voc_rows(120, start_ms=START_MS, end_ms=END_MS, seed=12, tenant_id=TENANT)

    assert again == VOC
    assert [row["ID"] for row in other] != [row["ID"] for row in VOC]


@pytest.mark.parametrize("seed", [pytest.param(seed, id=f"seed-{seed}") for seed in (0, 1, 11)])
def test_voc_ids_are_unique_and_never_bot_ids(seed: int) -> None:
    voc = generate_voc_rows(500, start_ms=START_MS, end_ms=END_MS, seed=seed)
    bot = generate_bot_rows(500, start_ms=START_MS, end_ms=END_MS, seed=seed)

    voc_ids = {row["ID"] for row in voc}
    assert len(voc_ids) == 500
    assert voc_ids.isdisjoint(row["ID"] for row in bot)


def test_generating_voc_rows_refuses_an_empty_span() -> None:
    with pytest.raises(ValueError, match="start_ms < end_ms"):
        generate_voc_rows(1, start_ms=START_MS, end_ms=START_MS)


def is_int(value: t.Any) -> bool:
    return type(value) is int


def is_objects(value: t.Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def is_strings(value: t.Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) for v in value)


@pytest.mark.parametrize(
    ("field", "is_variant"),
    [
        pytest.param("Datetime", lambda v: v.endswith("Z"), id="Datetime-utc"),
        pytest.param("Datetime", lambda v: v.endswith("+02:00"), id="Datetime-offset"),
        pytest.param("Duration", is_int, id="Duration-int"),
        pytest.param("Duration", lambda v: v is None, id="Duration-null"),
        pytest.param("Direction", lambda v: v == "inbound", id="Direction-inbound"),
        pytest.param("Direction", lambda v: v == "outbound", id="Direction-outbound"),
        pytest.param("Direction", lambda v: v is None, id="Direction-null"),
        pytest.param("Media", lambda v: isinstance(v, str), id="Media-str"),
        pytest.param("Media", lambda v: v is None, id="Media-null"),
        *(
            pytest.param(field, check, id=f"{field}-{kind}")
            for field in ("AgentId", "CustomerId", "TicketId")
            for kind, check in (
                ("str", lambda v: isinstance(v, str)),
                ("int", is_int),
                ("null", lambda v: v is None),
            )
        ),
        *(
            pytest.param(field, check, id=f"{field}-{kind}")
            for field in ("Groups", "Tags")
            for kind, check in (
                ("str", lambda v: isinstance(v, str)),
                ("list", is_strings),
                ("empty", lambda v: v == []),
                ("null", lambda v: v is None),
            )
        ),
        *(
            pytest.param(field, check, id=f"{field}-{kind}")
            for field in ("CSat", "Sentiment")
            for kind, check in (
                ("int", is_int),
                ("float", lambda v: type(v) is float),
                ("null", lambda v: v is None),
            )
        ),
        pytest.param("Sentiment", lambda v: v is not None and v < 0, id="Sentiment-negative"),
        *(
            pytest.param(field, check, id=f"{field}-{kind}")
            for field in ("Problems", "KPIs")
            for kind, check in (
                ("objects", is_objects),
                ("empty", lambda v: v == []),
                ("null", lambda v: v is None),
            )
        ),
    ],
)
def test_every_type_variant_appears_in_60_rows(
    field: str, is_variant: Callable[[t.Any], bool]
) -> None:
    rows = generate_voc_rows(60, start_ms=START_MS, end_ms=END_MS, seed=5)

    assert any(is_variant(row[field]) for row in rows)


@pytest.mark.parametrize(
    "field",
    [
        "AgentName",
        "AgentEmail",
        "CustomerName",
        "CustomerEmail",
        "Category",
        "Subcategory",
        "Tertiary",
        "CategoryExplanation",
        "CategoriesId",
        "Summary",
        "CSatExplanation",
        "SentimentExplanation",
        "SourceSystem",
        "TicketUrl",
    ],
)
def test_nullable_text_is_null_in_some_of_50_rows_and_text_in_others(field: str) -> None:
    values = [row[field] for row in VOC[:50]]

    assert None in values
    assert any(isinstance(value, str) and value for value in values)


def test_datetime_is_the_same_instant_as_datetime_utc_within_the_span() -> None:
    for row in VOC:
        assert row["Datetime"][-1] == "Z" or row["Datetime"][-6:] == "+02:00"
        assert row["DatetimeUTC"][-1] == "Z"
        assert instant_ms(row["Datetime"]) == instant_ms(row["DatetimeUTC"])
        assert START_MS <= instant_ms(row["DatetimeUTC"]) < END_MS
    assert {row["Datetime"][-1] for row in VOC} == {"Z", "0"}


# The export


@pytest.mark.parametrize("export", VOC_EXPORTS)
def test_pages_hold_exactly_the_voc_rows_of_a_span(api: Api, export: str) -> None:
    from_ms, to_ms = START_MS + 2 * DAY_MS + 5 * HOUR_MS, START_MS + 7 * DAY_MS
    expected = {row["ID"] for row in VOC if from_ms <= instant_ms(row["DatetimeUTC"]) < to_ms}

    bodies = api.pages(export, span(from_ms, to_ms, limit=7))

    got = [row["ID"] for body in bodies for row in body["data"]]
    assert sorted(got) == sorted(expected)
    assert len(bodies) == -(-len(expected) // 7) > 1
    assert {body["total"] for body in bodies} == {len(expected)}
    assert all(list(row) == VOC_KEYS for body in bodies for row in body["data"])


@pytest.mark.parametrize("export", VOC_EXPORTS)
def test_the_span_is_taken_on_the_instant_not_the_wall_clock(
    start_api: Callable[..., Api], export: str
) -> None:
    rows = [
        voc_row("before-offset", "2026-10-01T01:59:59+02:00"),  # 2026-09-30T23:59:59Z
        voc_row("first-offset", "2026-10-01T02:00:00+02:00"),  # 2026-10-01T00:00:00Z
        voc_row("inside-utc", "2026-10-01T00:30:00Z"),
        voc_row("last-offset", "2026-10-01T02:59:59+02:00"),  # 2026-10-01T00:59:59Z
        voc_row("after-utc", "2026-10-01T01:00:00Z"),
        voc_row("after-offset", "2026-10-01T03:00:00+02:00"),  # 2026-10-01T01:00:00Z
    ]
    api = start_api(voc_rows={TENANT: rows})

    got = api.ids(export, {"from": iso(START_MS), "to": iso(START_MS + HOUR_MS)})

    assert got == ["first-offset", "inside-utc", "last-offset"]


@pytest.mark.parametrize(
    ("order", "reverse"),
    [pytest.param("asc", False, id="asc"), pytest.param("desc", True, id="desc")],
)
def test_voc_rows_come_ordered_by_instant(
    start_api: Callable[..., Api], order: str, reverse: bool
) -> None:
    api = start_api(order=order)
    expected = [row["ID"] for row in sorted(VOC, key=by_instant)]
    by_text = [row["ID"] for row in sorted(VOC, key=lambda row: (row["Datetime"], row["ID"]))]
    assert expected != by_text  # the offsets make text order differ from instant order

    got = api.ids("vocconv", span(START_MS, END_MS, limit=25))

    assert got == (expected[::-1] if reverse else expected)


def test_bot_and_voc_datasets_are_independent(start_api: Callable[..., Api]) -> None:
    only_voc = generate_voc_rows(30, start_ms=START_MS, end_ms=END_MS, tenant_id="tenant-beta")
    api = start_api(voc_rows={TENANT: VOC, "tenant-beta": only_voc})
    everything = span(START_MS, END_MS, limit=50)

    bot_ids = sorted(row["ID"] for row in BOT)
    assert sorted(api.ids("botconv", everything)) == bot_ids
    assert sorted(api.ids("assistant/conversations", everything)) == bot_ids
    assert sorted(api.ids("voc/conversations", everything)) == sorted(row["ID"] for row in VOC)
    beta = api.get("botconv", everything, tenant="tenant-beta")
    assert beta.json() == {"total": 0, "cursor": {"next": None}, "data": []}
    beta_voc = api.get("vocconv", everything, tenant="tenant-beta")
    assert beta_voc.json()["total"] == 30


def test_a_voc_cursor_serves_both_voc_paths_but_no_bot_path(api: Api) -> None:
    first = api.ok("vocconv", span(START_MS, END_MS, limit=10))
    cursor = {"cursor": first["cursor"]["next"], "limit": 10}

    same = [api.ok(export, cursor)["data"] for export in ("vocconv", "voc/conversations")]
    on_bot = api.get("botconv", cursor)

    assert same[0] == same[1] == sorted(VOC, key=by_instant)[10:20]
    assert on_bot.status_code == 400
    assert on_bot.json() == {
        "code": "BadRequest",
        "message": "Invalid request parameters: cursor expired or invalid",
    }


@pytest.mark.parametrize("export", VOC_EXPORTS)
def test_voc_paths_check_keys_tenants_and_parameters(api: Api, export: str) -> None:
    path = api.url + api.path(export)
    no_key = api.session.get(path, timeout=10)
    other_tenant = api.session.get(
        api.url + api.path(export, "tenant-gamma"),
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=10,
    )
    bad_limit = api.get(export, {"limit": "0"})

    assert (no_key.status_code, no_key.json()["code"]) == (401, "Unauthenticated")
    assert (other_tenant.status_code, other_tenant.json()["code"]) == (403, "PermissionDenied")
    assert (bad_limit.status_code, bad_limit.json()["code"]) == (400, "BadRequest")


# Path styles


@pytest.mark.parametrize(
    ("styles", "served", "missing"),
    [
        pytest.param(("doc",), DOC_PATHS, OPENAPI_PATHS, id="doc"),
        pytest.param(("openapi",), OPENAPI_PATHS, DOC_PATHS, id="openapi"),
        pytest.param(("doc", "openapi"), DOC_PATHS + OPENAPI_PATHS, (), id="both"),
    ],
)
def test_path_styles_choose_the_paths_served(
    start_api: Callable[..., Api],
    styles: tuple[str, ...],
    served: tuple[str, ...],
    missing: tuple[str, ...],
) -> None:
    api = start_api(path_styles=styles)

    for export in served:
        assert api.get(export, {"range": "last_day"}).status_code == 200
    for export in missing:
        response = api.get(export, {"range": "last_day"})
        assert response.status_code == 404
        assert response.json() == not_found(api.path(export))


def test_a_path_of_a_style_not_served_is_404_even_without_a_key(
    start_api: Callable[..., Api],
) -> None:
    api = start_api(path_styles=("doc",))

    response = api.session.get(api.url + api.path("voc/conversations"), timeout=10)

    assert response.status_code == 404
    assert response.json() == not_found(api.path("voc/conversations"))


def test_serve_only_switches_the_paths_at_runtime(api: Api) -> None:
    every = DOC_PATHS + OPENAPI_PATHS

    def statuses() -> list[int]:
        return [api.get(export, {"range": "last_day"}).status_code for export in every]

    before = statuses()
    api.fake.serve_only("doc")
    doc = statuses()
    api.fake.serve_only("openapi")
    openapi = statuses()
    api.fake.serve_only(None)
    both = statuses()

    assert before == both == [200, 200, 200, 200]
    assert doc == [200, 200, 404, 404]
    assert openapi == [404, 404, 200, 200]
    assert [(r.path, r.status) for r in api.fake.requests[4:8]] == [
        (api.path(export), status) for export, status in zip(every, doc, strict=True)
    ]


@pytest.mark.parametrize(
    "styles",
    [pytest.param((), id="none"), pytest.param(("doc", "swagger"), id="unknown")],
)
def test_unknown_or_no_path_styles_are_refused(styles: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="path styles must be one or more of doc, openapi"):
        FakeCrescendo(api_keys={}, path_styles=styles)


def test_serve_only_refuses_an_unknown_style(api: Api) -> None:
    with pytest.raises(ValueError, match="path styles must be one or more of doc, openapi"):
        api.fake.serve_only("both")


# Adding and replacing VOC rows


def test_added_and_replaced_voc_rows_show_in_a_new_query(start_api: Callable[..., Api]) -> None:
    api = start_api(voc_rows=None)
    api.fake.add_rows(TENANT, [voc_row("a", "2026-10-01T02:30:00+02:00")], export="voc")
    api.fake.add_rows(TENANT, [voc_row("b", "2026-10-01T00:45:00Z")], export="voc")
    window = {"from": iso(START_MS), "to": iso(START_MS + HOUR_MS)}
    first = api.ids("vocconv", window)

    api.fake.replace_row(TENANT, voc_row("a", "2026-10-01T03:30:00+02:00"), export="voc")
    second = api.ids("voc/conversations", window)

    assert first == ["a", "b"]
    assert second == ["b"]
    assert "a" not in api.ids("botconv", span(START_MS - DAY_MS, END_MS))


def test_voc_rows_are_checked_when_added_or_replaced(api: Api) -> None:
    with pytest.raises(ValueError, match="already stored"):
        api.fake.add_rows(TENANT, [VOC[3]], export="voc")
    with pytest.raises(ValueError, match="ISO 8601 Datetime"):
        api.fake.add_rows(TENANT, [{**VOC[3], "ID": "new", "Datetime": START_MS}], export="voc")
    with pytest.raises(ValueError, match="ISO 8601 Datetime"):
        api.fake.add_rows(
            TENANT, [{**VOC[3], "ID": "new", "Datetime": "2026-10-01T00:00:00"}], export="voc"
        )
    with pytest.raises(KeyError):
        api.fake.replace_row(TENANT, voc_row("unknown", "2026-10-01T00:00:00Z"), export="voc")
    with pytest.raises(KeyError):
        api.fake.replace_row("tenant-beta", VOC[3], export="voc")
    with pytest.raises(ValueError, match="export must be one of bot, voc, got 'chat'"):
        api.fake.add_rows(TENANT, [VOC[3]], export="chat")


def test_the_default_export_of_add_rows_is_still_bot(api: Api) -> None:
    extra = generate_bot_rows(3, start_ms=START_MS, end_ms=END_MS, seed=99)

    api.fake.add_rows(TENANT, extra)

    assert api.ok("botconv", span(START_MS, END_MS))["total"] == len(BOT) + 3
    assert api.ok("vocconv", span(START_MS, END_MS))["total"] == len(VOC)


# Command line


@pytest.mark.parametrize(
    ("flags", "voc_total", "served", "missing"),
    [
        pytest.param(
            ["--voc-rows", "12", "--path-style", "doc"],
            12,
            "vocconv",
            "voc/conversations",
            id="doc",
        ),
        pytest.param(
            ["--path-style", "openapi"],
            15,
            "voc/conversations",
            "vocconv",
            id="openapi-default-voc-rows",
        ),
    ],
)
def test_the_command_line_serves_voc_rows_on_the_chosen_paths(
    flags: list[str], voc_total: int, served: str, missing: str
) -> None:
    port = free_port()
    command = [sys.executable, "-m", "tap_crescendo.fake_api", "--port", str(port), "--rows", "30"]
    command += ["--days", "2", "--api-key", "cli-key", *flags]
    process = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    base = f"http://127.0.0.1:{port}/api/v1/reporting/tenants/{TENANT}/"
    try:
        response = wait_until_answering(process, f"{base}{served}?range=last_week")
        absent = requests.get(
            f"{base}{missing}", headers={"Authorization": "Bearer cli-key"}, timeout=10
        )
    finally:
        process.terminate()
        stdout, stderr = process.communicate(timeout=30)

    assert response.status_code == 200
    assert response.json()["total"] == voc_total
    assert all(list(row) == VOC_KEYS for row in response.json()["data"])
    assert absent.status_code == 404
    assert stderr == ""
    assert stdout == (
        f"Fake Crescendo API on http://127.0.0.1:{port} "
        f"(tenant {TENANT}, 30 bot and {voc_total} VOC conversations over 2 days, key cli-key)\n"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(
            ["--voc-rows", "-1"], "--rows and --voc-rows must be 0 or more", id="negative"
        ),
        pytest.param(["--path-style", "swagger"], "invalid choice: 'swagger'", id="unknown-style"),
    ],
)
def test_the_command_line_refuses_bad_voc_flags(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)

    assert exited.value.code == 2
    assert message in capsys.readouterr().err
