"""The Meltano Hub definition and meltano.yml describe the tap as `tap-crescendo --about` does."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import typing as t
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from meltano.core.logging.parsers import get_parser_factory
from meltano.core.plugin.singer.base import SingerPlugin

from tests.support.tap_process import run_tap, tap_argv, tap_environment
from tests.support.tap_runs import API_KEY, tap_config

if t.TYPE_CHECKING:
    from tap_crescendo.fake_api import FakeCrescendo

REPO = Path(__file__).resolve().parents[1]
HUB = yaml.safe_load((REPO / "meltano-hub.yml").read_text(encoding="utf-8"))
PROJECT = yaml.safe_load((REPO / "meltano.yml").read_text(encoding="utf-8"))
EXTRACTORS = {plugin["name"]: plugin for plugin in PROJECT["plugins"]["extractors"]}
#: Both files list the Singer SDK's built-in settings too, exactly as --about does.
SDK_SETTINGS = {
    *("stream_maps", "stream_map_config", "faker_config", "flattening_enabled"),
    *("flattening_max_depth", "flattening_max_key_length", "flattening_separator"),
}
#: The Meltano setting kind for each JSON type (after `secret`, `enum` and `format` are read).
KINDS = {
    "string": "string",
    "integer": "integer",
    "number": "decimal",
    "boolean": "boolean",
    "object": "object",
    "array": "array",
}
#: What Meltano Hub's extractor schema requires, the only fields it allows, the capabilities it
#: knows (meltano/hub, schemas/plugin_definitions/extractors.schema.json), and setting fields.
HUB_REQUIRED = {"name", "namespace", "variant", "quality"}
HUB_FIELDS = {
    *("name", "pip_url", "variant", "namespace", "label", "description", "executable"),
    *("settings", "docs", "repo", "logo_url", "hidden", "python", "settings_group_validation"),
    *("commands", "capabilities", "metadata", "schema", "select", "maintenance_status"),
    *("quality", "domain_url", "keywords", "requires", "definition", "next_steps"),
    *("settings_preamble", "usage", "prereq", "supported_python_versions", "log_parser"),
}
HUB_CAPABILITIES = {
    *("properties", "catalog", "discover", "state", "about", "stream-maps", "schema-flattening"),
    *("activate-version", "batch", "test", "log-based", "structured-logging"),
}
SETTING_FIELDS = {"name", "kind", "label", "description", "value", "options", "sensitive"}
DEFINITIONS = [
    pytest.param(HUB, id="meltano-hub"),
    pytest.param(EXTRACTORS["tap-crescendo"], id="meltano-yml"),
]
#: The kind of a secret: the Hub's `password`; Meltano 4 rewrites that to `string` (with
#: `sensitive: true`) in meltano.yml, so meltano.yml says `string` to stay as written.
SECRET_KINDS = [
    pytest.param(HUB, "password", id="meltano-hub"),
    pytest.param(EXTRACTORS["tap-crescendo"], "string", id="meltano-yml"),
]
#: The logging config Meltano hands a plugin that claims `structured-logging`; it reads the
#: plugin's stderr with the Hub definition's `log_parser` (meltano/core/plugin/singer/base.py).
MELTANO_LOG_CONFIG = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"singer_formatter": {"()": "singer_sdk.logging.StructuredFormatter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "singer_formatter",
            "stream": "ext://sys.stderr",
        }
    },
    "root": {"handlers": ["console"], "level": "INFO"},
}


@pytest.fixture(scope="module")
def about() -> dict[str, t.Any]:
    """What the tap says of itself."""
    command = [str(Path(sys.executable).with_name("tap-crescendo")), "--about", "--format", "json"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    described: dict[str, t.Any] = json.loads(done.stdout)
    return described


def kind_of(prop: dict[str, t.Any], secret_kind: str) -> str:
    """The Meltano kind of a setting's JSON schema."""
    if prop.get("secret"):
        return secret_kind
    if "enum" in prop:
        return "options"
    if prop.get("format") == "date-time":
        return "date_iso8601"
    types = prop["type"] if isinstance(prop["type"], list) else [prop["type"]]
    (json_type,) = set(types) - {"null"}
    return KINDS[json_type]


