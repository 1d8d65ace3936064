"""The checks of settings a JSON schema cannot express: the API URL and the dates."""

from __future__ import annotations

import ipaddress
import socket
import typing as t

import pytest

from tap_crescendo.errors import ConfigError
from tap_crescendo.settings import check_api_url, check_settings, setting_timestamp
from tests.support.tap_runs import sync, tap_config


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Refuse, and record, any connection beyond this machine, should a check let one out."""
    attempts: list[str] = []
    connect = socket.socket.connect

    def guarded(self: socket.socket, address: t.Any) -> None:
        if not ipaddress.ip_address(address[0]).is_loopback:
            attempts.append(address[0])
            raise OSError(f"test refuses to connect to {address[0]}")
        connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    return attempts


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("https://platform.crescendo.ai", id="https"),
        pytest.param("https://10.0.0.7:8443/", id="https-private-address"),
        pytest.param("http://127.0.0.1:8765", id="loopback-v4"),
        pytest.param("http://127.3.2.1", id="loopback-v4-range"),
        pytest.param("http://localhost:8765", id="localhost"),
        pytest.param("http://[::1]:8765", id="loopback-v6"),
    ],
)
def test_an_api_url_that_keeps_the_key_off_the_network_in_clear_is_accepted(url: str) -> None:
    check_api_url(url)


@pytest.mark.parametrize(
    ("url", "host"),
    [
        pytest.param("http://10.0.0.7:8765", "10.0.0.7", id="private-10"),
        pytest.param("http://192.168.1.20", "192.168.1.20", id="private-192-168"),
        pytest.param("http://172.16.0.3", "172.16.0.3", id="private-172-16"),
        pytest.param("http://[fe80::1]", "fe80::1", id="link-local-v6"),
        pytest.param("http://platform.crescendo.ai", "platform.crescendo.ai", id="public-name"),
        pytest.param("http://localhost.example.com", "localhost.example.com", id="not-localhost"),
    ],
)
def test_plain_http_to_any_host_off_this_machine_is_refused(url: str, host: str) -> None:
    with pytest.raises(ConfigError) as refused:
        check_api_url(url)

    assert str(refused.value) == (
        f"Setting `api_url` uses plain http to {host}: the API key would cross the network "
        "in clear text; use https:// (http is allowed for loopback hosts only)"
    )


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("ftp://files.example.com", id="ftp"),
        pytest.param("platform.crescendo.ai", id="no-scheme"),
        pytest.param("https://", id="no-host"),
    ],
)
def test_an_api_url_that_is_not_http_is_refused_naming_the_setting(url: str) -> None:
    with pytest.raises(ConfigError) as refused:
        check_api_url(url)

    assert str(refused.value) == (
        "Setting `api_url` must be an http(s) URL such as https://platform.crescendo.ai, "
        f"not {url!r}"
    )


def test_a_private_network_api_url_stops_the_tap_before_any_request(
    loopback_only: list[str],
) -> None:
    result = sync(tap_config("http://192.168.1.20:8765", max_retries=0))

    assert result.error is not None
    assert result.error.startswith("Setting `api_url` uses plain http to 192.168.1.20:")
    assert result.messages == []
    assert loopback_only == []


def test_a_date_setting_is_parsed_and_an_unset_one_is_none() -> None:
    config = {"start_date": "2026-10-01T02:00:00+02:00"}

    start = setting_timestamp(config, "start_date")

    assert start is not None
    assert start.isoformat() == "2026-10-01T00:00:00+00:00"
    assert setting_timestamp(config, "end_date") is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        pytest.param("start_date", "last tuesday", id="start-words"),
        pytest.param("end_date", "2026-13-01", id="end-no-such-month"),
    ],
)
def test_a_date_setting_that_is_not_iso_8601_is_refused_naming_it(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as refused:
        setting_timestamp({name: value}, name)

    assert str(refused.value) == f"Setting `{name}` is not an ISO 8601 date-time: {value!r}"


@pytest.mark.parametrize(
    ("start", "end"),
    [
        pytest.param("2026-10-05T00:00:00Z", "2026-10-01T00:00:00Z", id="after"),
        pytest.param("2026-10-01T00:00:00Z", "2026-10-01T00:00:00Z", id="equal"),
    ],
)
def test_a_start_date_not_before_the_end_date_is_refused(start: str, end: str) -> None:
    config = {"start_date": start, "end_date": end, "api_url": "https://platform.crescendo.ai"}

    with pytest.raises(ConfigError) as refused:
        check_settings(config)

    assert str(refused.value) == (
        f"Setting `start_date` ({start}) must be before `end_date` ({end})"
    )


@pytest.mark.parametrize(
    "dates",
    [
        pytest.param({"start_date": "2026-10-01T00:00:00Z"}, id="start-only"),
        pytest.param({"end_date": "2026-10-01T00:00:00Z"}, id="end-only"),
        pytest.param(
            {"start_date": "2026-10-01T00:00:00Z", "end_date": "2026-10-01T00:00:00.001Z"},
            id="one-ms-apart",
        ),
    ],
)
def test_dates_in_order_or_alone_pass_and_the_url_is_still_checked(
    dates: dict[str, str],
) -> None:
    check_settings({**dates, "api_url": "https://platform.crescendo.ai"})
    with pytest.raises(ConfigError, match=r"uses plain http to 10\.1\.2\.3"):
        check_settings({**dates, "api_url": "http://10.1.2.3"})
