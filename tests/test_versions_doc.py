"""docs/versions.md says what the metadata declares: every requirement, every Python."""

from __future__ import annotations

import re

from packaging.requirements import Requirement

from tests import matrix

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

PAGE = matrix.ROOT / "docs" / "versions.md"


def normalized(text: str) -> str:
    requirement = Requirement(text)
    extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
    specs = ",".join(sorted(str(s) for s in requirement.specifier))
    return f"{requirement.name.lower()}{extras}{specs}"


def declared() -> set[str]:
    """Every requirement of the six pyproject files but the core's extras (the integrations)."""
    found: set[str] = set()
    for path in [
        matrix.ROOT / "pyproject.toml",
        *matrix.ROOT.glob("integrations/*/pyproject.toml"),
    ]:
        project = tomllib.loads(path.read_text())["project"]
        found.update(project["dependencies"])
        for requirements in project.get("optional-dependencies", {}).values():
            found.update(r for r in requirements if not r.startswith("awsrefs"))
    return {normalized(r) for r in found}


def test_every_declared_requirement_is_on_the_page_and_nothing_else():
    text = PAGE.read_text()
    on_page = {
        normalized(r) for r in re.findall(r"`([A-Za-z][\w.-]*(?:\[[\w,]+\])?[<>=!~][^`]*)`", text)
    }
    assert on_page == declared()


def test_the_python_versions_are_the_classifiers():
    versions = matrix.supported_pythons()
    sentence = f"Python {', '.join(versions[:-1])} and {versions[-1]}"
    assert sentence in PAGE.read_text()


def test_the_page_is_in_the_nav():
    assert "versions.md" in (matrix.ROOT / "mkdocs.yml").read_text()
