"""Run a rendered overlay with `podman kube play`, changing only what podman 4.3 cannot take.

No cluster can exist here; podman is the closest runtime of a Deployment on one host. Two
things are translated, nothing else, so what runs is the manifest as written:
- the pod's port gets a free loopback `hostPort`: a cluster gives each pod its own IP, while
  podman 4.3 publishes every containerPort on the host, at the same number, on all interfaces;
- the Secret the Deployment's `secretKeyRef`s name is created as a podman secret in the form
  podman 4.3 reads (the `data` map as JSON, base64 values): a `kind: Secret` document in the
  played file is stored as YAML and then fails to parse as JSON there.

Used by tests/deploy/test_k8s_kube_play.py and, as a script, by the release workflow test's
kubectl stand-in for the staging namespace:
    python kube_play.py up RENDERED.yaml HOST_PORT --secret KEY=VALUE ...
    python kube_play.py down RENDERED.yaml
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml
from k8s_support import Manifest, env_of, one, serving_container

from mlship.io.process import run_command


def secret_name(objects: list[Manifest]) -> str:
    """The one Secret the serving container's env reads."""
    [name] = {
        entry["valueFrom"]["secretKeyRef"]["name"]
        for entry in env_of(serving_container(objects)).values()
        if "secretKeyRef" in entry.get("valueFrom", {})
    }
    return str(name)


def podman_secret(values: dict[str, str]) -> str:
    """A Secret's `data` as the content of the podman secret a `secretKeyRef` reads."""
    return json.dumps({k: base64.b64encode(v.encode()).decode() for k, v in values.items()})


def for_podman(objects: list[Manifest], host_port: int) -> list[Manifest]:
    """The objects with the serving port published on loopback at `host_port`."""
    played: list[Manifest] = json.loads(json.dumps(objects))
    serving_container(played)["ports"][0].update(hostPort=host_port, hostIP="127.0.0.1")
    return played


def _objects(rendered: Path) -> list[Manifest]:
    return [d for d in yaml.safe_load_all(rendered.read_text(encoding="utf-8")) if d]


def _played(rendered: Path) -> Path:
    return rendered.with_name(f"{rendered.stem}.podman.yaml")


def up(rendered: Path, host_port: int, values: dict[str, str]) -> str:
    """Play `rendered` (replacing an earlier play); the serving container's name."""
    objects = _objects(rendered)
    down(rendered)
    secret = rendered.with_name(f"{rendered.stem}.secret.json")
    secret.write_text(podman_secret(values), encoding="utf-8")
    played = _played(rendered)
    played.write_text(yaml.safe_dump_all(for_podman(objects, host_port)), encoding="utf-8")
    run_command(["podman", "secret", "create", secret_name(objects), str(secret)])
    run_command(["podman", "kube", "play", str(played)])
    return f"{one(objects, 'Deployment')['metadata']['name']}-pod-0-serve"


def down(rendered: Path) -> None:
    """Remove what `up` played from `rendered`, if anything."""
    played = _played(rendered)
    if played.exists():
        run_command(["podman", "kube", "down", str(played)])
        played.unlink()
    name = secret_name(_objects(rendered))
    if name in run_command(["podman", "secret", "ls", "--format", "{{.Name}}"]).split():
        run_command(["podman", "secret", "rm", name])


def main(argv: Sequence[str] | None = None) -> int:
    """`up RENDERED PORT --secret K=V ...` or `down RENDERED`."""
    parser = argparse.ArgumentParser(prog="kube_play", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("up", "down"))
    parser.add_argument("rendered", type=Path)
    parser.add_argument("port", type=int, nargs="?")
    parser.add_argument("--secret", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    if args.action == "down":
        down(args.rendered)
        return 0
    if args.port is None:
        parser.error("up needs HOST_PORT")
    values = dict(pair.split("=", 1) for pair in args.secret)
    print(up(args.rendered, args.port, values))
    return 0


if __name__ == "__main__":
    sys.exit(main())
