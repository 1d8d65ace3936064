"""Export paths (`routes.py`): two naming styles, one percent-encoded tenant segment, 404s."""

from __future__ import annotations

import typing as t

import pytest

from tap_crescendo.fake_api import FakeCrescendo, generate_bot_rows
from tests.fake_api.client import END_MS, KEY, START_MS, TENANT, span

if t.TYPE_CHECKING:
    from collections.abc import Callable

    from tests.fake_api.client import Api

DOC_PATHS = ("botconv", "vocconv")
OPENAPI_PATHS = ("assistant/conversations", "voc/conversations")


def not_found(path: str) -> dict[str, str]:
    return {"code": "NotFound", "message": f"No route for GET {path}"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param("GET", "/", id="root"),
        pytest.param("GET", f"/api/v1/reporting/tenants/{TENANT}/other", id="unknown-export"),
        pytest.param("GET", f"/api/v1/reporting/tenants/{TENANT}/botconv/", id="trailing-slash"),
        pytest.param("GET", "/api/v1/reporting/tenants//botconv", id="empty-tenant"),
        pytest.param("GET", "/api/v1/reporting/tenants/acme/eu/botconv", id="unencoded-slash"),
        pytest.param("POST", f"/api/v1/reporting/tenants/{TENANT}/botconv", id="post"),
        pytest.param("DELETE", f"/api/v1/reporting/tenants/{TENANT}/botconv", id="delete"),
    ],
)
def test_other_paths_and_methods_answer_404(api: Api, method: str, path: str) -> None:
    response = api.session.request(
        method, api.url + path, headers={"Authorization": f"Bearer {KEY}"}, data=b"{}", timeout=10
    )

    assert response.status_code == 404
    assert response.json() == {"code": "NotFound", "message": f"No route for {method} {path}"}


def test_a_tenant_is_one_percent_encoded_path_segment(start_api: Callable[..., Api]) -> None:
    tenant = "acme/eu é"
    rows = generate_bot_rows(12, start_ms=START_MS, end_ms=END_MS, tenant_id=tenant)
    api = start_api(api_keys={KEY: {tenant}})
    api.fake.add_rows(tenant, rows)

    response = api.get(span(START_MS, END_MS), tenant=tenant)

    assert response.status_code == 200
    assert {row["ID"] for row in response.json()["data"]} == {row["ID"] for row in rows}
    assert api.fake.requests[0].path == "/api/v1/reporting/tenants/acme%2Feu%20%C3%A9/botconv"


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
        assert api.get({"range": "last_day"}, export=export).status_code == 200
    for export in missing:
        response = api.get({"range": "last_day"}, export=export)
        assert response.status_code == 404
        assert response.json() == not_found(api.path(export))


def test_a_path_of_a_style_not_served_is_404_even_without_a_key(
    start_api: Callable[..., Api],
) -> None:
    api = start_api(path_styles=("doc",))

    response = api.get(export="voc/conversations", key=None)

    assert response.status_code == 404
    assert response.json() == not_found(api.path("voc/conversations"))


def test_serve_only_switches_the_paths_at_runtime(api: Api) -> None:
    every = DOC_PATHS + OPENAPI_PATHS

    def statuses() -> list[int]:
        return [api.get({"range": "last_day"}, export=export).status_code for export in every]

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
