"""Errors the tap reports to a person, each printed as one line without a traceback.

    CrescendoError              a problem the user can act on
      ├── ConfigError           a setting (or the variable that sets it) is missing or wrong
      ├── InputFileError        a --config, --state or --catalog file cannot be read as JSON
      ├── StateError            the STATE given with --state cannot be resumed from
      └── APIError              the API refused a request or answered out of contract
            ├── CursorRejected  the API refused a cursor (expired or invalid)
            ├── PathNotFound    nothing answers at the export's path (404)
            └── TenantRefused   the key may not read the tenant (403)

Anything else that escapes the tap is a bug and keeps its traceback.
"""

from __future__ import annotations

from singer_sdk.exceptions import FatalAPIError


class CrescendoError(Exception):
    """A problem the user can act on."""


class ConfigError(CrescendoError):
    """A setting (or the variable that sets it) is missing or wrong."""


class InputFileError(CrescendoError):
    """A --config, --state or --catalog file is missing, unreadable, not JSON or not an object."""


class StateError(CrescendoError):
    """The STATE given with --state cannot be resumed from."""


class APIError(CrescendoError, FatalAPIError):
    """The API refused a request or answered out of contract."""


class CursorRejected(APIError):
    """The API refused a cursor (expired or invalid)."""


class PathNotFound(APIError):
    """Nothing answers at the export's path (404)."""


class TenantRefused(APIError):
    """The API key may not read the tenant (403)."""
