"""Offline container tooling: podman as root plus a local stand-in for the Python base image.

The machines that build and test mlship reach the package registries (PyPI, Debian, npm) and
nothing else, so ``FROM python:3.11-slim-bookworm`` cannot be pulled. This module makes the
project's ``Dockerfile`` buildable and runnable here anyway, from a machine with nothing
installed by hand, without a terminal (CI=true, no stdin):

``ensure``
    1. installs podman, runc, debootstrap, the CNI plugins, iptables and catatonit with
       ``apt-get`` when one is missing (``apt-get update`` once, first);
    2. writes ``containers.conf`` (beside this file) to ``$CONTAINERS_CONF`` when that is set,
       else to ``/etc/containers/containers.conf``;
    3. unless the image already exists, builds the stand-in: ``debootstrap --variant=minbase
       bookworm`` from the Debian mirror that apt uses (read from apt's sources at run time),
       Debian's python3.11 (3.11.2) with pip/setuptools/wheel installed from Debian's bundled
       wheels into ``/usr/local`` (like the official image: no EXTERNALLY-MANAGED marker,
       ``python``/``pip`` on PATH, installs go to ``/usr/local``), ``useradd``, the host's CA
       trust store (so pip inside a build reaches PyPI through this machine's TLS-inspecting
       egress exactly as the host's pip does), then ``podman import`` tagged as
       ``docker.io/library/python:3.11-slim-bookworm``.
``build``
    ``podman build --pull=never`` of a Dockerfile: a ``FROM python:3.11-slim-bookworm`` resolves
    to the stand-in, never to the network. The Dockerfile itself stays portable: on GitHub the
    same file builds with the real image.
``status``
    prints what exists.

pip inside the image: the index is PyPI, reached over the container network (podman's default
bridge, NAT through the host) with the host's CA bundle; host proxy variables (HTTP_PROXY,
HTTPS_PROXY, NO_PROXY), if any, are passed to ``RUN`` steps by podman itself. The host's local
wheel mirrors (file:// find-links / extra-index-url) are not mounted: they only cache PyPI.

Containers run as root with the default bridge network; publish ports on loopback with
``-p 127.0.0.1:HOST_PORT:CONTAINER_PORT`` (see :func:`publish_args`); tests start one that way
with :func:`running_container`, which removes it afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import glob
import os
import re
import resource
import shutil
import socket

# subprocess is used with fixed argument lists only, never through a shell.
import subprocess  # nosec B404
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONF_TEMPLATE = HERE / "containers.conf"
SYSTEM_CONF = Path("/etc/containers/containers.conf")
LOCK_FILE = Path("/var/lock/mlship-podman-env.lock")

SUITE = "bookworm"
STANDIN_TAG = "docker.io/library/python:3.11-slim-bookworm"
STANDIN_LABEL = "org.mlship.standin"
# Debian packages on the host. Each is checked; only missing ones trigger apt-get.
HOST_PACKAGES = (
    "podman",
    "runc",
    "debootstrap",
    "containernetworking-plugins",  # bridge + portmap: loopback port publishing
    "iptables",
    "catatonit",  # `podman run --init`
)
# Debian packages added to the minbase rootfs (passwd/useradd is already in minbase).
IMAGE_PACKAGES = (
    "python3",
    "python3-venv",  # python -m venv; brings Debian's pip and setuptools wheels
    "python3-wheel-whl",
    "ca-certificates",
    "netbase",
    "tzdata",
)
IMAGE_PATH = "/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin"
APT_SOURCES = (Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d"))
DEFAULT_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
SYSTEM_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}


class PodmanEnvError(RuntimeError):
    """The container environment could not be set up; the message says why."""


def log(message: str) -> None:
    print(f"[podman_env] {message}", file=sys.stderr, flush=True)


def run(
    args: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    capture: bool = False,
    check: bool = True,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command without a shell and without stdin; raise PodmanEnvError on failure."""
    try:
        # An argument list, no shell: nothing here is interpreted by one.
        proc = subprocess.run(  # nosec B603
            list(args),
            stdin=subprocess.DEVNULL,
            capture_output=capture,
            text=True,
            env=env,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as exc:
        raise PodmanEnvError(f"command not found: {args[0]}") from exc
    if check and proc.returncode != 0:
        detail = (proc.stderr or "").strip()[-2000:] if capture else "see output above"
        raise PodmanEnvError(f"`{' '.join(args)}` exited {proc.returncode}: {detail}")
    return proc


@contextlib.contextmanager
def locked() -> Iterator[None]:
    """Serialise concurrent `ensure` runs (a make target and a test at once)."""
    LOCK_FILE.parent.mkdir(parents=True, exist_ok=True)
    with LOCK_FILE.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --------------------------------------------------------------------------- host packages


def missing_packages(packages: Sequence[str] = HOST_PACKAGES) -> list[str]:
    missing = []
    for name in packages:
        proc = run(["dpkg-query", "-W", "-f=${Status}", name], capture=True, check=False)
        if proc.returncode != 0 or not proc.stdout.endswith("installed"):
            missing.append(name)
    return missing


def install_host_packages() -> list[str]:
    missing = missing_packages()
    if not missing:
        return []
    if os.geteuid() != 0:
        raise PodmanEnvError(f"not root: cannot apt-get install {' '.join(missing)}")
    apt_env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    log(f"apt-get install {' '.join(missing)}")
    wait = ["-o", "DPkg::Lock::Timeout=600"]  # another apt-get may hold the lock
    run(["apt-get", *wait, "update", "-q"], env=apt_env)
    run(
        ["apt-get", *wait, "install", "-y", "-q", "--no-install-recommends", *missing],
        env=apt_env,
    )
    still = missing_packages()
    if still:
        raise PodmanEnvError(f"apt-get did not install: {' '.join(still)}")
    return missing


# --------------------------------------------------------------------------- containers.conf


def conf_target() -> Path:
    value = os.environ.get("CONTAINERS_CONF")
    return Path(value) if value else SYSTEM_CONF


def render_conf() -> str:
    """containers.conf with each default ulimit capped at this process's hard limit.

    Root here lacks CAP_SYS_RESOURCE, so a container cannot get more than the host's hard
    limit: podman's own default (nofile=1048576) makes runc fail with "error setting rlimit
    type 7: operation not permitted".
    """
    hard = {
        "nofile": resource.getrlimit(resource.RLIMIT_NOFILE)[1],
        "nproc": resource.getrlimit(resource.RLIMIT_NPROC)[1],
    }

    def cap(match: re.Match[str]) -> str:
        name, soft, limit = match.group(1), int(match.group(2)), int(match.group(3))
        ceiling = hard.get(name, resource.RLIM_INFINITY)
        if ceiling != resource.RLIM_INFINITY:
            soft, limit = min(soft, ceiling), min(limit, ceiling)
        return f'"{name}={soft}:{limit}"'

    text = CONF_TEMPLATE.read_text(encoding="utf-8")
    return re.sub(r'"(\w+)=(\d+):(\d+)"', cap, text)


def conf_up_to_date() -> bool:
    target = conf_target()
    return target.is_file() and target.read_text(encoding="utf-8") == render_conf()


def write_conf() -> bool:
    """Install containers.conf; return True when the file was (re)written."""
    if conf_up_to_date():
        return False
    target = conf_target()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_conf(), encoding="utf-8")
    log(f"wrote {target}")
    return True


