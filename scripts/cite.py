#!/usr/bin/env python3
"""Point the tree's citations of the shared notes (protocol.md, liveview.md) into docs/protocol/.

    python scripts/cite.py            rewrite the citations in place, then report
    python scripts/cite.py --dry-run  report what would change, write nothing
    python scripts/cite.py --check    exit 1 while any citation of the shared notes is left
    python scripts/cite.py --forms    print the "forms found" table of docs/protocol/citations.md

The mapping is docs/protocol/citations.md (its "Sections" and "By the sentence" tables): edit it
there, not here. A citation is `protocol.md` or `liveview.md` (with or without a `../shared/`
path or backticks), then optionally `section`/`sections`/`§` and a list of sections (`3.3`,
`H2`, `5, 9`, `1-4`, `8.3/8.4`, `H3-H7`, `7 and 8`); `section 7 of protocol.md` is read too. In
Python files the rewritten comment or docstring paragraph is re-wrapped where a line grows past
LINE_LIMIT (words pushed down to the next line of the paragraph, nothing else moved). In
Markdown files a citation becomes a link relative to the file. Anything the mapping does not
cover is left as it is and reported.
"""

from __future__ import annotations

import argparse
import ast
import bisect
from collections import Counter
from dataclasses import dataclass, field
import io
import os
from pathlib import Path
import re
import sys
import tokenize

ROOT = Path(__file__).resolve().parent.parent
# the tree's syntax (PEP 695) must parse for the docstrings to be found
if sys.version_info < (3, 13):  # noqa: UP036
    sys.exit("scripts/cite.py needs Python 3.13 or newer: .venv/3.13.0/bin/python scripts/cite.py")
MAPPING = Path("docs/protocol/citations.md")
SCAN = (
    "custom_components",
    "botslab_emulator",
    "tests",
    "benchmarks",
    "scripts",
    "docs",
    "README.md",
    "pyproject.toml",
)
SKIP = ("docs/protocol/", "scripts/cite.py", "tests/test_protocol_docs.py")
SUFFIXES = {".py", ".md", ".toml", ".yaml", ".yml", ".sh", ".txt", ".cfg", ""}
LINE_LIMIT = 100

DOC = re.compile(r"(?P<path>(?:\.\./shared/|shared/)?)(?P<doc>protocol|liveview)\.md")
REF = r"(?:H\d+|\d+(?:\.\d+)*)"
RANGE = re.compile(rf"(?P<a>{REF})(?:\s*[-\u2013]\s*(?P<b>{REF}))?")
SEP = re.compile(r"\s*(?:,\s*and\s+|,\s*|\s+and\s+|\s+or\s+|\s*/\s*)")
WORD = re.compile(r"(?:sections?|\u00a7)\s*", re.IGNORECASE)
# `section 7 and 8 of protocol.md`
BEFORE = re.compile(
    rf"(?P<word>sections?|\u00a7)\s*(?P<refs>{REF}(?:(?:\s*,\s*|\s+and\s+|\s+or\s+){REF})*)"
    r"\s+(?:of|in)\s+`?$",
    re.IGNORECASE,
)
CLOSING = tuple(")],.;:")


@dataclass
class Mapping:
    sections: dict[str, str]  # "protocol.md 3.3" -> "docs/protocol/cloud-api.md#messages"
    rules: list[tuple[str, re.Pattern[str], str]]  # (cited as, sentence, target), in order

    @classmethod
    def load(cls, root: Path) -> Mapping:
        sections: dict[str, str] = {}
        rules: list[tuple[str, re.Pattern[str], str]] = []
        table = ""
        for line in (root / MAPPING).read_text(encoding="utf-8").splitlines():
            if line.startswith("## "):
                table = line[3:].strip().lower()
            if not line.startswith("| `"):
                continue
            cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            cells = [c[1:-1] if c.startswith("`") and c.endswith("`") else c for c in cells]
            if table == "sections" and len(cells) >= 2:
                sections[cells[0]] = cells[1]
            elif table == "by the sentence" and len(cells) >= 3:
                rules.append((cells[0], re.compile(cells[1], re.IGNORECASE), cells[2]))
        return cls(sections, rules)

    def known(self, doc: str, ref: str) -> bool:
        return f"{doc} {ref}" in self.sections

    def target(self, doc: str, ref: str | None, context: list[str]) -> str | None:
        """Where one cited section points, the sentence around it considered."""
        cited = f"{doc} {ref}" if ref else doc
        for text in context:  # the line itself first, then wider
            for name, sentence, target in self.rules:
                if name == cited and sentence.search(text):
                    return target
        while True:
            if cited in self.sections:
                return self.sections[cited]
            if "." not in cited.split(" ")[-1]:
                return None
            cited = cited.rsplit(".", 1)[0]  # 5.3.1 -> 5.3