@pytest.mark.parametrize("definition", DEFINITIONS)
def test_capabilities_are_the_taps(definition: dict[str, t.Any], about: dict[str, t.Any]) -> None:
    assert sorted(definition["capabilities"]) == sorted(about["capabilities"])
    assert "test" in about["capabilities"]  # `--test`, which the SDK does not claim by itself


@pytest.mark.parametrize("definition", DEFINITIONS)
def test_settings_are_the_taps_own_and_the_sdks(
    definition: dict[str, t.Any], about: dict[str, t.Any]
) -> None:
    names = [setting["name"] for setting in definition["settings"]]

    assert sorted(names) == sorted(about["settings"]["properties"])
    assert set(names) >= SDK_SETTINGS


@pytest.mark.parametrize(("definition", "secret_kind"), SECRET_KINDS)
def test_each_setting_has_the_taps_kind_label_description_default_and_secrecy(
    definition: dict[str, t.Any], secret_kind: str, about: dict[str, t.Any]
) -> None:
    properties = about["settings"]["properties"]
    for setting in definition["settings"]:
        prop = properties[setting["name"]]
        assert set(setting) <= SETTING_FIELDS, setting["name"]
        assert setting["kind"] == kind_of(prop, secret_kind), setting["name"]
        assert setting["label"] == prop["title"], setting["name"]
        assert setting["description"] == prop["description"], setting["name"]
        assert setting.get("value") == prop.get("default"), setting["name"]
        assert setting.get("sensitive", False) == prop.get("secret", False), setting["name"]
        options = [option["value"] for option in setting.get("options", [])]
        assert options == prop.get("enum", []), setting["name"]


@pytest.mark.parametrize("definition", DEFINITIONS)
def test_the_valid_groups_are_the_required_settings_and_either_tenant_setting(
    definition: dict[str, t.Any], about: dict[str, t.Any]
) -> None:
    required = about["settings"]["required"]

    assert definition["settings_group_validation"] == [
        [*required, "tenant_id"],
        [*required, "tenant_ids"],
    ]


def test_meltano_yml_installs_the_tap_without_the_hub() -> None:
    tap = EXTRACTORS["tap-crescendo"]

    assert "variant" not in tap
    assert (tap["namespace"], tap["pip_url"], tap["executable"]) == (
        "tap_crescendo",
        "-e .",
        "tap-crescendo",
    )
    for loader in PROJECT["plugins"]["loaders"]:
        assert "variant" not in loader
        assert {"namespace", "pip_url", "executable", "settings"} <= set(loader), loader["name"]


def test_hub_definition_names_the_same_plugin_as_meltano_yml(about: dict[str, t.Any]) -> None:
    tap = EXTRACTORS["tap-crescendo"]

    assert (HUB["name"], HUB["namespace"], HUB["executable"]) == (
        tap["name"],
        tap["namespace"],
        tap["executable"],
    )
    assert [
        setting | {"kind": "string"} if setting["kind"] == "password" else setting
        for setting in HUB["settings"]
    ] == tap["settings"]
    assert "meltano_sdk" in HUB["keywords"]


def test_the_hub_definition_keeps_to_the_hubs_schema_and_links_the_repository() -> None:
    urls = metadata.metadata("tap-crescendo").get_all("Project-URL", [])

    assert HUB_REQUIRED <= set(HUB) <= HUB_FIELDS
    assert set(HUB["capabilities"]) <= HUB_CAPABILITIES
    assert f"Repository, {HUB['repo']}" in urls
    assert HUB["docs"] == f"{HUB['repo']}#readme"


