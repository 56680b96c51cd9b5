"""README.md is a front page: small, and its first screen tells a newcomer how to deploy and the two commands."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
FIRST_SCREEN_LINES = 60
LINK = re.compile(r"\]\(([^)#\s]+)(#[^)\s]*)?\)")


def readme() -> str:
    return README.read_text(encoding="utf-8")


def first_screen() -> str:
    return "\n".join(readme().splitlines()[:FIRST_SCREEN_LINES])


def test_the_readme_stays_a_front_page_of_at_most_16_kb():
    assert len(README.read_bytes()) <= 16 * 1024


def test_the_first_screen_says_how_to_deploy_who_may_and_what_it_costs():
    screen = first_screen()
    assert "azd up" in screen
    assert "User Access Administrator" in screen and "elevate access" in screen
    assert "SKIP_MANAGEMENT_GROUP_ROLE" in screen  # the way through for someone without the right
    assert "$5 a month" in screen
    assert "WEBHOOK_URL" in screen


def test_the_first_screen_names_the_demo_and_the_test_command():
    screen = first_screen()
    assert "make demo" in screen
    assert "<!-- test-command -->\n```bash\nmake test\n```" in screen


def test_every_local_link_resolves_and_every_docs_page_is_linked():
    linked = {target for target, _ in LINK.findall(readme()) if not target.startswith("http")}
    assert all((ROOT / target).exists() for target in linked), sorted(t for t in linked if not (ROOT / t).exists())
    pages = {f"docs/{page.name}" for page in (ROOT / "docs").glob("*.md")}
    assert pages <= linked, sorted(pages - linked)


def test_every_anchor_the_readme_links_to_exists_on_its_page():
    for target, anchor in LINK.findall(readme()):
        if not anchor or target.startswith("http"):
            continue
        headings = (ROOT / target).read_text(encoding="utf-8").splitlines()
        slugs = {_slug(line.lstrip("#").strip()) for line in headings if line.startswith("#")}
        assert anchor[1:] in slugs, (target, anchor)


def _slug(heading: str) -> str:
    # GitHub's anchors: lower case, punctuation dropped, spaces to hyphens.
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def test_every_local_link_in_the_docs_resolves():
    broken = []
    for page in sorted((ROOT / "docs").glob("*.md")):
        text = re.sub(r"`[^`\n]*`", "", page.read_text(encoding="utf-8"))  # code spans hold examples, not links
        for target, _ in LINK.findall(text):
            if not target.startswith(("http://", "https://", "mailto:")) and not (page.parent / target).exists():
                broken.append(f"{page.name}: {target}")
    assert broken == []
