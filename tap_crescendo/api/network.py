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


class CaBundle(t.NamedTuple):
    """A CA bundle to trust instead of certifi's, and the setting or variable that named it."""

    path: str
    named_by: str


def ca_bundle(config: Mapping[str, t.Any]) -> CaBundle | None:
    """Return the CA bundle the settings or the environment name, or None for certifi's."""
    if config.get("ca_bundle"):
        return CaBundle(str(config["ca_bundle"]), "the `ca_bundle` setting")
    for name in CA_BUNDLE_VARIABLES:
        if os.environ.get(name):
            return CaBundle(os.environ[name], name)
    return None


def check_ca_bundle(config: Mapping[str, t.Any]) -> None:
    """Refuse a CA bundle that cannot be read or holds no certificate, naming who named it."""
    bundle = ca_bundle(config)
    if bundle is None:
        return
    try:
        if os.path.isdir(bundle.path):
            ssl.create_default_context(capath=bundle.path)
        else:
            ssl.create_default_context(cafile=bundle.path)
    except ssl.SSLError:
        problem = "holds no PEM certificate"
    except OSError as error:
        problem = f"cannot be read: {error.strerror or error}"
    else:
        return
    msg = f"The CA bundle {bundle.path!r} named by {bundle.named_by} {problem}"
    raise ConfigError(msg)


def send_options(
    session: requests.Session, url: str, config: Mapping[str, t.Any]
) -> dict[str, t.Any]:
    """Return `Session.send`'s proxies, verify, cert and stream for `url`, as `request` would."""
    bundle = ca_bundle(config)
    verify = bundle.path if bundle else None
    return dict(session.merge_environment_settings(url, {}, stream=True, verify=verify, cert=None))


def tls_failure(error: requests.exceptions.SSLError, url: str, config: Mapping[str, t.Any]) -> str:
    """Return one line for a refused certificate or handshake: host, reason, CAs and advice."""
    bundle = ca_bundle(config)
    trusted = f"{bundle.path!r}, named by {bundle.named_by}" if bundle else "certifi's bundle"
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
