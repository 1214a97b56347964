"""Assemble the report from prioritised sections and keep it under GitHub's comment limit."""

from __future__ import annotations

from dataclasses import dataclass

MARKER = "<!-- mlship-report -->"
GITHUB_LIMIT = 65_536
CELL_CHARS = 120


def cell(value: object, limit: int = CELL_CHARS) -> str:
    """A value made safe for a markdown table cell: one line, pipes escaped, length capped."""
    text = " ".join(str(value).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.replace("|", "\\|")


@dataclass(frozen=True)
class Section:
    """One titled part of the report.

    `variants` are successively shorter bodies (the first is complete); `priority` orders what
    goes first when space runs out: the highest number is dropped first, 0 is never dropped.
    """

    title: str
    variants: tuple[str, ...]
    priority: int


def _render(header: str, sections: list[tuple[Section, int]], omitted: list[str]) -> str:
    parts = [header.rstrip()]
    parts += [
        f"### {section.title}\n\n{section.variants[level].rstrip()}" for section, level in sections
    ]
    if omitted:
        parts.append(
            "_Omitted to stay under GitHub's comment limit: "
            + ", ".join(omitted)
            + ". The full outputs are in the workflow's artifacts._"
        )
    return "\n\n".join(parts) + "\n"


def assemble(header: str, sections: list[Section], limit: int) -> str:
    """Render all sections; when too long, drop optional ones, then shorten, then cut.

    Sections of priority 4 and above are optional and go first (highest first); then every
    remaining section steps to its next shorter variant, least important first; then the least
    important are dropped; a final hard cut keeps the text valid under `limit` whatever happens.
    """
    chosen: list[tuple[Section, int]] = [(section, 0) for section in sections]
    omitted: list[str] = []

    def text() -> str:
        return _render(header, chosen, omitted)

    def drop(keep_below: int) -> bool:
        for section, level in sorted(chosen, key=lambda item: -item[0].priority):
            if len(text()) <= limit:
                return True
            if section.priority >= keep_below:
                chosen.remove((section, level))
                omitted.append(section.title.lower())
        return len(text()) <= limit

    if drop(keep_below=4):
        return text()
    shortened = True
    while shortened and len(text()) > limit:
        shortened = False
        for index in sorted(range(len(chosen)), key=lambda i: -chosen[i][0].priority):
            section, level = chosen[index]
            if level + 1 < len(section.variants):
                chosen[index] = (section, level + 1)
                shortened = True
                if len(text()) <= limit:
                    return text()
    if drop(keep_below=1):
        return text()
    note = "\n\n_…truncated to stay under GitHub's comment limit._\n"
    return text()[: limit - len(note)] + note
