"""Behind a corporate network: a company CA trusted as requests-based tools trust one, proxies.

The fake API is served over TLS with a certificate from a throwaway CA (trustme); a forward
proxy started by the tests relays plain http and tunnels https with CONNECT.
"""

from __future__ import annotations

import typing as t
from urllib.parse import parse_qsl

import pytest
import trustme

from tests.support.forward_proxy import forward_proxy
from tests.support.tap_process import error_lines, run_tap, tap_argv, tap_environment
from tests.support.tap_runs import API_KEY, tap_config
from tests.support.tls_fake import serve_tls

if t.TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tap_crescendo.fake_api import FakeCrescendo
    from tests.support.tap_runs import Command
    from tests.support.tls_fake import TlsServer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def company_ca() -> trustme.CA:
    """A CA of the kind a company's TLS-inspecting proxy signs with."""
    return trustme.CA()


@pytest.fixture
def ca_file(company_ca: trustme.CA, tmp_path: Path) -> str:
    """The company CA's certificate as a PEM file."""
    path = tmp_path / "company-ca.pem"
    company_ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def tls_api(fake: FakeCrescendo, company_ca: trustme.CA) -> Iterator[tuple[str, TlsServer]]:
    """The fake API over TLS, its certificate signed by the company CA: URL and server."""
    with serve_tls(fake.handle, company_ca) as served:
        yield served


def split_target(target: str) -> tuple[str, dict[str, str]]:
    """An absolute URI's address without the query, and its query parameters."""
    address, _, query = target.partition("?")
    return address, dict(parse_qsl(query, keep_blank_values=True))


def delivered_ids(command: Command) -> list[str]:
    """The IDs of the bot conversations a run delivered, sorted."""
    return sorted(
        m["record"]["ID"]
        for m in command.messages
        if m["type"] == "RECORD" and m["stream"] == "bot_conversations"
    )


@pytest.mark.parametrize(
    "trust",
    [
        pytest.param("ca_bundle", id="ca_bundle-setting"),
        pytest.param("REQUESTS_CA_BUNDLE", id="REQUESTS_CA_BUNDLE"),
        pytest.param("CURL_CA_BUNDLE", id="CURL_CA_BUNDLE"),
        pytest.param("SSL_CERT_FILE", id="SSL_CERT_FILE"),
    ],
)
def test_a_company_ca_is_trusted_through_the_setting_or_the_usual_variables(
    fake: FakeCrescendo,
    bot_rows: list[dict[str, t.Any]],
    tls_api: tuple[str, TlsServer],
    ca_file: str,
    tmp_path: Path,
    trust: str,
) -> None:
    url, _ = tls_api
    in_config = {"ca_bundle": ca_file} if trust == "ca_bundle" else {}
    environment = tap_environment() if in_config else tap_environment(**{trust: ca_file})

    command = run_tap(tap_argv(tmp_path, tap_config(url, **in_config)), environment)

    assert command.returncode == 0, command.stderr[-3000:]
    assert delivered_ids(command) == sorted(row["ID"] for row in bot_rows)
    assert {request.status for request in fake.requests} == {200}


def test_an_untrusted_certificate_stops_after_one_connection_with_one_line(
    fake: FakeCrescendo, tls_api: tuple[str, TlsServer], tmp_path: Path
) -> None:
    url, server = tls_api

    command = run_tap(tap_argv(tmp_path, tap_config(url, max_retries=5)))

    assert command.returncode == 1
    assert "Traceback" not in command.stderr
    assert "Retrying" not in command.stderr
    assert error_lines(command.stderr)[-1] == (
        "TLS with 127.0.0.1 failed (certificate verify failed: unable to get local issuer "
        "certificate; CAs from certifi's bundle): if a company proxy inspects TLS, trust its "
        "CA with the `ca_bundle` setting or REQUESTS_CA_BUNDLE (a PEM file)"
    )
    assert server.connections == 1
    assert fake.requests == []


def test_a_certificate_for_another_host_is_refused_even_with_the_ca_trusted(
    fake: FakeCrescendo, company_ca: trustme.CA, ca_file: str, tmp_path: Path
) -> None:
    with serve_tls(fake.handle, company_ca, names=("localhost",)) as (url, server):
        command = run_tap(tap_argv(tmp_path, tap_config(url, ca_bundle=ca_file)))

    assert command.returncode == 1
    assert error_lines(command.stderr)[-1].startswith(
        "TLS with 127.0.0.1 failed (certificate verify failed: IP address mismatch"
    )
    assert server.connections == 1


