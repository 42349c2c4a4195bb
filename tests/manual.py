"""The user's manual as the tests read it: README.md and the pages of docs/, together.

What the tests check is documented "somewhere in the manual"; the commands and queries they run
are taken from the page and section that show them, found by their heading."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import REPO

README = REPO / "README.md"
DOCS = REPO / "docs"


def files() -> list[Path]:
    """README.md, then every page of docs/ in name order."""
    return [README, *sorted(DOCS.glob("*.md"))]


def text() -> str:
    """The whole manual, one file after the other."""
    return "\n\n".join(path.read_text(encoding="utf-8") for path in files())


def section(heading: str) -> str:
    """The section under a heading line (e.g. ``## Search``), written once in the whole manual,
    up to the next heading of its level or above."""
    level = len(heading) - len(heading.lstrip("#"))
    found = [
        (path, match)
        for path in files()
        for match in re.finditer(rf"^{re.escape(heading)}[ \t]*$", path.read_text(encoding="utf-8"), re.M)
    ]
    assert len(found) == 1, f"{heading!r} is a heading {len(found)} times in the manual"
    path, match = found[0]
    body = path.read_text(encoding="utf-8")[match.end() :]
    following = re.search(rf"^#{{1,{level}}} ", _unfenced(body), re.M)
    return heading + body[: following.start() if following else len(body)]


def blocks(section_text: str, language: str) -> list[str]:
    """The fenced code blocks of one language in a piece of the manual."""
    return re.findall(rf"```{language}\n(.*?)```", section_text, re.S)


def _unfenced(body: str) -> str:
    """The text with the inside of code blocks blanked (same length), so that a shell comment
    (``# ...``) is never taken for a heading."""
    return re.sub(r"```.*?```", lambda m: re.sub(r"[^\n]", " ", m.group(0)), body, flags=re.S)
