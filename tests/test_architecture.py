"""docs/CONTRIBUTING.md draws the package as it is: every module, each folder, the layers."""

from __future__ import annotations

import json
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "tap_crescendo"
CONTRIBUTING = REPO / "docs" / "CONTRIBUTING.md"
#: A folder's table starts after a line such as "`api/`, the HTTP layer:".
FOLDER = re.compile(r"^`(\w+)/`")
MODULE_ROW = re.compile(r"^\| `(\w+\.py)` \|")


def architecture() -> str:
    """The architecture section of docs/CONTRIBUTING.md."""
    text = CONTRIBUTING.read_text(encoding="utf-8")
    return text.split("## Architecture", 1)[1].split("\n## ", 1)[0]


def described_modules() -> set[str]:
    """The modules the architecture's tables name, as paths inside the package."""
    folder, named = "", set()
    for line in architecture().splitlines():
        if folder_line := FOLDER.match(line):
            folder = f"{folder_line[1]}/"
        elif row := MODULE_ROW.match(line):
            named.add(folder + row[1])
    return named


def test_the_architecture_names_every_module_of_the_package_and_no_other() -> None:
    modules = {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if path.name != "__init__.py" and "fake_api" not in path.parts
    }

    assert described_modules() == modules


def test_each_folder_of_the_package_says_what_it_owns_and_may_import() -> None:
    folders = [path for path in PACKAGE.iterdir() if (path / "__init__.py").exists()]
    docstrings = {
        folder.name: (folder / "__init__.py").read_text(encoding="utf-8") for folder in folders
    }

    assert {name for name, text in docstrings.items() if "Owns" not in text} <= {"fake_api"}
    assert [name for name, text in docstrings.items() if "mport" not in text] in ([], ["fake_api"])


def test_the_layers_drawn_are_the_layers_import_linter_checks() -> None:
    # The one `layers = [...]` of pyproject.toml: a list of strings, as JSON writes one.
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    [listed] = re.findall(r"^layers = (\[.*?^\])", pyproject, re.MULTILINE | re.DOTALL)
    layers = json.loads(re.sub(r",\s*\]$", "]", listed))
    drawn = architecture().split("### Layers", 1)[1].split("```")[1].strip().splitlines()

    assert drawn == [layer.replace("tap_crescendo.", "") for layer in layers]
