"""The license the package declares is in the repository; a release needs its CHANGELOG entry.

The README stays one page, and every relative link of the README and docs/ leads somewhere.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import typing as t
from importlib import metadata
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
PACKAGE = metadata.metadata("tap-crescendo")
VERSION = PACKAGE["Version"]
#: The pages a reader follows links through: the README and everything in docs/.
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
README_MOST_LINES = 250
FENCED_BLOCK = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"`[^`\n]*`")
LINK_TARGET = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6} +(.+?) *$", re.MULTILINE)


def release_check_script() -> str:
    """The shell script of the release workflow's step that checks the tag."""
    workflow = yaml.safe_load((REPO / ".github/workflows/release.yml").read_text())
    steps: list[dict[str, t.Any]] = workflow["jobs"]["build"]["steps"]
    return next(str(step["run"]) for step in steps if "CHANGELOG.md" in step.get("name", ""))


def test_the_license_file_is_the_apache_2_text_pyproject_declares() -> None:
    text = (REPO / "LICENSE").read_text(encoding="utf-8")

    assert PACKAGE["License-Expression"] == "Apache-2.0"
    assert text.split()[:4] == ["Apache", "License", "Version", "2.0,"]
    assert "END OF TERMS AND CONDITIONS" in text


def test_the_changelog_has_a_section_for_the_packages_version() -> None:
    lines = (REPO / "CHANGELOG.md").read_text(encoding="utf-8").splitlines()

    assert [line for line in lines if line.startswith(f"## [{VERSION}] - ")]


@pytest.mark.skipif(
    shutil.which("bash") is None or sys.version_info < (3, 11),
    reason="the workflow's step runs in bash, with a Python that has tomllib",
)
@pytest.mark.parametrize(
    ("tag", "heading", "passes"),
    [
        pytest.param(f"v{VERSION}", f"## [{VERSION}] - 2026-12-01", True, id="dated"),
        pytest.param(f"v{VERSION}", f"## [{VERSION}] - Unreleased", False, id="not-dated"),
        pytest.param(f"v{VERSION}", "## [9.9.9] - 2026-12-01", False, id="other-version"),
        pytest.param("v9.9.9", f"## [{VERSION}] - 2026-12-01", False, id="tag-not-version"),
    ],
)
def test_a_release_needs_a_dated_changelog_section_for_its_tag(
    tmp_path: Path, tag: str, heading: str, passes: bool
) -> None:
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    (tmp_path / "CHANGELOG.md").write_text(f"# Changelog\n\n{heading}\n\n- Something.\n")
    environment = os.environ | {
        "GITHUB_REF_NAME": tag,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }

    done = subprocess.run(
        ["bash", "-e", "-c", release_check_script()],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )

    assert (done.returncode == 0) is passes, done.stdout


def prose(page: Path) -> str:
    """A Markdown page without its fenced code blocks."""
    return FENCED_BLOCK.sub("", page.read_text(encoding="utf-8"))


def relative_links(page: Path) -> list[str]:
    """The targets of a page's links that stay in the repository."""
    targets = LINK_TARGET.findall(CODE_SPAN.sub("", prose(page)))
    return [target for target in targets if not re.match(r"[a-z][a-z0-9+.-]*:", target)]


def anchors(page: Path) -> set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation dropped, - for spaces."""
    found: set[str] = set()
    for heading in HEADING.findall(prose(page)):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        anchor, repeat = slug, 0
        while anchor in found:
            repeat += 1
            anchor = f"{slug}-{repeat}"
        found.add(anchor)
    return found


def leads_somewhere(page: Path, target: str) -> bool:
    """Tell whether a relative link of a page names a file that exists, and a heading of it."""
    path, _, anchor = target.partition("#")
    linked = (page.parent / path).resolve() if path else page
    if not linked.exists():
        return False
    return not anchor or linked.suffix != ".md" or anchor in anchors(linked)


def test_the_readme_is_one_page() -> None:
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()

    assert len(lines) <= README_MOST_LINES


@pytest.mark.parametrize("page", PAGES, ids=[page.relative_to(REPO).as_posix() for page in PAGES])
def test_every_relative_link_leads_to_a_file_and_heading_that_exist(page: Path) -> None:
    broken = [target for target in relative_links(page) if not leads_somewhere(page, target)]

    assert broken == []


def test_the_docs_index_links_every_page_of_docs() -> None:
    index = REPO / "docs" / "README.md"
    linked = {
        (index.parent / target.partition("#")[0]).resolve() for target in relative_links(index)
    }
    pages = {page.resolve() for page in PAGES if page.parent.name == "docs"}

    assert pages - linked - {index.resolve()} == set()
