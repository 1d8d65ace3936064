"""The `tap-crescendo` command: the SDK's CLI, with user errors and stops on one line."""

from __future__ import annotations

import sys

from tap_crescendo.errors import CrescendoError
from tap_crescendo.stopping import STOP, StopRequested, exit_without_waiting
from tap_crescendo.tap import TapCrescendo


def main() -> None:
    """Run the tap; print a user error or a stop as one line and exit non-zero."""
    STOP.stop_on_signals()
    try:
        TapCrescendo.cli()
    except CrescendoError as error:
        TapCrescendo.logger.error("%s", error)
        sys.exit(1)
    except StopRequested as stop:
        STOP.end_output()
        TapCrescendo.logger.error("%s", stop)
        exit_without_waiting(stop.exit_code)


if __name__ == "__main__":
    main()
