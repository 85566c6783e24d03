"""The docs stay short where they must and point at what exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
PAGES = [
    README,
    *sorted((ROOT / "docs").glob("*.md")),
    *sorted((ROOT / "bench" / "results").glob("*.md")),
]
README_MAX_LINES = 250

_FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#+ (.+)$", re.MULTILINE)
_SETTING = re.compile(r"\benv\.\w+\(\s*\"([A-Z0-9_]+)\"")


def links(text: str) -> list[str]:
    """Return the targets of text's Markdown links and images, code blocks left out."""
    return _LINK.findall(_FENCE.sub("", text))


def anchor(heading: str) -> str:
    """Return the anchor GitHub gives a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    return {anchor(heading) for heading in _HEADING.findall(_FENCE.sub("", path.read_text()))}


def reaches(target: Path, fragment: str) -> bool:
    """Return whether target exists and, for a Markdown page, has the heading fragment names."""
    if not target.exists():
        return False
    return not fragment or target.suffix != ".md" or fragment in anchors(target)


def relative_links(page: Path) -> list[tuple[str, Path, str]]:
    """Return (link, file, anchor) for each of page's links within the repository."""
    found = []
    for link in links(page.read_text()):
        if re.match(r"[a-z][a-z0-9+.-]*:", link):  # http:, https:, mailto:
            continue
        target, _, fragment = link.partition("#")
        found.append((link, (page.parent / target).resolve() if target else page, fragment))
    return found


def test_it_finds_links_and_anchors_as_github_renders_them():
    text = "See [the API](docs/api.md#errors) and ![a](x.png).\n```\n[not](a-link.md)\n```\n"
    assert links(text) == ["docs/api.md#errors", "x.png"]
    assert anchor("`make run` and `make test`") == "make-run-and-make-test"
    assert anchor("Refresh, throttling and API tokens") == "refresh-throttling-and-api-tokens"


def test_it_keeps_the_readme_short_enough_to_read_in_five_minutes():
    lines = len(README.read_text().splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move detail to docs/"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_it_links_only_to_files_and_headings_that_exist(page):
    broken = [link for link, target, part in relative_links(page) if not reaches(target, part)]
    assert broken == []


def test_it_lists_every_environment_setting_in_the_configuration_table():
    table = (ROOT / "docs" / "operations.md").read_text()
    names = {
        name
        for module in sorted((ROOT / "pricehub").glob("settings*.py"))
        for name in _SETTING.findall(module.read_text())
    }
    assert names  # the pattern still finds the settings
    assert sorted(name for name in names if f"`{name}`" not in table) == []
