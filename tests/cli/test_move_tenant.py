"""`tap-crescendo-move-tenant`: one tenant's partitions move, every other bookmark stays."""

from __future__ import annotations

import json
import subprocess
import sys
import typing as t
from importlib.metadata import entry_points

import pytest

from tap_crescendo.cli.move_tenant import main

if t.TYPE_CHECKING:
    from pathlib import Path

Row: t.TypeAlias = dict[str, t.Any]
RUN = "file:///var/lib/crescendo/batches/bot_conversations-20261126T100002Z-9be5b8fc"


def partition(tenant: str, bookmark: str | None = None) -> Row:
    """A tenant's partition as the tap writes it, with a bookmark or without one."""
    if bookmark is None:
        return {"context": {"tenant_id": tenant}}
    return {
        "context": {"tenant_id": tenant},
        "batch_runs": {f"{RUN}-{tenant}": 2},
        "replication_key": "DatetimeUTC",
        "replication_key_value": bookmark,
    }


def meltano_state(bot: list[Row], voc: list[Row]) -> Row:
    """A state as `meltano state get` prints it."""
    bookmarks = {"bot_conversations": {"partitions": bot}, "voc_conversations": {"partitions": voc}}
    return {"singer_state": {"bookmarks": bookmarks}}


SHARD_A = meltano_state(
    [partition("acme", "2026-10-10T23:59:59.995Z"), partition("globex", "2026-10-10T23:46:10.61Z")],
    [partition("acme", "2026-10-09T08:00:00Z"), partition("globex")],
)
SHARD_B = meltano_state([partition("initech", "2026-10-10T23:55:37.895Z")], [partition("initech")])


def files(folder: Path, source: Row | str, target: Row | str) -> list[str]:
    """Write the two states (objects, or text as is) and return the command's arguments."""
    for name, content in (("a.json", source), ("b.json", target)):
        text = content if isinstance(content, str) else json.dumps(content)
        (folder / name).write_text(text, encoding="utf-8")
    return [str(folder / "a.json"), str(folder / "b.json")]


def move(folder: Path, *args: str) -> None:
    """Run the command in this process, writing a-new.json and b-new.json into `folder`."""
    main([*args, "--out", str(folder / "a-new.json"), str(folder / "b-new.json")])


def written(folder: Path) -> tuple[Row, Row]:
    """The two states the command wrote."""
    return tuple(
        json.loads((folder / name).read_text(encoding="utf-8"))
        for name in ("a-new.json", "b-new.json")
    )


