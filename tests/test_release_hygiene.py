"""The license the package declares is in the repository; a release needs its CHANGELOG entry."""

from __future__ import annotations

import os
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
