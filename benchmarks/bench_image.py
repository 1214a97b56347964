"""Serving image benchmark: its size, layer by layer and package by package, and its start-up.

Start-up is the time from `run` to the first 200 from `/ready`, on a read-only root filesystem
with a tmpfs /tmp as the Kubernetes Deployment runs it, once per run, with the machine's load
average beside each figure (the machine is shared: the figures say what they were measured on).
Prints figures only; nothing here passes or fails on a time.

Usage: python benchmarks/bench_image.py --container podman [--image mlship-serve:local] [--runs 3]
(`make bench-image` passes the engine and IMAGE that `make image` uses.)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
# pylint: disable-next=wrong-import-position  # a tool beside the package, not part of it
import image_smoke  # noqa: E402

SITE_PACKAGES = "/opt/mlship/lib/python3.11/site-packages"
TOP_PACKAGES = 15


def size_lines(engine: str, image: str) -> list[str]:
    """The image's size, its non-empty layers and its largest installed packages."""
    size = int(image_smoke.container(engine, "image", "inspect", "--format", "{{.Size}}", image))
    lines = [f"image {image}: {size / 1e6:.1f} MB"]
    history = image_smoke.container(
        engine, "history", "--no-trunc", "--format", "{{.Size}}\t{{.CreatedBy}}", image
    )
    for row in history.splitlines():
        layer, _, created_by = row.partition("\t")
        if layer.strip() not in ("0B", "0 B"):
            lines.append(f"  layer {layer:>9}  {' '.join(created_by.split())[:90]}")
    du = image_smoke.container(
        engine, "run", "--rm", "--entrypoint", "sh", image, "-c",
        f"cd {SITE_PACKAGES} && du -sk -- * | sort -rn | head -{TOP_PACKAGES}",
    )  # fmt: skip
    lines.append(f"  largest in {SITE_PACKAGES} (bytecode included):")
    for row in du.splitlines():
        kilobytes, _, name = row.partition("\t")
        lines.append(f"    {int(kilobytes) / 1024:7.1f} MB  {name}")
    return lines


def startup_seconds(engine: str, image: str) -> float:
    """Seconds from `run` to the first 200 from /ready, read-only root and a tmpfs /tmp."""
    name, port = f"mlship-bench-image-{uuid.uuid4().hex[:8]}", image_smoke.free_port()
    start = time.monotonic()
    image_smoke.container(
        engine, "run", "-d", "--read-only", "--tmpfs", "/tmp", "--name", name,
        "-p", f"127.0.0.1:{port}:8000", image,
    )  # fmt: skip
    try:
        image_smoke.wait_ready(
            f"http://127.0.0.1:{port}",
            start + image_smoke.READY_SECONDS,
            lambda: image_smoke.running(engine, name),
            interval=0.1,
        )
        return time.monotonic() - start
    finally:
        image_smoke.container(engine, "rm", "-f", name, timeout=60)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the image's size breakdown and `--runs` start-up times; exit 1 if one fails."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", maxsplit=1)[0])
    parser.add_argument("--image", default="mlship-serve:local")
    parser.add_argument("--container", required=True, help="docker or podman")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    try:
        for line in size_lines(args.container, args.image):
            print(line)
        for run in range(1, args.runs + 1):
            seconds = startup_seconds(args.container, args.image)
            load = " ".join(f"{value:.2f}" for value in os.getloadavg())
            print(f"start-up {run}: ready after {seconds:.1f} s (load average {load})")
    except image_smoke.SmokeFailed as error:
        print(f"bench-image: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