def test_the_tenant_s_partition_of_each_stream_moves_and_every_other_bookmark_stays(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, target = files(tmp_path, SHARD_A, SHARD_B)
    move(tmp_path, "globex", source, target)

    assert written(tmp_path) == (
        meltano_state(
            [partition("acme", "2026-10-10T23:59:59.995Z")],
            [partition("acme", "2026-10-09T08:00:00Z")],
        ),
        meltano_state(
            [
                partition("initech", "2026-10-10T23:55:37.895Z"),
                partition("globex", "2026-10-10T23:46:10.61Z"),
            ],
            [partition("initech"), partition("globex")],
        ),
    )
    assert capsys.readouterr().out == (
        "Moved tenant 'globex' (bot_conversations: 2026-10-10T23:46:10.61Z; voc_conversations: "
        f"no bookmark) from {source} to {target}; wrote {tmp_path / 'a-new.json'} and "
        f"{tmp_path / 'b-new.json'}: set them with "
        "`meltano state set --force STATE_ID --input-file FILE`\n"
    )
    # The states given are left as they were.
    assert json.loads((tmp_path / "a.json").read_text()) == SHARD_A
    assert json.loads((tmp_path / "b.json").read_text()) == SHARD_B


def test_a_tenant_moves_into_a_shard_without_state(tmp_path: Path) -> None:
    move(tmp_path, "acme", *files(tmp_path, SHARD_A, "{}\n"))

    source, target = written(tmp_path)
    assert source["singer_state"]["bookmarks"]["bot_conversations"]["partitions"] == [
        partition("globex", "2026-10-10T23:46:10.61Z")
    ]
    assert target == meltano_state(
        [partition("acme", "2026-10-10T23:59:59.995Z")],
        [partition("acme", "2026-10-09T08:00:00Z")],
    )


def test_the_new_states_may_replace_the_files_given(tmp_path: Path) -> None:
    source, target = files(tmp_path, SHARD_A, SHARD_B)
    main(["globex", source, target, "--out", source, target])

    assert json.loads((tmp_path / "a.json").read_text())["singer_state"]["bookmarks"][
        "bot_conversations"
    ]["partitions"] == [partition("acme", "2026-10-10T23:59:59.995Z")]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a.json", "b.json"]


@pytest.mark.parametrize(
    ("tenant", "source", "target", "line"),
    [
        pytest.param(
            "umbrella",
            SHARD_A,
            SHARD_B,
            "Tenant 'umbrella' has no partition in the source state '{a}': nothing to move",
            id="not-in-source",
        ),
        pytest.param(
            "initech",
            SHARD_B,
            SHARD_B,
            "Tenant 'initech' already has a partition in the target state '{b}' (stream "
            "'bot_conversations'): moving it there would lose one of the two bookmarks",
            id="already-in-target",
        ),
        pytest.param(
            "globex",
            '{"singer_state": {"bookmarks": {"bot_conversations": {"partitions": [',
            SHARD_B,
            "The source state file '{a}' is not valid JSON: Expecting value (line 1, column 70)",
            id="cut-short",
        ),
        pytest.param(
            "globex",
            SHARD_A,
            "[]",
            "The target state file '{b}' holds an array; it must hold a JSON object ({{...}})",
            id="not-an-object",
        ),
        pytest.param(
            "globex",
            SHARD_A["singer_state"],
            SHARD_B,
            "The source state '{a}' holds no `singer_state` object: give the JSON that "
            "`meltano state get STATE_ID` prints",
            id="bare-singer-state",
        ),
        pytest.param(
            "globex",
            SHARD_A,
            {"singer_state": {"bookmarks": {"bot_conversations": {"partitions": {}}}}},
            "The bookmark of stream 'bot_conversations' in the target state '{b}' has no list "
            "of partitions",
            id="partitions-not-a-list",
        ),
        pytest.param(
            "globex",
            SHARD_A,
            {"singer_state": {"bookmarks": []}},
            "The `bookmarks` of the target state '{b}' is not an object",
            id="bookmarks-not-an-object",
        ),
    ],
)
def test_a_refusal_is_one_line_exit_1_and_writes_nothing(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    tenant: str,
    source: Row | str,
    target: Row | str,
    line: str,
) -> None:
    paths = files(tmp_path, source, target)
    with pytest.raises(SystemExit) as stopped:
        move(tmp_path, tenant, *paths)

    assert stopped.value.code == "tap-crescendo-move-tenant: " + line.format(a=paths[0], b=paths[1])
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a.json", "b.json"]
    assert capsys.readouterr().out == ""


def test_a_state_file_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(SystemExit) as stopped:
        move(tmp_path, "globex", str(missing), files(tmp_path, SHARD_A, SHARD_B)[1])

    assert stopped.value.code == (
        f"tap-crescendo-move-tenant: Cannot read the source state file '{missing}': "
        "No such file or directory"
    )


def test_an_output_that_cannot_be_written_is_named_and_leaves_no_partial_file(
    tmp_path: Path,
) -> None:
    source, target = files(tmp_path, SHARD_A, SHARD_B)
    folder = tmp_path / "missing-folder"
    with pytest.raises(SystemExit) as stopped:
        main(["globex", source, target, "--out", str(folder / "a.json"), str(folder / "b.json")])

    assert stopped.value.code == (
        f"tap-crescendo-move-tenant: Cannot write '{folder / 'a.json'}': No such file or directory"
    )
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a.json", "b.json"]


@pytest.mark.parametrize(
    ("args", "line"),
    [
        pytest.param(
            ["globex", "a.json", "b.json"],
            "the following arguments are required: --out",
            id="no-out",
        ),
        pytest.param(
            ["globex", "a.json", "b.json", "--out", "new.json", "./new.json"],
            "--out needs two different files, one for each state",
            id="one-out-twice",
        ),
    ],
)
def test_a_usage_error_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], line: str
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(args)

    assert stopped.value.code == 2
    assert capsys.readouterr().err == f"tap-crescendo-move-tenant: {line}\n"


def test_the_documented_command_is_installed_and_runs_this_main() -> None:
    (script,) = entry_points(group="console_scripts", name="tap-crescendo-move-tenant")

    assert script.load() is main


@pytest.mark.slow
def test_the_command_says_a_refusal_in_one_line_without_a_traceback(tmp_path: Path) -> None:
    source, target = files(tmp_path, SHARD_A, SHARD_B)
    argv = [sys.executable, "-m", "tap_crescendo.cli.move_tenant", "umbrella", source, target]
    done = subprocess.run(
        [*argv, "--out", str(tmp_path / "x.json"), str(tmp_path / "y.json")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        f"tap-crescendo-move-tenant: Tenant 'umbrella' has no partition in the source state "
        f"'{source}': nothing to move\n"
    )