# --------------------------------------------------------------------------- apt sources


@dataclass
class AptSource:
    uri: str
    suites: list[str]
    components: list[str]
    signed_by: str = ""
    options: dict[str, str] = field(default_factory=dict)


def _parse_deb822(text: str) -> list[AptSource]:
    sources = []
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if not line.strip() or line.lstrip().startswith("#") or ":" not in line:
                continue
            key, _, value = line.partition(":")
            fields[key.strip().lower()] = value.strip()
        if "deb" not in fields.get("types", "").split():
            continue
        if fields.get("enabled", "yes").lower() == "no":
            continue
        for uri in fields.get("uris", "").split():
            sources.append(
                AptSource(
                    uri=uri,
                    suites=fields.get("suites", "").split(),
                    components=fields.get("components", "").split(),
                    signed_by=fields.get("signed-by", ""),
                )
            )
    return sources


def _parse_one_line(text: str) -> list[AptSource]:
    sources = []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) < 3 or words[0] != "deb":
            continue
        words = words[1:]
        options: dict[str, str] = {}
        if words[0].startswith("["):
            opts = []
            while words:
                word = words.pop(0)
                opts.append(word.strip("[]"))
                if word.endswith("]"):
                    break
            options = dict(o.split("=", 1) for o in opts if "=" in o)
        if len(words) < 2:
            continue
        sources.append(
            AptSource(
                uri=words[0],
                suites=[words[1]],
                components=words[2:],
                signed_by=options.get("signed-by", ""),
                options=options,
            )
        )
    return sources


