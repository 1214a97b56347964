#!/usr/bin/env python3
"""A `cml` stand-in for act runs: records each comment call instead of posting it.

`cml comment create|update [--watermark-title=T] [--target=pr/N] [--publish] FILE` appends one
JSON line to MLSHIP_CML_LOG: argv, target, watermark, the markdown, the local images `--publish`
would upload, and whether a comment was created or updated. Comments are kept in
MLSHIP_CML_LOG + ".state.json" with CML's semantics: `update` rewrites the comment with the same
watermark on the same target when there is one, else creates it.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)")


def _option(args: list[str], name: str) -> str | None:
    for arg in args:
        if arg.startswith(f"--{name}="):
            return arg.split("=", 1)[1]
    return None


def main(argv: list[str]) -> int:
    """Record one `cml comment` call."""
    if argv[:1] != ["comment"] or len(argv) < 3 or argv[1] not in {"create", "update"}:
        print(f"cml stand-in: unsupported command {argv!r}", file=sys.stderr)
        return 2
    args = argv[2:]
    files = [a for a in args if not a.startswith("-")]
    if len(files) != 1:
        print("cml stand-in: expected exactly one markdown file", file=sys.stderr)
        return 2
    markdown = Path(files[0]).read_text(encoding="utf-8")
    target = _option(args, "target") or "auto"
    watermark = _option(args, "watermark-title") or ""
    images = [m for m in IMAGE.findall(markdown) if "://" not in m]
    log = Path(os.environ["MLSHIP_CML_LOG"])
    state_file = Path(f"{log}.state.json")
    state = json.loads(state_file.read_text(encoding="utf-8")) if state_file.exists() else []
    existing = [c for c in state if c["target"] == target and c["watermark"] == watermark]
    if argv[1] == "update" and existing:
        comment, result = existing[-1], "updated"
        comment["body"] = markdown
    else:
        comment = {"id": len(state) + 1, "target": target, "watermark": watermark}
        comment["body"], result = markdown, "created"
        state.append(comment)
    state_file.write_text(json.dumps(state), encoding="utf-8")
    entry = {
        "argv": ["cml", *argv],
        "subcommand": argv[1],
        "target": target,
        "watermark": watermark,
        "publish": "--publish" in args,
        "markdown": markdown,
        "images": images,
        "missing_images": [i for i in images if not Path(i).exists()],
        "result": result,
        "comment_id": comment["id"],
        "repo_token_given": bool(os.environ.get("REPO_TOKEN")),
        # CML sends no usage report when this is set (iterative/cml src/analytics.js).
        "tracking_off": bool(os.environ.get("ITERATIVE_DO_NOT_TRACK")),
    }
    with log.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry) + "\n")
    print(f"cml stand-in: {result} comment {comment['id']} on {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
