"""`tap-crescendo-move-tenant`: move a tenant's bookmarks from one Meltano state to another.

`meltano state merge` replaces a stream's whole `partitions` list, so it cannot move one
tenant between the states of two shards: this takes the two states as `meltano state get`
prints them and writes the two to set back with `meltano state set --force`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import typing as t
from pathlib import Path

from tap_crescendo.cli.inputs import read_json_object
from tap_crescendo.errors import CrescendoError, StateError

if t.TYPE_CHECKING:
    from collections.abc import Sequence

State: t.TypeAlias = dict[str, t.Any]
PROG = "tap-crescendo-move-tenant"


class OneLineParser(argparse.ArgumentParser):
    """An argument parser that tells a usage error in one line, without the usage."""

    def error(self, message: str) -> t.NoReturn:
        """Print the problem on one line and exit 2."""
        self.exit(2, f"{self.prog}: {message}\n")


def move_tenant(
    source: State,
    target: State,
    tenant: str,
    names: tuple[str, str] = ("the source state", "the target state"),
) -> dict[str, State]:
    """Move `tenant`'s partition of every stream from `source` to `target`, in place.

    Return the moved partitions by stream. Raise `StateError` naming the state by its name
    in `names`, changing neither, if `source` holds none, or if `target` already holds one.
    """
    context = {"tenant_id": tenant}
    found = {
        stream: (partitions, partition)
        for stream, partitions in _partitions(source, names[0]).items()
        for partition in partitions
        if partition.get("context") == context
    }
    if not found:
        msg = f"Tenant {tenant!r} has no partition in {names[0]}: nothing to move"
        raise StateError(msg)
    for stream, partitions in _partitions(target, names[1]).items():
        if any(partition.get("context") == context for partition in partitions):
            msg = (
                f"Tenant {tenant!r} already has a partition in {names[1]} "
                f"(stream {stream!r}): moving it there would lose one of the two bookmarks"
            )
            raise StateError(msg)
    bookmarks = target.setdefault("singer_state", {}).setdefault("bookmarks", {})
    for stream, (partitions, partition) in found.items():
        partitions.remove(partition)
        bookmarks.setdefault(stream, {}).setdefault("partitions", []).append(partition)
    return {stream: partition for stream, (_, partition) in found.items()}


def _partitions(state: State, name: str) -> dict[str, list[State]]:
    """Each stream's list of partitions in a state as Meltano prints it; `{}` is no state."""
    if not state:
        return {}
    singer_state = state.get("singer_state")
    if not isinstance(singer_state, dict):
        msg = (
            f"{name[0].upper()}{name[1:]} holds no `singer_state` object: give the JSON that "
            "`meltano state get STATE_ID` prints"
        )
        raise StateError(msg)
    bookmarks = singer_state.get("bookmarks", {})
    if not isinstance(bookmarks, dict):
        msg = f"The `bookmarks` of {name} is not an object"
        raise StateError(msg)
    found = {}
    for stream, stream_state in bookmarks.items():
        partitions = stream_state.get("partitions", []) if isinstance(stream_state, dict) else None
        if not isinstance(partitions, list) or not all(isinstance(p, dict) for p in partitions):
            msg = f"The bookmark of stream {stream!r} in {name} has no list of partitions"
            raise StateError(msg)
        found[stream] = partitions
    return found


def _write(path: str, state: State) -> None:
    """Write a state to `path` whole: a new file, then renamed over the old one."""
    written = Path(f"{path}.partial")
    try:
        written.write_text(json.dumps(state) + "\n", encoding="utf-8")
        os.replace(written, path)
    except OSError as error:
        written.unlink(missing_ok=True)
        msg = f"Cannot write {path!r}: {error.strerror or error}"
        raise CrescendoError(msg) from None


def _bookmarks(moved: dict[str, State]) -> str:
    """Each moved stream with its bookmark, for the closing line."""
    return "; ".join(
        f"{stream}: {partition.get('replication_key_value') or 'no bookmark'}"
        for stream, partition in moved.items()
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Move a tenant between two state files; a problem is one line and exit 1."""
    parser = OneLineParser(
        prog=PROG,
        description="Move a tenant's bookmarks from one shard's Meltano state to another's.",
        epilog="Example: meltano state get ID_A > a.json; meltano state get ID_B > b.json; "
        f"{PROG} globex a.json b.json --out a-new.json b-new.json; "
        "meltano state set --force ID_A --input-file a-new.json (and ID_B with b-new.json).",
    )
    parser.add_argument("tenant", help="the tenant to move")
    parser.add_argument("source", help="the state holding the tenant (`meltano state get`)")
    parser.add_argument("target", help="the state to move it into (`{}` if none yet)")
    parser.add_argument(
        "--out",
        nargs=2,
        required=True,
        metavar=("NEW_SOURCE", "NEW_TARGET"),
        help="where to write the two states to set with `meltano state set --force`",
    )
    args = parser.parse_args(argv)
    if Path(args.out[0]).resolve() == Path(args.out[1]).resolve():
        parser.error("--out needs two different files, one for each state")
    try:
        source = json.loads(read_json_object(args.source, "source state"))
        target = json.loads(read_json_object(args.target, "target state"))
        names = (f"the source state {args.source!r}", f"the target state {args.target!r}")
        moved = move_tenant(source, target, args.tenant, names)
        for path, state in zip(args.out, (source, target), strict=True):
            _write(path, state)
    except CrescendoError as error:
        sys.exit(f"{PROG}: {error}")
    print(
        f"Moved tenant {args.tenant!r} ({_bookmarks(moved)}) from {args.source} to "
        f"{args.target}; wrote {args.out[0]} and {args.out[1]}: set them with "
        "`meltano state set --force STATE_ID --input-file FILE`"
    )


if __name__ == "__main__":
    main()