@dataclass
class Found:
    path: str
    line: int
    start: int
    end: int
    form: str
    doc: str
    refs: list[str]
    targets: list[str] | None
    text: str


@dataclass
class Report:
    found: list[Found] = field(default_factory=list)
    reflowed: list[str] = field(default_factory=list)
    too_long: list[str] = field(default_factory=list)
    files: set[str] = field(default_factory=set)


def _expand(a: str, b: str | None) -> list[str]:
    if b is None:
        return [a]
    if a.startswith("H") or b.startswith("H"):
        lo, hi = int(a.lstrip("H")), int(b.lstrip("H"))
        return [f"H{i}" for i in range(lo, hi + 1)] if lo <= hi <= lo + 10 else [a, b]
    if a.isdigit() and b.isdigit() and int(a) <= int(b) <= int(a) + 12:
        return [str(i) for i in range(int(a), int(b) + 1)]
    return [a, b]


def _parse_refs(text: str, pos: int, doc: str, mapping: Mapping) -> tuple[int, list[str], str]:
    """The sections cited after `pos` (just past `….md`): (end, refs, the text read)."""
    m = re.compile(r"`?,?[ \t]*(?:\n[ \t]*(?:#[ \t]*)?)?").match(text, pos)
    assert m is not None
    cursor = m.end()
    w = WORD.match(text, cursor)
    if w:
        cursor = w.end()
    refs: list[str] = []
    end = pos
    first = True
    while True:
        if not first:
            s = SEP.match(text, cursor)
            if not s:
                break
            cursor = s.end()
        r = RANGE.match(text, cursor)
        if not r or (r.end() < len(text) and (text[r.end()].isalnum() or text[r.end()] == "_")):
            break
        items = _expand(r["a"], r["b"])
        if not all(mapping.known(doc, i) or mapping.known(doc, i.split(".")[0]) for i in items):
            break
        refs.extend(items)
        cursor = end = r.end()
        first = False
    if not refs:
        tick = pos + 1 if text[pos : pos + 1] == "`" else pos
        return tick, [], ""
    return end, refs, text[pos:end]


def _context(lines: list[str], index: int) -> list[str]:
    """The citation's line, then the lines around it, wider and wider."""
    out = [lines[index]]
    for width in (1, 3):
        lo, hi = max(0, index - width), min(len(lines), index + width + 1)
        out.append(" ".join(lines[lo:hi]))
    return out


def _targets(found_doc: str, refs: list[str], mapping: Mapping, context: list[str]) -> list[str]:
    if not refs:
        target = mapping.target(found_doc, None, context)
        return [target] if target else []
    targets: list[str] = []
    for ref in refs:
        target = mapping.target(found_doc, ref, context)
        if target is None:
            return []
        if target not in targets:
            targets.append(target)
    if len(targets) > 1 and all(r.startswith("H") for r in refs):
        setup = mapping.sections.get("liveview.md 3")
        return [setup] if setup else targets
    if len(targets) > 2:  # many sections: the pages, not each heading
        pages: list[str] = []
        for target in targets:
            page = target.split("#", 1)[0]
            if page not in pages:
                pages.append(page)
        return pages
    return targets


def _render(targets: list[str], path: str, root: Path) -> str:
    if path.endswith(".md"):
        here = (root / path).parent
        links = []
        for target in targets:
            page, _, anchor = target.partition("#")
            href = os.path.relpath(root / page, here).replace(os.sep, "/")
            links.append(f"[{target}]({href}{'#' + anchor if anchor else ''})")
        return ", ".join(links)
    return ", ".join(targets)


def find(path: str, text: str, mapping: Mapping) -> list[Found]:
    lines = text.split("\n")
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)
    found: list[Found] = []
    for m in DOC.finditer(text):
        if found and m.start() < found[-1].end:
            continue
        doc = f"{m['doc']}.md"
        start = m.start()
        if start > 0 and text[start - 1] == "`":
            start -= 1
        end, refs, read = _parse_refs(text, m.end(), doc, mapping)
        form = doc
        window = max(0, start - 80)
        before = BEFORE.search(text[window:start])
        if not refs and before:
            items = re.split(r"\s*,\s*|\s+and\s+|\s+or\s+", before["refs"])
            if all(mapping.known(doc, i) for i in items):
                refs, start = items, window + before.start()
                form = f"{before['word'].lower()} {', '.join(refs)} of {doc}"
        elif refs:
            cited = re.sub(r"\s*\n\s*(?:#\s*)?", " ", read).lstrip("`, ")
            form = f"{doc} {' '.join(cited.split())}"
        row = bisect.bisect_right(starts, m.start()) - 1
        context = _context(lines, row)
        if path.endswith(".md"):
            context = context[:1]  # prose: the line alone
        targets = _targets(doc, refs, mapping, context)
        found.append(
            Found(path, row + 1, start, end, form, doc, refs, targets or None, text[start:end])
        )
    return found