def apt_sources() -> list[AptSource]:
    """Every enabled `deb` source apt uses on this host."""
    files: list[Path] = []
    for entry in APT_SOURCES:
        if entry.is_file():
            files.append(entry)
        elif entry.is_dir():
            files.extend(sorted(entry.glob("*.list")) + sorted(entry.glob("*.sources")))
    found: list[AptSource] = []
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        found.extend(_parse_deb822(text) if path.suffix == ".sources" else _parse_one_line(text))
    return found


def debian_sources(suite: str = SUITE) -> list[AptSource]:
    """The host's sources for `suite` and its -updates/-security suites."""
    keep = []
    for source in apt_sources():
        suites = [s for s in source.suites if s == suite or s.startswith(f"{suite}-")]
        if suites:
            keep.append(AptSource(source.uri, suites, source.components, source.signed_by))
    return keep


def debian_mirror(suite: str = SUITE) -> AptSource:
    for source in debian_sources(suite):
        if suite in source.suites and "main" in source.components:
            return source
    raise PodmanEnvError(
        f"no apt source for Debian {suite} main in /etc/apt/sources.list(.d): "
        "debootstrap needs the mirror apt uses"
    )


def image_sources_text(sources: Sequence[AptSource], rootfs: Path) -> str:
    stanzas = []
    for source in sources:
        lines = [
            "Types: deb",
            f"URIs: {source.uri}",
            f"Suites: {' '.join(source.suites)}",
            f"Components: {' '.join(source.components) or 'main'}",
        ]
        if source.signed_by and (rootfs / source.signed_by.lstrip("/")).is_file():
            lines.append(f"Signed-By: {source.signed_by}")
        stanzas.append("\n".join(lines))
    return "\n\n".join(stanzas) + "\n"


# --------------------------------------------------------------------------- the base image


def podman(
    *args: str, capture: bool = False, check: bool = True, timeout: float | None = None
) -> subprocess.CompletedProcess[str]:
    return run(["podman", *args], capture=capture, check=check, timeout=timeout)


def image_exists(tag: str = STANDIN_TAG) -> bool:
    if shutil.which("podman") is None:
        return False
    return podman("image", "exists", tag, check=False).returncode == 0


def image_id(tag: str = STANDIN_TAG) -> str:
    if not image_exists(tag):
        return ""
    return podman("image", "inspect", "--format", "{{.Id}}", tag, capture=True).stdout.strip()


def _pem_blocks(text: str) -> list[str]:
    blocks, current = [], []
    for line in text.splitlines():
        if line.startswith("-----BEGIN CERTIFICATE-----"):
            current = [line]
        elif current:
            current.append(line)
            if line.startswith("-----END CERTIFICATE-----"):
                blocks.append("\n".join(current) + "\n")
                current = []
    return blocks


def copy_trust_store(rootfs: Path) -> int:
    """Give the image the host's CA trust; return the number of certificates added."""
    local = Path("/usr/local/share/ca-certificates")
    if local.is_dir():
        shutil.copytree(local, rootfs / local.relative_to("/"), dirs_exist_ok=True)
        chroot(rootfs, "update-ca-certificates", capture=True)
    host_bundle = Path("/etc/ssl/certs/ca-certificates.crt")
    if not host_bundle.is_file():
        return 0
    image_bundle = rootfs / "etc/ssl/certs/ca-certificates.crt"
    have = set(_pem_blocks(image_bundle.read_text(encoding="utf-8")))
    extra = [b for b in _pem_blocks(host_bundle.read_text(encoding="utf-8")) if b not in have]
    if extra:
        with image_bundle.open("a", encoding="utf-8") as handle:
            handle.writelines(extra)
    return len(extra)


def chroot(rootfs: Path, *args: str, capture: bool = False) -> subprocess.CompletedProcess[str]:
    env = {**SYSTEM_ENV, "LANG": "C.UTF-8", "HOME": "/root"}
    return run(["chroot", str(rootfs), *args], env=env, capture=capture)


