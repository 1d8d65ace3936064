"""Files and variables a person got wrong: one line naming them, no traceback, no request."""

from __future__ import annotations

import json
import re
import typing as t

import pytest

from tap_crescendo.cli.inputs import check_environment
from tap_crescendo.errors import ConfigError
from tap_crescendo.tap import TapCrescendo
from tests.support.tap_process import error_lines, run_tap, tap_argv, tap_environment
from tests.support.tap_runs import API_KEY, TENANT, tap_config

if t.TYPE_CHECKING:
    from pathlib import Path

    from tap_crescendo.fake_api import FakeCrescendo

#: A STATE file cut short by a full disk.
CUT_STATE = '{"bookmarks": {\n  "bot_conversations": {"replication_key": "DatetimeUTC", "replic'


@pytest.mark.slow
@pytest.mark.parametrize(
    ("option", "content", "expected"),
    [
        pytest.param(
            "--config",
            None,
            "Cannot read the --config file '{path}': No such file or directory",
            id="config-missing",
        ),
        pytest.param(
            "--config",
            "DIRECTORY",
            "Cannot read the --config file '{path}': Is a directory",
            id="config-unreadable",
        ),
        pytest.param(
            "--config",
            b'{"api_key": "\xff"}',
            "The --config file '{path}' is not UTF-8 text",
            id="config-not-utf8",
        ),
        pytest.param(
            "--config",
            '{"api_key": "k",\n "tenant_id": "t",}\n',
            "The --config file '{path}' is not valid JSON: Illegal trailing comma before end "
            "of object (line 2, column 18)",
            id="config-trailing-comma",
        ),
        pytest.param(
            "--config",
            "",
            "The --config file '{path}' is empty; it must hold a JSON object, e.g. {{}}",
            id="config-empty",
        ),
        pytest.param(
            "--config",
            '["api_key", "k"]',
            "The --config file '{path}' holds an array; it must hold a JSON object ({{...}})",
            id="config-not-an-object",
        ),
        pytest.param(
            "--state",
            None,
            "Cannot read the --state file '{path}': No such file or directory",
            id="state-missing",
        ),
        pytest.param(
            "--state",
            CUT_STATE,
            "The --state file '{path}' is not valid JSON: Unterminated string starting at "
            "(line 2, column 59)",
            id="state-cut-short",
        ),
        pytest.param(
            "--state",
            "null",
            "The --state file '{path}' holds null; it must hold a JSON object ({{...}})",
            id="state-not-an-object",
        ),
        pytest.param(
            "--catalog",
            None,
            "Cannot read the --catalog file '{path}': No such file or directory",
            id="catalog-missing",
        ),
        pytest.param(
            "--catalog",
            '{"streams": [}',
            "The --catalog file '{path}' is not valid JSON: Expecting value (line 1, column 14)",
            id="catalog-not-json",
        ),
        pytest.param(
            "--catalog",
            '"streams"',
            "The --catalog file '{path}' holds a string; it must hold a JSON object ({{...}})",
            id="catalog-not-an-object",
        ),
    ],
)
def test_a_bad_file_stops_with_one_line_naming_it(
    fake: FakeCrescendo,
    api_url: str,
    tmp_path: Path,
    option: str,
    content: str | bytes | None,
    expected: str,
) -> None:
    path = tmp_path / f"bad{option}.json"
    if content == "DIRECTORY":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    config = None if option == "--config" else tap_config(api_url)

    command = run_tap(tap_argv(tmp_path, config, option, str(path)))

    assert command.returncode == 1
    assert "Traceback" not in command.stderr
    assert error_lines(command.stderr) == [expected.format(path=path)]
    assert fake.requests == []


