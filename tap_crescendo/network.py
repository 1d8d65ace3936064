"""How requests reach the API: the CA bundle and proxies from the environment, as requests does.

`Session.send`, which the tap uses, reads nothing from the environment (only `Session.request`
does), so the tap asks `Session.merge_environment_settings` itself: proxies from `HTTPS_PROXY`,
`HTTP_PROXY` and `NO_PROXY`; the CA bundle from the `ca_bundle` setting, else
`REQUESTS_CA_BUNDLE` or `CURL_CA_BUNDLE`, else `SSL_CERT_FILE` (as OpenSSL's default context
reads it), else certifi's. Certificates are always verified.
"""

from __future__ import annotations

import os
import ssl
import typing as t
from urllib.parse import urlsplit

from tap_crescendo.errors import ConfigError

if t.TYPE_CHECKING:
    from collections.abc import Mapping

    import requests

#: The variables that name a CA bundle, in the order they are honoured.
CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")
#: What a person behind a TLS-inspecting proxy should do, said after every TLS failure.
TRUST_ADVICE = (
    "if a company proxy inspects TLS, trust its CA with the `ca_bundle` setting "
    "or REQUESTS_CA_BUNDLE (a PEM file)"
)


def ca_bundle_source(config: Mapping[str, t.Any]) -> tuple[str, str] | None:
    """Return where the CA bundle is named (setting or variable) and its path; None: certifi's."""
    if config.get("ca_bundle"):
        return "Setting `ca_bundle`", str(config["ca_bundle"])
    for name in CA_BUNDLE_VARIABLES:
        if os.environ.get(name):
            return f"Environment variable {name}", os.environ[name]
    return None


def check_ca_bundle(config: Mapping[str, t.Any]) -> None:
    """Refuse a CA bundle that cannot be read or holds no certificate, naming who named it."""
    source = ca_bundle_source(config)
    if source is None:
        return
    origin, path = source
    try:
        if os.path.isdir(path):
            ssl.create_default_context(capath=path)
        else:
            ssl.create_default_context(cafile=path)
    except ssl.SSLError:
        msg = f"{origin} names {path!r}, which holds no PEM certificate"
        raise ConfigError(msg) from None
    except OSError as error:
        msg = f"{origin} names {path!r}, which cannot be read: {error.strerror or error}"
        raise ConfigError(msg) from None


def send_options(
    session: requests.Session, url: str, config: Mapping[str, t.Any]
) -> dict[str, t.Any]:
    """Return `Session.send`'s proxies, verify, cert and stream for `url`, as `request` would."""
    source = ca_bundle_source(config)
    verify = source[1] if source else None
    return dict(session.merge_environment_settings(url, {}, stream=True, verify=verify, cert=None))


def tls_failure(error: requests.exceptions.SSLError, url: str, config: Mapping[str, t.Any]) -> str:
    """Return one line for a refused certificate or handshake: host, reason, CAs and advice."""
    source = ca_bundle_source(config)
    trusted = f"{source[0]} ({source[1]})" if source else "certifi's bundle"
    host = urlsplit(url).hostname
    return f"TLS with {host} failed ({_ssl_reason(error)}; CAs from {trusted}): {TRUST_ADVICE}"


def _ssl_reason(error: BaseException) -> str:
    """Find the `ssl.SSLError` that requests and urllib3 wrapped, and say what it says."""
    seen: list[BaseException] = [error]
    for cause in seen:
        if isinstance(cause, ssl.SSLCertVerificationError) and cause.verify_message:
            return f"certificate verify failed: {cause.verify_message}"
        if isinstance(cause, ssl.SSLError):
            return str(cause.reason or cause).lower().replace("_", " ")
        linked = [*cause.args, getattr(cause, "reason", None), cause.__cause__, cause.__context__]
        seen.extend(
            link
            for link in linked
            if isinstance(link, BaseException) and all(link is not known for known in seen)
        )
    return str(error)
