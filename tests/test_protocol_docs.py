"""The protocol reference in docs/protocol/ holds together: every citation of it in the tree
names a page and a heading that exist, the pages' own links resolve, the citation map
(docs/protocol/citations.md) points only at real headings, and scripts/cite.py rewrites
citations of the old shared notes as that map says, keeping lines within the limit."""

from __future__ import annotations

import importlib.util
from pathlib import Path
import re
import sys
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROTOCOL = ROOT / "docs" / "protocol"
TARGET = re.compile(r"docs/protocol/(?P<page>[\w.-]+\.md)(?:#(?P<anchor>[\w-]+))?")
LINK = re.compile(r"\]\((?P<href>[^)\s]+)\)")


def _cite() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cite", ROOT / "scripts" / "cite.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["cite"] = module
    spec.loader.exec_module(module)
    return module


cite = _cite()


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    found: set[str] = set()
    fenced = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (m := re.match(r"#{1,6} (.+)", line)):
            found.add(slug(m.group(1)))
    return found


def check(target: str, pages: dict[str, set[str]]) -> str | None:
    """Why a `docs/protocol/…` target does not resolve, or None."""
    m = TARGET.fullmatch(target)
    if m is None:
        return f"{target}: not a docs/protocol/ path"
    if m["page"] not in pages:
        return f"{target}: no such page"
    if m["anchor"] and m["anchor"] not in pages[m["page"]]:
        return f"{target}: no heading #{m['anchor']}"
    return None


@pytest.fixture(scope="module")
def pages() -> dict[str, set[str]]:
    return {p.name: anchors(p) for p in PROTOCOL.glob("*.md")}


def test_the_headings_give_the_anchors_code_cites(pages: dict[str, set[str]]) -> None:
    assert {"messages", "clip-encryption", "h5-h7-scheduler", "live-view"} <= (
        pages["cloud-api.md"] | pages["media.md"] | pages["live-video.md"] | pages["accepted.md"]
    )
    assert slug("H5-H7 Scheduler") == "h5-h7-scheduler"
    assert slug("Privacy and consent") == "privacy-and-consent"


def test_every_citation_in_the_tree_resolves(pages: dict[str, set[str]]) -> None:
    broken: list[str] = []
    for path in cite.files(ROOT, [*cite.SCAN]):
        text = (ROOT / path).read_text(encoding="utf-8", errors="replace")
        for m in TARGET.finditer(text):
            if (why := check(m.group(0), pages)) is not None:
                broken.append(f"{path}: {why}")
    assert not broken, "\n".join(broken)


def test_the_pages_links_resolve(pages: dict[str, set[str]]) -> None:
    broken: list[str] = []
    for page in PROTOCOL.glob("*.md"):
        for m in LINK.finditer(page.read_text(encoding="utf-8")):
            href = m["href"]
            if href.startswith(("http://", "https://")):
                continue
            name, _, anchor = href.partition("#")
            target = (page.parent / name).resolve() if name else page
            if not target.exists():
                broken.append(f"{page.name}: {href}: no such file")
            elif anchor and target.parent == PROTOCOL and anchor not in pages[target.name]:
                broken.append(f"{page.name}: {href}: no heading #{anchor}")
    assert not broken, "\n".join(broken)


def test_the_citation_map_points_at_headings(pages: dict[str, set[str]]) -> None:
    mapping = cite.Mapping.load(ROOT)
    targets = [*mapping.sections.values(), *(t for _, _, t in mapping.rules)]
    assert len(mapping.sections) >= 50 and len(mapping.rules) >= 15
    broken = [why for t in targets if (why := check(t, pages)) is not None]
    assert not broken, "\n".join(broken)
    # every rule is about a section the table knows
    assert {name for name, _, _ in mapping.rules} <= mapping.sections.keys()


SAMPLE = '''\
"""A module that cites the shared notes' message list (protocol.md 3.3), and so on.

Clips are encrypted with ChaCha20 (protocol.md
3.3). Live view: liveview.md H3-H7 and liveview.md 8.3/8.4."""

LIMIT = 3  # a deliberately long trailing comment that cites the notes TRAILING


def f() -> None:
    """The push channel (protocol.md 4), the owners' sharing and consents (section 6 and 8 of
    protocol.md), with some words after it so that the line grows past the limit of the file."""
    # an opaque message id (protocol.md 3.3); a guard by address (protocol.md 11) on a long line
    # that goes on here
'''.replace("TRAILING", "(liveview.md 10.1, protocol.md 11)")


def test_the_script_rewrites_as_the_map_says(tmp_path: Path) -> None:
    (tmp_path / "docs" / "protocol").mkdir(parents=True)
    for page in PROTOCOL.glob("*.md"):
        (tmp_path / "docs" / "protocol" / page.name).write_text(page.read_text("utf-8"), "utf-8")
    (tmp_path / "tests").mkdir()
    sample = tmp_path / "tests" / "sample.py"
    sample.write_text(SAMPLE, encoding="utf-8")
    (tmp_path / "docs" / "notes.md").write_text("See protocol.md 6 and `liveview.md`.\n", "utf-8")

    mapping = cite.Mapping.load(tmp_path)
    report = cite.Report()
    for path in cite.files(tmp_path, ["tests", "docs"]):
        text = (tmp_path / path).read_text("utf-8")
        new = cite.rewrite(path, text, cite.find(path, text, mapping), report, tmp_path)
        (tmp_path / path).write_text(new, "utf-8")

    out = sample.read_text("utf-8")
    assert "protocol.md " not in out.replace("docs/protocol/", "") and "liveview" not in out
    flat = " ".join(out.split())
    for expected in (
        "message list (docs/protocol/cloud-api.md#messages), and",
        "ChaCha20 (docs/protocol/media.md#clip-encryption).",  # across a line break
        "message id (docs/protocol/cloud-api.md#messages);",
        "docs/protocol/live-video.md#setup-calls and",  # H3-H7: the setup calls
        "docs/protocol/live-video.md#cipher, docs/protocol/live-video.md#escape-bytes",
        "(docs/protocol/accepted.md#live-view) LIMIT = 3",  # two citations, one target, lifted
        "(docs/protocol/push.md)",
        "(docs/protocol/cloud-api.md#sharing, docs/protocol/cloud-api.md#privacy-and-consent)",
        "(docs/protocol/accepted.md#address-guard)",
    ):
        assert expected in flat, (expected, out)
    assert all(len(line) <= cite.LINE_LIMIT for line in out.splitlines()), out
    compile(out, "sample.py", "exec")  # still Python
    assert (tmp_path / "docs" / "notes.md").read_text("utf-8") == (
        "See [docs/protocol/cloud-api.md#sharing](protocol/cloud-api.md#sharing) and "
        "[docs/protocol/live-video.md](protocol/live-video.md).\n"
    )
    assert not [f for f in report.found if not f.targets]
    assert report.too_long == []
