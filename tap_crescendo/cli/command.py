"""The tap's command line: the SDK's, with what a person gets wrong told in one line."""

from __future__ import annotations

import json
import os
import sys
import typing as t

from singer_sdk import Tap
from singer_sdk.tap_base import CliTestOptionValue

from tap_crescendo.cli.connection_check import (
    answer_meltano_config_test,
    check_connection,
    under_meltano_config_test,
)
from tap_crescendo.cli.inputs import JsonObjectFile, check_environment, read_json_object
from tap_crescendo.output.writer import StateFlushingWriter
from tap_crescendo.stopping import STOP, signal_handlers_kept

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if t.TYPE_CHECKING:
    import click

    from tap_crescendo.sync.export import IncrementalExport


class CommandLine(Tap):
    """Reads `--config`, `--state`, `--catalog` and `TAP_CRESCENDO_*` with one-line errors.

    It also answers `--test` with one line per stream, and `meltano config test` alike, and
    leaves SIGTERM and SIGINT to `__main__`, which stops without claiming success.
    """

    def __init__(self, **kwargs: t.Any) -> None:
        """Create the tap; name the variable the SDK could not read, if that is what failed."""
        try:
            with signal_handlers_kept():  # the SDK's handlers would exit 0 on SIGTERM
                super().__init__(**kwargs)
        except ValueError:
            if kwargs.get("parse_env_config"):
                prefix = f"{self.name.upper().replace('-', '_')}_"
                check_environment(self.config_jsonschema["properties"], prefix, os.environ)
            raise
        if isinstance(self.message_writer, StateFlushingWriter):
            STOP.output = self.message_writer

    @override
    @classmethod
    def cb_config(cls, ctx: click.Context, param: click.Option, value: tuple[str, ...]) -> t.Any:
        """Check each `--config` file (missing, unreadable, not JSON, not an object) first."""
        for path in value:
            if path != "ENV":
                read_json_object(path, "--config")
        return super().cb_config(ctx, param, value)

    @override
    @classmethod
    def get_singer_command(cls) -> click.Command:
        """The SDK's command, its `--state` and `--catalog` files checked as `--config`'s are."""
        command = super().get_singer_command()
        for param in command.params:
            if param.name in {"state", "catalog"}:
                param.type = JsonObjectFile(f"--{param.name}")
        return command

    @override
    @classmethod
    def cb_test(cls, ctx: click.Context, param: click.Option, value: str) -> None:
        """`--test`: one request per stream and one INFO line each; nothing on stdout.

        The SDK's dry run (`run_connection_test`, final) stops each stream after a record
        with `_abort_sync`, whose `MaxRecordsLimitException` `Stream.sync` logs as "An
        unhandled error occurred": a test that passed reads as a failure. Hence this override.
        """
        if value != CliTestOptionValue.All.value:
            super().cb_test(ctx, param, value)
            return
        config = ctx.params["config"]  # what `cb_config` returned, as `Tap.cb_test` reads it
        tap = cls(config=config.config, parse_env_config=config.parse_env, validate_config=True)
        for stream in tap.streams.values():
            for line in check_connection(t.cast("IncrementalExport", stream)):
                tap.logger.info("%s", line)
        ctx.exit()

    @override
    @classmethod
    def invoke(  # type: ignore[override]
        cls,
        *,
        about: bool = False,
        about_format: str | None = None,
        config: t.Any = None,
        state: t.IO[str] | None = None,
        catalog: t.IO[str] | None = None,
    ) -> None:
        """Sync; under `meltano config test`, check each selected stream's connection instead."""
        if about or not under_meltano_config_test():
            super().invoke(
                about=about, about_format=about_format, config=config, state=state, catalog=catalog
            )
            return
        cls.print_version(print_fn=cls.logger.info)
        tap = cls(
            config=config.config,  # what `cb_config` returned, as `Tap.invoke` reads it
            catalog=None if catalog is None else json.load(catalog),
            parse_env_config=config.parse_env,
            validate_config=True,
        )
        answer_meltano_config_test(tap)
