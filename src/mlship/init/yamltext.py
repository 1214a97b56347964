"""Set keys in a YAML file's text, keeping every other line and comment as it was.

PyYAML (the project's YAML library) drops comments when it writes, so `mlship init` replaces
only the lines of the keys it sets: a top-level section, or one key of a section (with the
lines that continue its value), rendered by PyYAML.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

_INDENT = "  "


def _key_line(key: str, indent: str) -> re.Pattern[str]:
    return re.compile(rf"^{re.escape(indent)}{re.escape(key)}\s*:(?:\s|$)")


def _block_end(lines: list[str], start: int, indent: str) -> int:
    """The index after the value that starts on line `start` (its more-indented lines)."""
    end = start + 1
    while end < len(lines):
        line = lines[end]
        stripped = line.strip()
        deeper = line.startswith(indent + " ") or line.startswith(indent + "\t")
        if stripped and not deeper:
            break
        end += 1
    # Blank and comment-only lines after the value belong to what follows.
    while end > start + 1 and (not lines[end - 1].strip() or _comment_at(lines[end - 1], indent)):
        end -= 1
    return end


def _comment_at(line: str, indent: str) -> bool:
    stripped = line.lstrip()
    return stripped.startswith("#") and len(line) - len(stripped) <= len(indent)


def render(key: str, value: Any, indent: str) -> list[str]:
    """`key: value` as YAML lines at `indent`: innermost mappings and lists in flow style."""
    nested = isinstance(value, dict) or (
        isinstance(value, list) and any(isinstance(item, dict) for item in value)
    )
    text = yaml.safe_dump(
        {key: value},
        default_flow_style=None if nested else True,
        sort_keys=False,
        allow_unicode=True,
        width=96,
    ).strip()
    if not nested:
        text = text.removeprefix("{").removesuffix("}")
    return [f"{indent}{line}" for line in text.splitlines()]


def set_section(text: str, section: str, value: Any, comment: str = "") -> str:
    """Replace (or append) the top-level `section` with `value`."""
    lines = text.splitlines()
    pattern = _key_line(section, "")
    new = render(section, value, "")
    if comment:
        new[0] += f"  # {comment}"
    for index, line in enumerate(lines):
        if pattern.match(line):
            lines[index : _block_end(lines, index, "")] = new
            return "\n".join(lines) + "\n"
    return "\n".join([*lines, "", *new]) + "\n"


def set_key(text: str, section: str, key: str, value: Any) -> str:
    """Set `section.key` to `value`, keeping the comment on the key's line when it had one."""
    lines = text.splitlines()
    head = _key_line(section, "")
    for start, line in enumerate(lines):
        if not head.match(line):
            continue
        end = _block_end(lines, start, "")
        pattern = _key_line(key, _INDENT)
        new = render(key, value, _INDENT)
        for index in range(start + 1, end):
            if pattern.match(lines[index]):
                stop = _block_end(lines, index, _INDENT)
                comment = _trailing_comment(lines[index])
                if comment and len(new) == 1:
                    new[0] = f"{new[0]}  {comment}"
                lines[index:stop] = new
                return "\n".join(lines) + "\n"
        lines[end:end] = new
        return "\n".join(lines) + "\n"
    return "\n".join([*lines, "", f"{section}:", *new]) + "\n"


def _trailing_comment(line: str) -> str:
    """A `# ...` comment after the value on a simple `key: value` line, else ''."""
    match = re.search(r"\s#\s.*$", line)
    if not match or any(quote in line[: match.start()] for quote in "'\""):
        return ""
    return match.group(0).strip()