def make_rootfs(rootfs: Path) -> str:
    """debootstrap + Python setup in `rootfs`; return the Python version installed."""
    mirror = debian_mirror()
    keyring = mirror.signed_by if Path(mirror.signed_by or "/nonexistent").is_file() else ""
    keyring = keyring or (DEFAULT_KEYRING if Path(DEFAULT_KEYRING).is_file() else "")
    cmd = ["debootstrap", "--variant=minbase", f"--include={','.join(IMAGE_PACKAGES)}"]
    if keyring:
        cmd.append(f"--keyring={keyring}")
    log(f"debootstrap {SUITE} from the host's apt mirror")
    try:
        run([*cmd, SUITE, str(rootfs), mirror.uri], capture=True)
    except PodmanEnvError as exc:
        detail = rootfs / "debootstrap" / "debootstrap.log"
        tail = detail.read_text(errors="replace")[-2000:] if detail.is_file() else ""
        raise PodmanEnvError(f"{exc}\n{tail}") from exc

    added = copy_trust_store(rootfs)
    log(f"CA trust store copied ({added} host-only certificates added)")

    # Like the official image: pip, setuptools and wheel in /usr/local, no PEP 668 marker.
    for marker in rootfs.glob("usr/lib/python3*/EXTERNALLY-MANAGED"):
        marker.unlink()
    wheels = sorted(
        "/" + str(p.relative_to(rootfs)) for p in (rootfs / "usr/share/python-wheels").glob("*.whl")
    )
    pip_wheel = [w for w in wheels if Path(w).name.startswith("pip-")]
    if not pip_wheel:
        raise PodmanEnvError("Debian's pip wheel is missing from the rootfs")
    chroot(
        rootfs,
        "python3",
        f"{pip_wheel[0]}/pip",
        "install",
        "--no-index",
        "--no-cache-dir",
        "--disable-pip-version-check",
        "--root-user-action=ignore",
        *wheels,
        capture=True,
    )
    for name in ("python", "python3"):
        link = rootfs / "usr/local/bin" / name
        if not link.exists():
            link.symlink_to("/usr/bin/python3")
    version = chroot(
        rootfs, "python3", "-c", "import platform; print(platform.python_version())", capture=True
    ).stdout.strip()

    # apt inside the image uses the same mirrors as the host's apt.
    (rootfs / "etc/apt/sources.list").unlink(missing_ok=True)
    (rootfs / "etc/apt/sources.list.d/debian.sources").write_text(
        image_sources_text(debian_sources(), rootfs), encoding="utf-8"
    )
    for pattern in ("var/cache/apt/archives/*.deb", "var/lib/apt/lists/*_*", "root/.cache"):
        for path in glob.glob(str(rootfs / pattern)):
            if os.path.isdir(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
    return version


def build_standin(tag: str = STANDIN_TAG) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="mlship-rootfs-"))
    try:
        rootfs = workdir / "rootfs"
        version = make_rootfs(rootfs)
        tarball = workdir / "rootfs.tar"
        run(["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(tarball), "."])
        changes = [
            f"ENV PATH={IMAGE_PATH}",
            "ENV LANG=C.UTF-8",
            f"ENV PYTHON_VERSION={version}",
            f"LABEL {STANDIN_LABEL}=debootstrap-{SUITE}-python{version}",
            'CMD ["python3"]',
        ]
        args = ["import", "--quiet", "--message", "mlship offline stand-in for python:3.11-slim"]
        for change in changes:
            args += ["--change", change]
        podman(*args, str(tarball), tag, capture=True)
        log(f"imported {tag} (Debian {SUITE}, Python {version})")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# --------------------------------------------------------------------------- entry points


@dataclass
class EnsureReport:
    installed: list[str]
    conf_written: bool
    image_built: bool
    seconds: float


def ensure(rebuild: bool = False) -> EnsureReport:
    """Make podman usable as root and the stand-in base image present. Idempotent."""
    start = time.monotonic()
    if os.geteuid() != 0:
        raise PodmanEnvError("podman_env needs root (rootful podman, apt-get, debootstrap)")
    with locked():
        installed = install_host_packages()
        conf_written = write_conf()
        built = False
        if rebuild or not image_exists():
            old = image_id() if rebuild else ""
            build_standin()
            built = True
            if old and old != image_id():
                podman("rmi", old, capture=True, check=False)  # kept while images use it
    return EnsureReport(installed, conf_written, built, time.monotonic() - start)


def build_args(
    tag: str, context: str | os.PathLike[str], dockerfile: str | os.PathLike[str] | None = None
) -> list[str]:
    """`podman build` arguments that never pull: FROM resolves to local images only."""
    context = Path(context)
    dockerfile = Path(dockerfile) if dockerfile else context / "Dockerfile"
    return [
        "podman",
        "build",
        "--pull=never",
        "--format=docker",
        "-t",
        tag,
        "-f",
        str(dockerfile),
        str(context),
    ]


def publish_args(host_port: int, container_port: int = 8000) -> list[str]:
    """`podman run` flags publishing a container port on the host's loopback only."""
    return ["-p", f"127.0.0.1:{host_port}:{container_port}"]


def build(
    tag: str,
    context: str | os.PathLike[str],
    dockerfile: str | os.PathLike[str] | None = None,
    extra: Sequence[str] = (),
    timeout: float | None = None,
) -> None:
    ensure()
    cmd = build_args(tag, context, dockerfile)
    run([*cmd[:-1], *extra, cmd[-1]], timeout=timeout)


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running_container(
    image: str, *command: str, prefix: str, port: int = 8000
) -> Iterator[tuple[str, str]]:
    """Run `image` in the background with `port` on a free loopback port; remove it on exit.

    Yields the container's name and the base URL that reaches its port.
    """
    host_port = free_port()
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    start = ["run", "-d", "--init", "--name", name, *publish_args(host_port, port)]
    podman(*start, image, *command, capture=True, timeout=120)
    try:
        yield name, f"http://127.0.0.1:{host_port}"
    finally:
        podman("rm", "-f", "-t", "2", name, capture=True, check=False, timeout=60)


def status() -> int:
    """Print what exists; exit 0 when everything is ready."""
    ready = True
    missing = missing_packages()
    print(f"host packages: {'all installed' if not missing else 'missing ' + ' '.join(missing)}")
    ready &= not missing
    target = conf_target()
    same = conf_up_to_date()
    print(f"containers.conf: {target} ({'up to date' if same else 'missing or different'})")
    ready &= same
    if shutil.which("podman"):
        print("podman: " + podman("--version", capture=True).stdout.strip())
        if image_exists():
            fmt = "{{.Id}} {{.Created}} {{.Size}} " + f"{{{{index .Labels {STANDIN_LABEL!r}}}}}"
            fmt = fmt.replace("'", '"')
            info = podman("image", "inspect", "--format", fmt, STANDIN_TAG, capture=True)
            print(f"image {STANDIN_TAG}: {info.stdout.strip()}")
        else:
            print(f"image {STANDIN_TAG}: absent")
            ready = False
    try:
        print(f"debian mirror (from apt sources): {debian_mirror().uri}")
    except PodmanEnvError as exc:
        print(f"debian mirror: {exc}")
        ready = False
    print("ready" if ready else "not ready: run `python tests/container/podman_env.py ensure`")
    return 0 if ready else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="podman_env.py", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_ensure = sub.add_parser("ensure", help="install podman, write containers.conf, make image")
    p_ensure.add_argument("--rebuild", action="store_true", help="rebuild the stand-in image")
    sub.add_parser("status", help="print what exists (exit 1 when not ready)")
    p_build = sub.add_parser("build", help="podman build --pull=never (runs ensure first)")
    p_build.add_argument("-t", "--tag", required=True)
    p_build.add_argument(
        "-f", "--file", default=None, help="Dockerfile (default CONTEXT/Dockerfile)"
    )
    p_build.add_argument("--build-arg", action="append", default=[], metavar="KEY=VALUE")
    p_build.add_argument("context", nargs="?", default=".")
    args = parser.parse_args(argv)
    try:
        if args.command == "status":
            return status()
        if args.command == "ensure":
            report = ensure(rebuild=args.rebuild)
            log(
                f"ready in {report.seconds:.1f}s (installed: {' '.join(report.installed) or '-'};"
                f" conf written: {report.conf_written}; image built: {report.image_built})"
            )
            return 0
        extra = [f"--build-arg={value}" for value in args.build_arg]
        build(args.tag, args.context, args.file, extra)
        return 0
    except PodmanEnvError as exc:
        log(f"error: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