# --- re-wrapping Python comments and docstrings ---------------------------------------------------


def _docstring_lines(source: str) -> set[int]:
    """0-based numbers of the lines inside string statements (docstrings)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    out: set[int] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
            and node.end_lineno is not None
        ):
            out.update(range(node.lineno - 1, node.end_lineno))
    return out


def _comment_lines(source: str) -> tuple[set[int], dict[int, int]]:
    """0-based numbers of the lines that hold only a comment, and of the lines that end in
    one (with the comment's column)."""
    alone: set[int] = set()
    trailing: dict[int, int] = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                if tok.line[: tok.start[1]].strip():
                    trailing[tok.start[0] - 1] = tok.start[1]
                else:
                    alone.add(tok.start[0] - 1)
    except (tokenize.TokenError, SyntaxError):
        pass
    return alone, trailing


PRAGMA = re.compile(r"#\s*(?P<pragma>(?:noqa|type:)[^-]*?)(?:\s+-\s+|\s*$)(?P<rest>.*)")


def _lift(line: str, column: int) -> list[str] | None:
    """A line whose trailing comment made it too long, as the comment on a line of its own
    above the code (a `noqa` or `type:` pragma stays where it is), or None."""
    indent = line[: len(line) - len(line.lstrip())]
    code, comment = line[:column].rstrip(), line[column:]
    pragma = PRAGMA.match(comment)
    if pragma is None:
        return [f"{indent}{comment}", code]
    if not pragma["rest"]:
        return None
    return [f"{indent}# {pragma['rest']}", f"{code}  # {pragma['pragma'].strip()}"]


BULLET = re.compile(r"(?:[-*]|\d+\.)\s")


def _split(line: str, comment: bool) -> tuple[str, str]:
    """(prefix, text) of a comment or docstring line."""
    m = re.match(r"(\s*#\s?)" if comment else r"(\s*)", line)
    assert m is not None
    return m.group(1), line[m.end() :]


def _continues(line: str, prefix: str, comment: bool, own_bullet: bool) -> bool:
    """Whether `line` carries on the paragraph whose continuation prefix is `prefix`."""
    if not line.startswith(prefix):
        return False
    rest = line[len(prefix) :]
    if not rest or rest[0].isspace() or rest.startswith(('"""', "'''")):
        return False
    if comment and not line.lstrip().startswith("#"):
        return False
    return own_bullet or not BULLET.match(rest)


def _reflow(path: str, text: str, report: Report) -> str:
    lines = text.split("\n")
    (comments, trailing), docstrings = _comment_lines(text), _docstring_lines(text)
    changed = False
    dirty: set[int] = set()  # lines that took words pushed down from the line above
    i = 0
    while i < len(lines):
        line = lines[i]
        if len(line) <= LINE_LIMIT or ("docs/protocol/" not in line and i not in dirty):
            i += 1
            continue
        if i in trailing and "docs/protocol/" in line[trailing[i] :]:
            lifted = _lift(line, trailing.pop(i))
            if lifted is not None:
                lines[i : i + 1] = lifted
                comments = {n + 1 if n > i else n for n in comments} | {i}
                docstrings = {n + 1 if n > i else n for n in docstrings}
                trailing = {n + 1 if n > i else n: c for n, c in trailing.items()}
                dirty = {n + 1 if n > i else n for n in dirty}
                report.reflowed.append(f"{path}:{i + 1}")
                changed = True
                continue  # the comment's own line is wrapped next
        comment = i in comments
        if not comment and i not in docstrings:
            report.too_long.append(f"{path}:{i + 1}")
            i += 1
            continue
        prefix, body = _split(line, comment)
        bullet = BULLET.match(body)
        cont = prefix + " " * len(bullet.group(0)) if bullet else prefix
        if comment and not cont.endswith(" "):
            cont += " "
        words = body.split(" ")
        moved: list[str] = []
        while len(prefix + " ".join(words)) > LINE_LIMIT and len(words) > 1:
            moved.insert(0, words.pop())
        if not moved or len(prefix + " ".join(words)) > LINE_LIMIT:
            report.too_long.append(f"{path}:{i + 1}")
            i += 1
            continue
        lines[i] = (prefix + " ".join(words)).rstrip()
        carry = " ".join(moved)
        nxt = lines[i + 1] if i + 1 < len(lines) else None
        in_block = (i + 1 in comments) if comment else (i + 1 in docstrings)
        if nxt is not None and in_block and _continues(nxt, cont, comment, False):
            rest = nxt[len(cont) :]
            glue = "" if rest.startswith(CLOSING) else " "
            lines[i + 1] = f"{cont}{carry}{glue}{rest}"
            dirty.add(i + 1)
        else:
            lines.insert(i + 1, f"{cont}{carry}")
            comments = {n + 1 if n > i else n for n in comments} | ({i + 1} if comment else set())
            docstrings = {n + 1 if n > i else n for n in docstrings}
            trailing = {n + 1 if n > i else n: c for n, c in trailing.items()}
            dirty = {n + 1 if n > i else n for n in dirty}
            if not comment:
                docstrings.add(i + 1)
        report.reflowed.append(f"{path}:{i + 1}")
        changed = True
        i += 1
    return "\n".join(lines) if changed else text


# --- the run ----------------------------------------------------------------------------------


def files(root: Path, paths: list[str]) -> list[str]:
    out: list[str] = []
    for name in paths:
        base = root / name
        candidates = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
        for p in candidates:
            rel = p.relative_to(root).as_posix()
            if any(rel.startswith(s) for s in SKIP) or "/." in f"/{rel}":
                continue
            if "__pycache__" in rel or "/snapshots/" in rel or p.suffix not in SUFFIXES:
                continue
            out.append(rel)
    return out


def rewrite(path: str, text: str, found: list[Found], report: Report, root: Path) -> str:
    out, last = [], 0
    for item in found:
        if item.targets is None:
            continue
        out.append(text[last : item.start])
        out.append(_render(item.targets, path, root))
        last = item.end
    out.append(text[last:])
    new = "".join(out)
    if not path.endswith(".md"):
        # two citations that became the same target side by side: one is enough
        new = re.sub(
            r"(?P<t>docs/protocol/[\w.-]+\.md(?:#[\w-]+)?)(?:\s*(?:,|/|;)\s*(?P=t))+(?![\w#-])",
            r"\g<t>",
            new,
        )
    if path.endswith(".py") and new != text:
        new = _reflow(path, new, report)
    return new


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", default=list(SCAN))
    parser.add_argument("--root", type=Path, default=ROOT)
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--forms", action="store_true")
    args = parser.parse_args()
    root: Path = args.root.resolve()
    mapping = Mapping.load(root if (root / MAPPING).exists() else ROOT)
    report = Report()
    for path in files(root, args.paths):
        try:
            text = (root / path).read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        found = find(path, text, mapping)
        if not found:
            continue
        report.found.extend(found)
        if args.check or args.forms:
            continue
        new = rewrite(path, text, found, report, root)
        if new != text:
            report.files.add(path)
            if not args.dry_run:
                (root / path).write_text(new, encoding="utf-8")
    if args.forms:
        print_forms(report.found)
        return 0
    if args.check:
        for item in report.found:
            print(f"{item.path}:{item.line}: {item.text!r}")
        print(f"{len(report.found)} citation(s) of the shared notes left")
        return 1 if report.found else 0
    print_report(report, args.dry_run)
    return 0


def print_forms(found: list[Found]) -> None:
    forms: Counter[str] = Counter(f.form for f in found)
    where: dict[str, Counter[str]] = {}
    for item in found:
        where.setdefault(item.form, Counter())[
            ", ".join(item.targets) if item.targets else "(unmapped)"
        ] += 1
    print("| form | found | becomes |")
    print("|---|---|---|")
    for form, count in sorted(forms.items(), key=lambda kv: (-kv[1], kv[0])):
        becomes = "; ".join(
            f"{t} ({n})" if len(where[form]) > 1 else t for t, n in where[form].most_common()
        )
        print(f"| `{form}` | {count} | {becomes} |")


def print_report(report: Report, dry_run: bool) -> None:
    found = report.found
    mapped = [f for f in found if f.targets]
    unmapped = [f for f in found if not f.targets]
    bare = [f for f in mapped if not f.refs]
    verb = "would rewrite" if dry_run else "rewrote"
    print(f"{len(found)} citations in {len({f.path for f in found})} files")
    print(f"{verb} {len(mapped)} in {len(report.files)} files; {len(unmapped)} not mapped")
    targets: Counter[str] = Counter(t for f in mapped for t in f.targets or ())
    print("\ntargets:")
    for target, count in targets.most_common():
        print(f"  {count:4}  {target}")
    if unmapped:
        print("\nnot mapped (left as they are):")
        for item in unmapped:
            print(f"  {item.path}:{item.line}: {item.text!r}")
    if bare:
        print("\nno section named (pointed at the page; read the sentence):")
        for item in bare:
            print(f"  {item.path}:{item.line}: {item.text!r} -> {item.targets}")
    if report.reflowed:
        print(f"\nre-wrapped {len(report.reflowed)} line(s) past {LINE_LIMIT} characters")
    if report.too_long:
        print("\nstill longer than the limit (not a comment or docstring; fix by hand):")
        for where in report.too_long:
            print(f"  {where}")


if __name__ == "__main__":
    sys.exit(main())
