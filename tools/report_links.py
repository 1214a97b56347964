"""Refuse a PR report whose links `cml comment --publish` could turn into uploads of runner files.

The report comes from the PR's CI run (maybe a fork), so it is untrusted. `cml --publish` parses
it with remark, resolves the target of every image, link and reference definition against the
report's directory and uploads whatever file exists there. Instead of parsing markdown as
remark does (escapes, entities, nesting, line breaks), this scans the raw text for anything
that can start a target and allows only what the generated report contains:

- a PNG beside the report: `name.png` or `plots/name.png`;
- an http(s) URL (the MLflow link) of plain characters (no `%`, `&`, backslash) and no `..`:
  remark may resolve it as a path, which then stays inside the report directory.

Everything else, including raw HTML tags with attributes, is refused (fail closed), and so is a
symbolic link anywhere in the report directory. Standard library only: the pr-report job runs it
with the runner's python3.
"""

from __future__ import annotations

import html
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

PNG = re.compile(r"(plots/)?[A-Za-z0-9_-][A-Za-z0-9_.-]*\.png")
URL = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]+)?([/?#][A-Za-z0-9._~!$'*+,;=:@/?#-]*)?")
# Where remark may find a target: an inline link or image `](`, a reference definition `]:`,
# and `<` starting an autolink or a tag (`<!--` comments excepted; their text is scanned too).
OPENER = re.compile(r"\](?P<inline>\()|\](?P<definition>:)|<(?=[A-Za-z]|/[A-Za-z]|\?|![A-Za-z\[])")
AUTOLINK = re.compile(r"<([A-Za-z][A-Za-z0-9+.-]{1,31}:[^\s<>]*)>")
BARE_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*\s*/?>")  # no attributes, so nothing to link
# An email autolink, a tag that may have attributes, a declaration or processing instruction;
# `a<b` followed by neither space, `/` nor `>` is text.
OTHER_HTML = re.compile(r"<[^\s<>]*>|</?[A-Za-z][A-Za-z0-9-]*[\s/>]|<[?!]")
ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
DOTDOT = re.compile(r"\.\./|/\.\.")


class Refused(Exception):
    """A target the report may not link, with where it is."""


def allowed(target: str) -> bool:
    """A PNG beside the report or a plain http(s) URL, neither with `..` in it."""
    return ".." not in target and bool(PNG.fullmatch(target) or URL.fullmatch(target))


def _destination(text: str, start: int) -> str:
    """The link destination starting at `start` (after optional whitespace), as written."""
    rest = text[start:].lstrip()
    if rest.startswith("<"):
        return rest[1 : rest.find(">")] if ">" in rest else rest
    return re.split(r"[\s)]", rest, maxsplit=1)[0]


def targets(text: str) -> Iterator[tuple[int, str, str]]:
    """Every (offset, kind, target) that may be a link target; HTML tags are their whole text."""
    for match in OPENER.finditer(text):
        if match.group("inline") or match.group("definition"):
            kind = "link or image" if match.group("inline") else "reference definition"
            yield match.start(), kind, _destination(text, match.end())
            continue
        autolink = AUTOLINK.match(text, match.start())
        if autolink:
            yield match.start(), "autolink", autolink.group(1)
        elif OTHER_HTML.match(text, match.start()) and not BARE_TAG.match(text, match.start()):
            yield match.start(), "HTML", text[match.start() : match.start() + 60].split("\n")[0]


def check(text: str) -> None:
    """Raise `Refused` naming the first target of `text` that is not allowed."""
    for offset, kind, target in targets(text):
        if kind == "HTML" or not allowed(target):
            line = text.count("\n", 0, offset) + 1
            raise Refused(f"{kind} {target!r} on line {line}")
    # GFM turns bare URLs into links after entities and escapes are decoded: `..` there could
    # climb out of the report directory when remark's URL is resolved as a path. Percent-decoding
    # too, in case a tool on the way decodes URLs.
    decoded = unquote(html.unescape(ESCAPE.sub(r"\1", text)))
    found = DOTDOT.search(decoded)
    if found:
        line = decoded.count("\n", 0, found.start()) + 1
        raise Refused(f"a '..' path on line {line}")


def symlinks(root: Path) -> list[Path]:
    """Symbolic links at or under `root` (--publish would follow them)."""
    return [p for p in (root, *root.rglob("*")) if p.is_symlink()]


def main(argv: list[str]) -> int:
    """`report_links.py REPORT.md`: exit 1 with one line when the report may not be published."""
    if len(argv) != 1:
        print("usage: report_links.py REPORT.md", file=sys.stderr)
        return 2
    report = Path(argv[0])
    outside = (
        f"pr-comment: the report links files outside {report.parent} (--publish would upload them)"
    )
    links = symlinks(report.parent)
    if links:
        print(f"{outside}: symbolic link {str(links[0])!r}; refusing", file=sys.stderr)
        return 1
    try:
        check(report.read_text(encoding="utf-8"))
    except Refused as refused:
        print(f"{outside}: {refused}; refusing", file=sys.stderr)
        return 1
    except (OSError, UnicodeDecodeError) as error:
        print(f"pr-comment: cannot read {report}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