def test_every_list_of_the_supported_pythons_is_the_same(about: dict[str, t.Any]) -> None:
    package = metadata.metadata("tap-crescendo")
    prefix = "Programming Language :: Python :: 3."
    classifiers = [
        c.rpartition(" ")[2] for c in package.get_all("Classifier", []) if c.startswith(prefix)
    ]
    workflow = yaml.safe_load((REPO / ".github/workflows/test.yml").read_text(encoding="utf-8"))
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    tested = re.search(r"^PYTHONS := (.+)$", makefile, re.MULTILINE)

    assert package["Requires-Python"] == f">={classifiers[0]}"
    assert workflow["jobs"]["test"]["strategy"]["matrix"]["python-version"] == classifiers
    assert tested is not None
    assert tested[1].split() == classifiers
    assert HUB["supported_python_versions"] == classifiers
    assert about["supported_python_versions"] == classifiers


@pytest.mark.slow
@pytest.mark.parametrize(
    ("key", "returncode", "errors"),
    [
        pytest.param(API_KEY, 0, [], id="sync"),
        pytest.param(
            "revoked-key",
            1,
            [
                "An unhandled error occurred while syncing 'bot_conversations'",
                "HTTP 401 Unauthenticated: Authorization header with Bearer token is required. "
                "The API key was refused: check the `api_key` setting",
            ],
            id="refused-key",
        ),
    ],
)
def test_meltano_reads_every_line_the_tap_logs_with_the_hubs_log_parser(
    fake: FakeCrescendo,
    api_url: str,
    tmp_path: Path,
    key: str,
    returncode: int,
    errors: list[str],
) -> None:
    log_config = tmp_path / "logging.json"
    log_config.write_text(json.dumps(MELTANO_LOG_CONFIG))
    environment = tap_environment(SINGER_SDK_LOG_CONFIG=str(log_config))
    parser = get_parser_factory().get_parser(HUB["log_parser"])
    assert parser is not None

    command = run_tap(tap_argv(tmp_path, tap_config(api_url, api_key=key)), environment)
    records = [parser.parse(line) for line in command.stderr.splitlines()]
    # meltano.yml names no parser: Meltano gives every Singer plugin this one unless told.
    meltano_defaults = {setting.name: setting.value for setting in SingerPlugin.EXTRA_SETTINGS}

    assert "structured-logging" in HUB["capabilities"]
    assert meltano_defaults["_log_parser"] == HUB["log_parser"]
    assert command.returncode == returncode
    assert len(records) > len(errors)
    assert None not in records
    assert [r.message for r in records if r and r.level >= logging.ERROR] == errors


def test_only_the_demo_environment_holds_a_literal_api_key() -> None:
    sensitive = {"api_key", "password"}
    configs = [
        (f"{environment['name']}/{plugin['name']}", plugin.get("config", {}))
        for environment in PROJECT["environments"]
        if environment["name"] != "demo"
        for plugins in environment["config"]["plugins"].values()
        for plugin in plugins
    ]
    configs += [(name, plugin.get("config", {})) for name, plugin in EXTRACTORS.items()]
    configs += [
        (plugin["name"], plugin.get("config", {})) for plugin in PROJECT["plugins"]["loaders"]
    ]

    for where, config in configs:
        for name in sensitive & set(config):
            assert config[name].startswith("$"), f"{where}: {name} must come from an env var"


def test_the_readme_settings_table_is_the_about_table() -> None:
    about = subprocess.run(
        [sys.executable, "-m", "tap_crescendo", "--about", "--format", "markdown"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    readme = (REPO / "README.md").read_text(encoding="utf-8")

    def settings_rows(text: str) -> list[str]:
        rows = text[text.index("| Setting | Required |") :].split("\n\n", 1)[0].splitlines()
        return [row for row in rows if row.split("|")[1].strip().split(".")[0] not in SDK_SETTINGS]

    assert settings_rows(readme) == settings_rows(about)
