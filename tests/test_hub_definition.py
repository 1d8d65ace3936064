"""The Meltano Hub definition and meltano.yml describe the tap as `tap-crescendo --about` does."""

from __future__ import annotations

import json
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest
import yaml

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
#: What Meltano Hub's extractor schema requires, and the setting fields it allows.
HUB_REQUIRED = {"name", "namespace", "variant", "quality"}
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

    assert set(HUB) >= HUB_REQUIRED
    assert (HUB["name"], HUB["namespace"], HUB["executable"]) == (
        tap["name"],
        tap["namespace"],
        tap["executable"],
    )
    assert [
        setting | {"kind": "string"} if setting["kind"] == "password" else setting
        for setting in HUB["settings"]
    ] == tap["settings"]
    assert HUB["supported_python_versions"] == about["supported_python_versions"]
    assert "meltano_sdk" in HUB["keywords"]


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
