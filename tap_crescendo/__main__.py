"""The `tap-crescendo` command: the SDK's CLI, with user errors on one line."""

from __future__ import annotations

import sys

from tap_crescendo.errors import CrescendoError
from tap_crescendo.tap import TapCrescendo


def main() -> None:
    """Run the tap; print a user error as one line and exit 1."""
    try:
        TapCrescendo.cli()
    except CrescendoError as error:
        TapCrescendo.logger.error("%s", error)
        sys.exit(1)


if __name__ == "__main__":
    main()