@pytest.mark.slow
@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        pytest.param(
            "TAP_CRESCENDO_PAGE_SIZE",
            "abc",
            "Environment variable TAP_CRESCENDO_PAGE_SIZE must be an integer (`page_size`), "
            "not 'abc'",
            id="integer",
        ),
        pytest.param(
            "TAP_CRESCENDO_STREAM_MAPS",
            '{"bot_conversations": {"RemoteIp": null}',
            "Environment variable TAP_CRESCENDO_STREAM_MAPS must be JSON (`stream_maps`): "
            "Expecting ',' delimiter (line 1, column 41)",
            id="object",
        ),
    ],
)
def test_a_variable_not_of_its_settings_type_stops_with_one_line_naming_it(
    fake: FakeCrescendo, api_url: str, tmp_path: Path, variable: str, value: str, expected: str
) -> None:
    environment = tap_environment(
        TAP_CRESCENDO_API_KEY=API_KEY,
        TAP_CRESCENDO_TENANT_ID=TENANT,
        TAP_CRESCENDO_API_URL=api_url,
        **{variable: value},
    )

    command = run_tap(tap_argv(tmp_path, None, "--config", "ENV"), environment)

    assert command.returncode == 1
    assert "Traceback" not in command.stderr
    assert error_lines(command.stderr) == [expected]
    assert fake.requests == []


@pytest.mark.slow
def test_good_files_and_variables_still_run(
    fake: FakeCrescendo, bot_rows: list[dict[str, t.Any]], api_url: str, tmp_path: Path
) -> None:
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"bookmarks": {}}))
    environment = tap_environment(TAP_CRESCENDO_PAGE_SIZE="25")

    command = run_tap(
        tap_argv(tmp_path, tap_config(api_url), "--config", "ENV", "--state", str(state)),
        environment,
    )

    assert command.returncode == 0, command.stderr[-3000:]
    records = [m for m in command.messages if m["type"] == "RECORD"]
    assert len(records) == len(bot_rows)
    assert {r.query["limit"] for r in fake.requests} == {"25"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("12", None, id="integer"),
        pytest.param("1.5", "must be an integer (`page_size`), not '1.5'", id="decimal"),
        pytest.param("", "must be an integer (`page_size`), not ''", id="empty"),
    ],
)
def test_integer_variables_are_checked_as_the_sdk_reads_them(
    value: str, expected: str | None
) -> None:
    settings = TapCrescendo.config_jsonschema["properties"]
    environ = {"TAP_CRESCENDO_PAGE_SIZE": value}

    if expected is None:
        check_environment(settings, "TAP_CRESCENDO_", environ)
    else:
        with pytest.raises(ConfigError, match=re.escape(f"TAP_CRESCENDO_PAGE_SIZE {expected}")):
            check_environment(settings, "TAP_CRESCENDO_", environ)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        pytest.param(
            '{"a": 1,\n}',
            "Illegal trailing comma before end of object (line 1, column 8)",
            id="object-trailing-comma",
        ),
        pytest.param(
            "[1, 2 , ]",
            "Illegal trailing comma before end of array (line 1, column 7)",
            id="array-trailing-comma",
        ),
        pytest.param(
            '{"a": [1,}', "Expecting value (line 1, column 10)", id="array-closed-by-brace"
        ),
        pytest.param(
            '{"a": 1, ]',
            "Expecting property name enclosed in double quotes (line 1, column 10)",
            id="object-closed-by-bracket",
        ),
    ],
)
def test_a_json_mistake_is_worded_as_python_3_13_words_it_on_every_python(
    value: str, problem: str
) -> None:
    environ = {"TAP_CRESCENDO_STREAM_MAPS": value}

    with pytest.raises(ConfigError) as raised:
        check_environment({"stream_maps": {"type": "object"}}, "TAP_CRESCENDO_", environ)

    assert str(raised.value) == (
        f"Environment variable TAP_CRESCENDO_STREAM_MAPS must be JSON (`stream_maps`): {problem}"
    )


def test_a_secret_variable_is_never_quoted() -> None:
    settings = {"api_key": {"type": "integer", "secret": True}}

    with pytest.raises(ConfigError) as raised:
        check_environment(settings, "TAP_CRESCENDO_", {"TAP_CRESCENDO_API_KEY": API_KEY})

    assert API_KEY not in str(raised.value)
