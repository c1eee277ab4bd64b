"""Every relative link and image in the README and docs/ points to a file that is in the checkout (a figure left out
of a commit shows up here in CI's clean clone)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")      # [text](target) and ![alt](target)


def _local_targets(page: Path) -> list[str]:
    targets = (m.group(1).split("#", 1)[0] for m in LINK.finditer(page.read_text(encoding="utf-8")))
    return [t for t in targets if t and not re.match(r"[a-z]+:", t)]     # skip http:, mailto:, anchors


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_resolve(page):
    missing = [t for t in _local_targets(page) if not (page.parent / t).exists()]
    assert not missing, f"{page.relative_to(ROOT)} links to missing files: {missing}"


def test_the_pages_have_local_links_at_all():
    assert sum(len(_local_targets(p)) for p in PAGES) > 20        # the pattern still matches the docs' links
