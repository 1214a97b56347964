"""Smoke-test the serving image: run it on loopback, check /ready, /predict and its user.

`make image-smoke` runs this on the image `make image` built, before it is pushed: the same
image is tested and released. Exit 0 when every check passes; one line per check either way.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess  # nosec B404
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

READY_SECONDS = 90.0


class SmokeFailed(Exception):
    """A check failed; the message says which and why."""


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def container(engine: str, *args: str, timeout: float = 120) -> str:
    """Run the container engine; return stdout or raise SmokeFailed with its stderr."""
    # Argument list, no shell
    proc = subprocess.run(  # nosec B603
        [engine, *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise SmokeFailed(f"`{engine} {' '.join(args)}` exited {proc.returncode}: {proc.stderr}")
    return proc.stdout.strip()


def http(url: str, body: Any = None, timeout: float = 10) -> tuple[int, Any]:
    """GET (or POST JSON when `body` is given); return (status, parsed JSON)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # nosec B310
            return int(response.status), json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return int(error.code), json.loads(error.read() or b"null")


def running(engine: str, name: str) -> bool:
    """Whether the container is still up."""
    try:
        state = container(engine, "inspect", "--format", "{{.State.Running}}", name, timeout=30)
    except SmokeFailed:
        return False
    return state == "true"


def wait_ready(
    base: str, deadline: float, alive: Callable[[], bool] = lambda: True, interval: float = 0.5
) -> dict[str, Any]:
    """Poll /ready every `interval` s until it answers 200, the deadline passes or it exits."""
    last: object = None
    while time.monotonic() < deadline:
        if not alive():
            raise SmokeFailed(f"the service exited before {base}/ready answered")
        try:
            status, payload = http(f"{base}/ready", timeout=2)
            if status == 200:
                return dict(payload)
            last = f"HTTP {status}: {payload}"
        except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError) as error:
            last = error
        time.sleep(interval)
    raise SmokeFailed(f"{base}/ready did not answer 200 within {READY_SECONDS:.0f}s: {last}")


def smoke(engine: str, image: str, model_dir: Path) -> list[str]:
    """Run every check against a fresh container; return the lines to print."""
    meta = json.loads((model_dir / "model.json").read_text(encoding="utf-8"))
    examples = meta.get("input_example") or []
    if not examples:
        raise SmokeFailed(f"{model_dir}/model.json has no input_example to send")
    port = free_port()
    name = f"mlship-smoke-{uuid.uuid4().hex[:8]}"
    base = f"http://127.0.0.1:{port}"
    container(
        engine, "run", "-d", "--init", "--name", name, "-p", f"127.0.0.1:{port}:8000", image,
    )  # fmt: skip
    lines = []
    try:
        ready = wait_ready(base, time.monotonic() + READY_SECONDS, lambda: running(engine, name))
        lines.append(f"ready: champion {ready.get('champion')}")
        status, single = http(f"{base}/predict", examples[0])
        if status != 200 or "prediction" not in single:
            raise SmokeFailed(f"/predict answered HTTP {status}: {single}")
        lines.append(f"predict: {single['prediction']} (p={single.get('probability')})")
        status, batch = http(f"{base}/predict", {"records": examples})
        if status != 200 or len(batch.get("predictions", [])) != len(examples):
            raise SmokeFailed(f"/predict batch answered HTTP {status}: {batch}")
        lines.append(f"predict batch: {len(examples)} rows")
        status, _ = http(f"{base}/predict", {"not_a_feature": 1})
        if status != 422:
            raise SmokeFailed(f"/predict with an unknown field answered {status}, not 422")
        lines.append("invalid input: 422")
        uid = container(engine, "exec", name, "id", "-u")
        if uid == "0":
            raise SmokeFailed("the service runs as root")
        lines.append(f"user: uid {uid}")
    except SmokeFailed as error:
        # Argument list, no shell
        logs = subprocess.run(  # nosec B603
            [engine, "logs", "--tail", "30", name],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        raise SmokeFailed(f"{error}\n--- container log ---\n{logs.stdout}{logs.stderr}") from None
    finally:
        # Argument list, no shell
        subprocess.run(  # nosec B603
            [engine, "rm", "-f", "-t", "2", name],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=60,
            check=False,
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--container", default="docker", help="docker or podman")
    parser.add_argument("--image", required=True)
    parser.add_argument("--model-dir", type=Path, default=Path("artifacts/model"))
    args = parser.parse_args(argv)
    try:
        for line in smoke(args.container, args.image, args.model_dir):
            print(f"image-smoke: {line}")
    except (SmokeFailed, OSError, subprocess.SubprocessError, json.JSONDecodeError) as error:
        print(f"image-smoke: FAILED: {error}", file=sys.stderr)
        return 1
    print(f"image-smoke: {args.image} passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
