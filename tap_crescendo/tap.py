"""The Crescendo tap: its settings and its streams."""

from __future__ import annotations

import sys
import typing as t

from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers.capabilities import TapCapabilities

from tap_crescendo.api.network import check_ca_bundle
from tap_crescendo.api.redaction import hide_key
from tap_crescendo.cli.command import CommandLine
from tap_crescendo.cli.map_settings import check_map_settings
from tap_crescendo.errors import ConfigError
from tap_crescendo.output.writer import StateFlushingWriter
from tap_crescendo.records.evolution import MODES
from tap_crescendo.settings import RANGE_SPANS, check_settings, check_tenant_settings
from tap_crescendo.streams import BotConversationsStream, VocConversationsStream
from tap_crescendo.sync.bookmarks import check_state_shape

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if t.TYPE_CHECKING:
    from singer_sdk.helpers.capabilities import CapabilitiesEnum

    from tap_crescendo.sync.export import IncrementalExport

STREAM_TYPES: list[type[IncrementalExport]] = [BotConversationsStream, VocConversationsStream]


class TapCrescendo(CommandLine):
    """Extracts Crescendo AI's reporting exports."""

    name = "tap-crescendo"
    message_writer_class = StateFlushingWriter
    #: The SDK's, and `test`: `--test` checks a config (cli/connection_check.py).
    capabilities: t.ClassVar[list[CapabilitiesEnum]] = [*Tap.capabilities, TapCapabilities.TEST]

    config_jsonschema = th.PropertiesList(
        th.Property(
            "api_key",
            th.StringType(min_length=1),
            required=True,
            secret=True,
            title="API Key",
            description="Crescendo API key, sent as a Bearer token in the Authorization header.",
        ),
        th.Property(
            "tenant_id",
            th.StringType(min_length=1),
            title="Tenant ID",
            description=(
                "The tenant whose conversations to extract (or list several in `tenant_ids`)."
            ),
        ),
        th.Property(
            "tenant_ids",
            th.ArrayType(th.StringType(min_length=1)),
            title="Tenant IDs",
            description=(
                "Tenants to extract in one run instead of `tenant_id`, in this order, each with "
                "its own bookmark; the API key must be allowed to read each one."
            ),
        ),
        th.Property(
            "api_url",
            th.URIType,
            default="https://platform.crescendo.ai",
            title="API URL",
            description="Base URL of the Crescendo API (https; http only for loopback hosts).",
        ),
        th.Property(
            "start_date",
            th.DateTimeType,
            title="Start Date",
            description=(
                "Earliest conversation start to extract (ISO 8601). Used by the first sync; "
                "later syncs resume from the bookmark but never start before it."
            ),
        ),
        th.Property(
            "end_date",
            th.DateTimeType,
            title="End Date",
            description=(
                "Extract conversations that started before this time (ISO 8601, exclusive). "
                "Default: now."
            ),
        ),
        th.Property(
            "range",
            th.StringType(allowed_values=list(RANGE_SPANS)),
            default="last_day",
            title="Range",
            description=(
                "What a first sync extracts when neither start_date nor a bookmark is set: "
                "the last 24 hours, 7 days or 30 days before end_date."
            ),
        ),
        th.Property(
            "page_size",
            th.IntegerType(minimum=1, maximum=5000),
            default=1000,
            title="Page Size",
            description="Rows per request (the API's `limit`, 1 to 5000).",
        ),
        th.Property(
            "window_size_hours",
            th.IntegerType(minimum=1),
            default=24,
            title="Window Size (hours)",
            description=(
                "The span is read in time windows of this many hours; the bookmark moves "
                "when a window is complete, so a crash re-reads at most one window."
            ),
        ),
        th.Property(
            "lookback_window_minutes",
            th.IntegerType(minimum=0),
            default=60,
            title="Lookback Window (minutes)",
            description=(
                "Each incremental sync starts this long before the bookmark, to pick up "
                "conversations whose rows appear or change late."
            ),
        ),
        th.Property(
            "max_parallel_windows",
            th.IntegerType(minimum=1, maximum=16),
            default=1,
            title="Max Parallel Windows",
            description=(
                "Windows read at once, each with its own cursor chain. Raise it (4 to 8) for a "
                "backfill over a distant API; a scheduled run reads one or two windows. "
                "A 429 from the API slows them all."
            ),
        ),
        th.Property(
            "schema_evolution",
            th.StringType(allowed_values=list(MODES)),
            default="evolve",
            title="Schema Evolution",
            description=(
                "What a field the API sends and the schema lacks does: evolve adds it as a "
                "nullable column typed from its first value (a new SCHEMA message); discard "
                "leaves it out; freeze stops the sync at the first row holding one."
            ),
        ),
        th.Property(
            "request_timeout",
            th.IntegerType(minimum=1),
            default=60,
            title="Request Timeout (seconds)",
            description="Seconds to wait for an answer before retrying the request.",
        ),
        th.Property(
            "max_retries",
            th.IntegerType(minimum=0),
            default=5,
            title="Max Retries",
            description="Retries of a request after a transient failure (429, 5xx, network).",
        ),
        th.Property(
            "ca_bundle",
            th.StringType(min_length=1),
            title="CA Bundle",
            description=(
                "Path to a PEM file of CA certificates to trust instead of the usual ones, such "
                "as the CA of a company proxy that inspects TLS. REQUESTS_CA_BUNDLE, "
                "CURL_CA_BUNDLE and SSL_CERT_FILE work too; certificates are always verified."
            ),
        ),
        th.Property(
            "batch_config",
            th.ObjectType(
                th.Property(
                    "encoding",
                    th.ObjectType(
                        th.Property(
                            "format",
                            th.StringType(allowed_values=["jsonl", "parquet"]),
                            required=True,
                            description=(
                                "File format: jsonl (JSON Lines), or parquet with the parquet "
                                "extra."
                            ),
                        ),
                        th.Property(
                            "compression",
                            th.StringType(allowed_values=["gzip", "none"]),
                            description="gzip or none (the default).",
                        ),
                        additional_properties=False,
                    ),
                    required=True,
                    description="How files are encoded.",
                ),
                th.Property(
                    "storage",
                    th.ObjectType(
                        th.Property(
                            "root",
                            th.StringType(min_length=1),
                            required=True,
                            description="Folder or URL of the files: file:///path or s3://bucket.",
                        ),
                        th.Property(
                            "prefix",
                            th.StringType,
                            description="Put before each file name; a trailing / makes a folder.",
                        ),
                        th.Property(
                            "params",
                            th.ObjectType(additional_properties=True),
                            description=(
                                'Options for the file system, e.g. {"endpoint_url": ...} '
                                "for an S3-compatible store."
                            ),
                        ),
                        additional_properties=False,
                    ),
                    required=True,
                    description="Where files go.",
                ),
                th.Property(
                    "batch_size",
                    th.IntegerType(minimum=1),
                    description="Most rows in one file (default 10000).",
                ),
                additional_properties=False,
            ),
            title="Batch Configuration",
            description=(
                "Write records to files announced by BATCH messages instead of RECORD lines: "
                "encoding (format jsonl or parquet, compression gzip or none), storage (root "
                "file:// or s3:// URL, prefix, params such as endpoint_url) and batch_size (most "
                "rows in one file, default 10000). A STATE never claims a row that is not in an "
                "announced file."
            ),
        ),
    ).to_dict()

    def __init__(self, **kwargs: t.Any) -> None:
        """Load and check the settings and the STATE, and hide the key, before any request."""
        try:
            super().__init__(**kwargs)
        except ConfigValidationError as error:
            problems = "; ".join(map(_without_secret_values, error.errors))
            raise ConfigError(f"Invalid settings: {problems}") from None
        if isinstance(self.config.get("api_key"), str):
            hide_key(self.config["api_key"], self.logger)
        if kwargs.get("validate_config", True):
            check_tenant_settings(self.config)
            check_settings(self.config)
            check_map_settings(self.config)
            check_ca_bundle(self.config)
            for stream in self.streams.values():
                t.cast("IncrementalExport", stream).check_bookmarks()

    @override
    def load_state(self, state: dict[str, t.Any]) -> None:
        """Refuse a STATE of the wrong shape before the SDK reads it."""
        check_state_shape(state)
        super().load_state(state)

    @override
    def discover_streams(self) -> list[IncrementalExport]:
        """Return one instance of each stream."""
        return [stream_class(tap=self) for stream_class in STREAM_TYPES]


def _without_secret_values(problem: str) -> str:
    """Return a config problem, rewritten when it would quote the API key's value."""
    if "config['api_key']" in problem:
        return "config['api_key'] must be a non-empty string"
    return problem
