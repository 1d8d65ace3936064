"""Checks of the settings that a JSON schema cannot express, and the values they yield."""

from __future__ import annotations

import ipaddress
import typing as t
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from tap_crescendo.errors import ConfigError
from tap_crescendo.timestamps import parse_timestamp

if t.TYPE_CHECKING:
    from collections.abc import Mapping

RANGE_SPANS = {
    "last_day": timedelta(days=1),
    "last_week": timedelta(days=7),
    "last_month": timedelta(days=30),
}


def setting_timestamp(config: Mapping[str, t.Any], name: str) -> datetime | None:
    """Return a date-time setting parsed, or None when unset."""
    value = config.get(name)
    if value is None:
        return None
    try:
        return parse_timestamp(value)
    except ValueError:
        msg = f"Setting `{name}` is not an ISO 8601 date-time: {value!r}"
        raise ConfigError(msg) from None


def check_settings(config: Mapping[str, t.Any]) -> None:
    """Raise `ConfigError` naming the first setting whose value cannot work."""
    start = setting_timestamp(config, "start_date")
    end = setting_timestamp(config, "end_date")
    if start and end and start >= end:
        msg = (
            f"Setting `start_date` ({config['start_date']}) must be before "
            f"`end_date` ({config['end_date']})"
        )
        raise ConfigError(msg)
    check_api_url(config["api_url"])


def check_api_url(url: str) -> None:
    """Refuse a URL that is not http(s), and plain http to a host off this machine."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        msg = (
            "Setting `api_url` must be an http(s) URL such as "
            f"https://platform.crescendo.ai, not {url!r}"
        )
        raise ConfigError(msg)
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        msg = (
            f"Setting `api_url` uses plain http to {parts.hostname}: the API key would "
            "cross the network in clear text; use https:// (http is allowed for loopback "
            "hosts only)"
        )
        raise ConfigError(msg)


def is_loopback(host: str) -> bool:
    """Tell whether a host name or address is this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_tenant_settings(config: Mapping[str, t.Any]) -> None:
    """Raise `ConfigError` unless exactly one of `tenant_id` and `tenant_ids` names tenants."""
    single, many = config.get("tenant_id"), config.get("tenant_ids")
    if (single is None) == (many is None):
        problem = "not both" if single is not None else "neither is set"
        msg = f"Set `tenant_id` (one tenant) or `tenant_ids` (a list of tenants): {problem}"
        raise ConfigError(msg)
    if many is None:
        return
    if not many:
        raise ConfigError("Setting `tenant_ids` must list at least one tenant")
    for index, tenant in enumerate(many):
        if tenant in many[:index]:
            msg = f"Setting `tenant_ids` lists tenant {tenant!r} twice"
            raise ConfigError(msg)


def tenants_of(config: Mapping[str, t.Any]) -> list[str]:
    """The tenants a run reads, in order."""
    return list(config.get("tenant_ids") or [config["tenant_id"]])


def tenant_setting(config: Mapping[str, t.Any]) -> str:
    """The name of the setting that lists the run's tenants, for messages."""
    return "tenant_id" if config.get("tenant_ids") is None else "tenant_ids"