@pytest.mark.parametrize(
    ("source", "content", "expected"),
    [
        pytest.param(
            "ca_bundle",
            None,
            "The CA bundle '{path}' named by the `ca_bundle` setting cannot be read: "
            "No such file or directory",
            id="setting-missing-file",
        ),
        pytest.param(
            "REQUESTS_CA_BUNDLE",
            "not a certificate\n",
            "The CA bundle '{path}' named by REQUESTS_CA_BUNDLE holds no PEM certificate",
            id="variable-not-pem",
        ),
    ],
)
def test_a_ca_bundle_that_cannot_serve_stops_before_any_connection(
    tls_api: tuple[str, TlsServer],
    tmp_path: Path,
    source: str,
    content: str | None,
    expected: str,
) -> None:
    url, server = tls_api
    path = tmp_path / "bundle.pem"
    if content is not None:
        path.write_text(content)
    in_config = {"ca_bundle": str(path)} if source == "ca_bundle" else {}
    environment = tap_environment() if in_config else tap_environment(**{source: str(path)})

    command = run_tap(tap_argv(tmp_path, tap_config(url, **in_config)), environment)

    assert command.returncode == 1
    assert "Traceback" not in command.stderr
    assert error_lines(command.stderr) == [expected.format(path=path)]
    assert server.connections == 0


def test_plain_http_goes_through_the_http_proxy_and_the_key_stays_out_of_urls_and_logs(
    fake: FakeCrescendo, bot_rows: list[dict[str, t.Any]], api_url: str, tmp_path: Path
) -> None:
    with forward_proxy() as (proxy_url, proxy):
        environment = tap_environment(HTTP_PROXY=proxy_url, LOGLEVEL="DEBUG")
        command = run_tap(tap_argv(tmp_path, tap_config(api_url)), environment)

    assert command.returncode == 0, command.stderr[-3000:]
    assert delivered_ids(command) == sorted(row["ID"] for row in bot_rows)
    seen = proxy.seen
    assert [(p.method, *split_target(p.target)) for p in seen] == [
        ("GET", f"{api_url}{r.path}", r.query) for r in fake.requests
    ]
    assert {r.client_port for r in fake.requests} <= {p.upstream_port for p in seen}
    assert not [p for p in seen if API_KEY in p.target]
    assert API_KEY not in command.stderr


def test_https_goes_through_a_connect_tunnel_and_the_proxy_never_sees_the_key(
    fake: FakeCrescendo,
    bot_rows: list[dict[str, t.Any]],
    tls_api: tuple[str, TlsServer],
    ca_file: str,
    tmp_path: Path,
) -> None:
    url, server = tls_api
    with forward_proxy() as (proxy_url, proxy):
        environment = tap_environment(
            HTTPS_PROXY=proxy_url, REQUESTS_CA_BUNDLE=ca_file, LOGLEVEL="DEBUG"
        )
        command = run_tap(tap_argv(tmp_path, tap_config(url)), environment)

    assert command.returncode == 0, command.stderr[-3000:]
    assert delivered_ids(command) == sorted(row["ID"] for row in bot_rows)
    tunnels = proxy.seen
    assert {p.method for p in tunnels} == {"CONNECT"}
    assert {p.target for p in tunnels} == {url.removeprefix("https://")}
    assert len(tunnels) == server.connections
    assert set(server.client_ports) == {p.upstream_port for p in tunnels}
    assert not [p for p in tunnels if API_KEY in repr(p)]
    assert API_KEY not in command.stderr


@pytest.mark.parametrize(
    "scheme",
    [pytest.param("http", id="http"), pytest.param("https", id="https")],
)
def test_no_proxy_sends_straight_to_the_api(
    fake: FakeCrescendo,
    bot_rows: list[dict[str, t.Any]],
    api_url: str,
    tls_api: tuple[str, TlsServer],
    ca_file: str,
    tmp_path: Path,
    scheme: str,
) -> None:
    url = api_url if scheme == "http" else tls_api[0]
    with forward_proxy() as (proxy_url, proxy):
        environment = tap_environment(
            HTTP_PROXY=proxy_url,
            HTTPS_PROXY=proxy_url,
            NO_PROXY="localhost,127.0.0.1",
            REQUESTS_CA_BUNDLE=ca_file,
        )
        command = run_tap(tap_argv(tmp_path, tap_config(url)), environment)

    assert command.returncode == 0, command.stderr[-3000:]
    assert delivered_ids(command) == sorted(row["ID"] for row in bot_rows)
    assert fake.requests
    assert proxy.seen == []
