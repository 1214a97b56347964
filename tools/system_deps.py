"""Install what the system test tier needs; run with privileges by `make system-deps`.

The tests never install anything (a GitHub-hosted runner's user is not root): they detect what
is there and fail naming `make system-deps` when something is missing. This script, run as root
(`.ci/run` here; the Makefile adds `sudo` for an ordinary user), sets up:

container engine
    docker when its daemon answers (GitHub's hosted runners): nothing to do, the image build
    pulls the real ``python:3.11-slim-bookworm``. Otherwise (these offline machines: no Docker
    Hub, a docker client but no daemon), or with ``MLSHIP_CONTAINER=podman``: Debian's podman,
    runc, debootstrap, CNI plugins, iptables and catatonit from apt; ``containers.conf``
    (beside this file) written to ``$CONTAINERS_CONF`` when set, else
    /etc/containers/containers.conf; and, unless present, a stand-in for the base image:
    ``debootstrap --variant=minbase bookworm`` from the mirror apt uses (read from apt's
    sources at run time), Debian's python3.11 with pip/setuptools/wheel in ``/usr/local`` (as in
    the official image: no EXTERNALLY-MANAGED marker, ``python``/``pip`` on PATH), the host's CA
    trust store (so pip in a build reaches PyPI through this machine's TLS-inspecting egress),
    ``podman import``-ed as ``docker.io/library/python:3.11-slim-bookworm`` with the label
    ``org.mlship.standin``. The stand-in is refused on GitHub (``GITHUB_ACTIONS=true``).
PostgreSQL
    nothing when ``MLSHIP_POSTGRES_URL`` names a server (GitHub: the ``services: postgres``
    container); otherwise Debian's ``postgresql`` server binaries, from which the registry test
    starts a throwaway cluster of its own on loopback.

``status`` prints what exists and exits 1 when something is missing. Stdlib only: it runs with
the system's python3, before (and without) the project's virtualenv.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import fnmatch
import glob
import os
import re
import resource
import shutil

# subprocess is used with fixed argument lists only, never through a shell.
import subprocess  # nosec B404
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONF_TEMPLATE = HERE / "containers.conf"
SYSTEM_CONF = Path("/etc/containers/containers.conf")
LOCK_FILE = Path("/var/lock/mlship-system-deps.lock")
MAKE_TARGET = "make system-deps"

SUITE = "bookworm"
STANDIN_TAG = "docker.io/library/python:3.11-slim-bookworm"
STANDIN_LABEL = "org.mlship.standin"
# Bumped when the recipe changes, so that `ensure` rebuilds a stand-in made by an older one.
STANDIN_RECIPE = "slim-3"
RECIPE_LABEL = f"{STANDIN_LABEL}.recipe"
# Debian packages on the host for the podman stand-in. Only missing ones trigger apt-get.
PODMAN_PACKAGES = (
    "podman",
    "runc",
    "debootstrap",
    "containernetworking-plugins",  # bridge + portmap: loopback port publishing
    "iptables",
    "catatonit",  # `podman run --init`
)
POSTGRES_PACKAGES = ("postgresql",)
POSTGRES_BINARIES = ("initdb", "pg_ctl")
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
# What debian:bookworm-slim, the official image's base, leaves out (debuerreotype's slimify:
# .slimify-excludes and .slimify-includes), as files now and as dpkg path filters for whatever
# a build installs later.
SLIM_EXCLUDES = (
    "/usr/share/doc/*",
    "/usr/share/groff/*",
    "/usr/share/info/*",
    "/usr/share/linda/*",
    "/usr/share/lintian/overrides/*",
    "/usr/share/locale/*",
    "/usr/share/man/*",
)
SLIM_INCLUDES = (
    "/usr/share/doc/*/copyright",
    "/usr/share/locale/all_languages",
    "/usr/share/locale/currency/*",
    "/usr/share/locale/l10n/*",
    "/usr/share/locale/languages",
    "/usr/share/locale/locale.alias",
)
# debuerreotype's apt settings in the Debian images: apt keeps no package caches and no
# translations, and `apt-get update` keeps its lists compressed.
APT_CLEAN = (
    '"rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb'
    ' /var/cache/apt/*.bin || true";'
)
APT_CONF = {
    "docker-clean": (
        f"DPkg::Post-Invoke {{ {APT_CLEAN} }};\nAPT::Update::Post-Invoke {{ {APT_CLEAN} }};\n"
        'Dir::Cache::pkgcache "";\nDir::Cache::srcpkgcache "";\n'
    ),
    "docker-autoremove-suggests": 'Apt::AutoRemove::SuggestsImportant "false";\n',
    "docker-gzip-indexes": 'Acquire::GzipIndexes "true";\n',
    "docker-no-languages": 'Acquire::Languages "none";\n',
}
# The official image's Python ships no bytecode and no test suites of the standard library (its
# Dockerfile deletes `test`, `tests`, `idle_test` and every *.pyc under /usr/local, then installs
# setuptools with --no-compile: setuptools keeps the tests its wheel ships).
PYTHON_TREES = ("usr/lib/python3*", "usr/local/lib/python3*")
PYTHON_TEST_DIRS = ("test", "tests", "idle_test")
PACKAGE_DIRS = ("site-packages", "dist-packages")
APT_SOURCES = (Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d"))
DEFAULT_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
SYSTEM_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}


class SystemDepsError(RuntimeError):
    """What the system tier needs could not be set up; the message says why."""


def log(message: str) -> None:
    """One line on stderr, prefixed with this tool's name."""
    print(f"[system-deps] {message}", file=sys.stderr, flush=True)


def run(
    args: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    capture: bool = False,
    check: bool = True,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command without a shell and without stdin; raise SystemDepsError on failure."""
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
        raise SystemDepsError(f"command not found: {args[0]}") from exc
    if check and proc.returncode != 0:
        detail = (proc.stderr or "").strip()[-2000:] if capture else "see output above"
        raise SystemDepsError(f"`{' '.join(args)}` exited {proc.returncode}: {detail}")
    return proc


@contextlib.contextmanager
def locked() -> Iterator[None]:
    """Serialise concurrent `ensure` runs (two checkouts on one machine)."""
    LOCK_FILE.parent.mkdir(parents=True, exist_ok=True)
    with LOCK_FILE.open("w", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --------------------------------------------------------------------------- host packages


def missing_packages(packages: Sequence[str]) -> list[str]:
    """The Debian packages of `packages` that dpkg does not list as installed."""
    missing = []
    for name in packages:
        proc = run(["dpkg-query", "-W", "-f=${Status}", name], capture=True, check=False)
        if proc.returncode != 0 or not proc.stdout.endswith("installed"):
            missing.append(name)
    return missing


def apt_install(packages: Sequence[str]) -> list[str]:
    """apt-get install the missing ones of `packages`; return those it installed."""
    missing = missing_packages(packages)
    if not missing:
        return []
    if os.geteuid() != 0:
        raise SystemDepsError(f"not root: cannot apt-get install {' '.join(missing)}")
    apt_env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    log(f"apt-get install {' '.join(missing)}")
    wait = ["-o", "DPkg::Lock::Timeout=600"]  # another apt-get may hold the lock
    run(["apt-get", *wait, "update", "-q"], env=apt_env)
    run(
        ["apt-get", *wait, "install", "-y", "-q", "--no-install-recommends", *missing],
        env=apt_env,
    )
    still = missing_packages(packages)
    if still:
        raise SystemDepsError(f"apt-get did not install: {' '.join(still)}")
    return missing


# --------------------------------------------------------------------------- containers.conf


def conf_target() -> Path:
    """Where podman reads containers.conf from: $CONTAINERS_CONF, else /etc/containers."""
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
    """Whether the installed containers.conf is the rendered template."""
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
    """One `deb` source of apt's configuration."""

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
    """The host's source for `suite` main: the mirror debootstrap uses."""
    for source in debian_sources(suite):
        if suite in source.suites and "main" in source.components:
            return source
    raise SystemDepsError(
        f"no apt source for Debian {suite} main in /etc/apt/sources.list(.d): "
        "debootstrap needs the mirror apt uses"
    )


def image_sources_text(sources: Sequence[AptSource], rootfs: Path) -> str:
    """deb822 sources for the image: the host's mirrors, keyrings that exist in `rootfs`."""
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
    *args: str, capture: bool = False, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run podman with `args`."""
    return run(["podman", *args], capture=capture, check=check)


def image_exists(tag: str = STANDIN_TAG) -> bool:
    """Whether podman has an image `tag`."""
    if shutil.which("podman") is None:
        return False
    return podman("image", "exists", tag, check=False).returncode == 0


def image_current(tag: str = STANDIN_TAG) -> bool:
    """Whether podman's image `tag` exists and was built by this recipe."""
    if not image_exists(tag):
        return False
    fmt = f'{{{{ index .Labels "{RECIPE_LABEL}" }}}}'
    label = podman("image", "inspect", "--format", fmt, tag, capture=True).stdout.strip()
    return label == STANDIN_RECIPE


def image_id(tag: str = STANDIN_TAG) -> str:
    """The ID of podman's image `tag`, or "" when there is none."""
    if not image_exists(tag):
        return ""
    return podman("image", "inspect", "--format", "{{.Id}}", tag, capture=True).stdout.strip()


def _pem_blocks(text: str) -> list[str]:
    """The PEM certificates in `text`, each with its BEGIN/END lines."""
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
    """Run `args` inside `rootfs` with a clean system environment."""
    env = {**SYSTEM_ENV, "LANG": "C.UTF-8", "HOME": "/root"}
    return run(["chroot", str(rootfs), *args], env=env, capture=capture)


def slimify(rootfs: Path) -> None:
    """Leave out what debian:bookworm-slim leaves out, now and from later package installs."""
    cfg = [f"path-exclude {p}" for p in SLIM_EXCLUDES] + [
        f"path-include {p}" for p in SLIM_INCLUDES
    ]
    (rootfs / "etc/dpkg/dpkg.cfg.d/docker").write_text("\n".join(cfg) + "\n", encoding="utf-8")
    for name, text in APT_CONF.items():
        (rootfs / "etc/apt/apt.conf.d" / name).write_text(text, encoding="utf-8")
    for pattern in SLIM_EXCLUDES:
        for top in glob.glob(str(rootfs / pattern.lstrip("/"))):
            # A symlink (Debian links some packages' doc directories to another's) is one path.
            single = os.path.islink(top) or not os.path.isdir(top)
            paths = [Path(top)] if single else []
            for parent, _, files in [] if single else os.walk(top):
                paths += [Path(parent, f) for f in files]
            for path in paths:
                inside = "/" + str(path.relative_to(rootfs))
                if not any(fnmatch.fnmatchcase(inside, keep) for keep in SLIM_INCLUDES):
                    path.unlink()
            for parent, _, _ in [] if single else sorted(os.walk(top), reverse=True):
                if os.path.isdir(parent) and not os.listdir(parent):
                    os.rmdir(parent)


def strip_python(rootfs: Path) -> None:
    """Delete the interpreter's bytecode and its standard library's test suites, as the
    official image does (installed packages keep theirs)."""
    for tree in PYTHON_TREES:
        for top in glob.glob(str(rootfs / tree)):
            for parent, dirs, files in os.walk(top):
                in_package = any(part in PACKAGE_DIRS for part in Path(parent).parts)
                tests = () if in_package else PYTHON_TEST_DIRS
                for name in [d for d in dirs if d in tests or d == "__pycache__"]:
                    shutil.rmtree(Path(parent, name))
                    dirs.remove(name)
                for name in files:
                    if name.endswith((".pyc", ".pyo")):
                        Path(parent, name).unlink()


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
    except SystemDepsError as exc:
        detail = rootfs / "debootstrap" / "debootstrap.log"
        tail = detail.read_text(errors="replace")[-2000:] if detail.is_file() else ""
        raise SystemDepsError(f"{exc}\n{tail}") from exc

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
        raise SystemDepsError("Debian's pip wheel is missing from the rootfs")
    chroot(
        rootfs,
        "python3",
        f"{pip_wheel[0]}/pip",
        "install",
        "--no-index",
        "--no-cache-dir",
        "--disable-pip-version-check",
        "--root-user-action=ignore",
        "--no-compile",
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
    slimify(rootfs)
    strip_python(rootfs)
    for pattern in (
        "var/cache/apt/archives/*.deb",
        "var/cache/apt/*.bin",
        "var/lib/apt/lists/*_*",
        "root/.cache",
    ):
        for path in glob.glob(str(rootfs / pattern)):
            if os.path.isdir(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
    return version


def build_standin(tag: str = STANDIN_TAG) -> None:
    """Make the rootfs and `podman import` it as `tag`, labelled as the stand-in."""
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
            f"LABEL {RECIPE_LABEL}={STANDIN_RECIPE}",
            'CMD ["python3"]',
        ]
        args = ["import", "--quiet", "--message", "mlship offline stand-in for python:3.11-slim"]
        for change in changes:
            args += ["--change", change]
        podman(*args, str(tarball), tag, capture=True)
        log(f"imported {tag} (Debian {SUITE}, Python {version})")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# --------------------------------------------------------------------------- what to set up


def docker_answers() -> bool:
    """Whether a docker daemon answers (a docker client alone, as here, is not enough)."""
    if shutil.which("docker") is None:
        return False
    return run(["docker", "info"], capture=True, check=False, timeout=60).returncode == 0


def container_engine() -> str:
    """docker or podman: MLSHIP_CONTAINER when set, else docker where its daemon answers.

    podman means the stand-in base image, which is refused on GitHub: its hosted runners run
    docker and pull the real one.
    """
    chosen = os.environ.get("MLSHIP_CONTAINER", "")
    if chosen not in ("", "docker", "podman"):
        raise SystemDepsError(f"MLSHIP_CONTAINER must be docker or podman, not {chosen!r}")
    engine = chosen or ("docker" if docker_answers() else "podman")
    if engine == "podman" and os.environ.get("GITHUB_ACTIONS") == "true":
        why = "MLSHIP_CONTAINER=podman" if chosen else "docker's daemon does not answer"
        raise SystemDepsError(
            f"{why} on GitHub: the system tier there uses docker and the real "
            "python:3.11-slim-bookworm, never the podman stand-in"
        )
    return engine


def podman_missing() -> list[str]:
    """What the podman stand-in set-up lacks (packages, containers.conf, the base image)."""
    missing = missing_packages(PODMAN_PACKAGES)
    if not conf_up_to_date():
        missing.append(f"{conf_target()} (from {CONF_TEMPLATE.name})")
    if not image_current():
        missing.append(f"the stand-in image {STANDIN_TAG} (recipe {STANDIN_RECIPE})")
    return missing


def postgres_bin(name: str) -> str | None:
    """A PostgreSQL server program: on PATH, else in Debian's newest /usr/lib/postgresql/N/bin."""
    found = shutil.which(name)
    if found:
        return found
    versions = Path("/usr/lib/postgresql").glob("*/bin")
    for directory in sorted(versions, key=lambda d: int(d.parent.name), reverse=True):
        if (directory / name).is_file():
            return str(directory / name)
    return None


def postgres_missing() -> list[str]:
    """The server programs the registry test needs and cannot find."""
    return [name for name in POSTGRES_BINARIES if postgres_bin(name) is None]


# --------------------------------------------------------------------------- entry points


def setup_podman(rebuild: bool) -> str:
    """Install podman, write containers.conf, build the stand-in base image. Idempotent."""
    if os.geteuid() != 0:
        raise SystemDepsError(f"the podman stand-in is rootful: run `{MAKE_TARGET}` as root")
    with locked():
        installed = apt_install(PODMAN_PACKAGES)
        conf_written = write_conf()
        built = rebuild or not image_current()
        if built:
            old = image_id()
            build_standin()
            if old and old != image_id():
                podman("rmi", old, capture=True, check=False)  # kept while images use it
    return (
        f"container engine: podman, base image {STANDIN_TAG} is the local stand-in"
        f" (installed: {' '.join(installed) or '-'}; containers.conf written: {conf_written};"
        f" image built: {built})"
    )


def setup_postgres() -> str:
    """Install Debian's PostgreSQL server unless MLSHIP_POSTGRES_URL names a server."""
    if os.environ.get("MLSHIP_POSTGRES_URL"):
        return "PostgreSQL: the server MLSHIP_POSTGRES_URL names (nothing to install)"
    installed = apt_install(POSTGRES_PACKAGES) if postgres_missing() else []
    missing = postgres_missing()
    if missing:
        raise SystemDepsError(f"PostgreSQL installed but {' '.join(missing)} not found")
    return (
        f"PostgreSQL: server programs in {Path(str(postgres_bin('initdb'))).parent}"
        f" (installed: {' '.join(installed) or '-'})"
    )


def ensure(rebuild: bool = False) -> list[str]:
    """Set up the container engine and PostgreSQL for the system tier; one line for each."""
    if container_engine() == "docker":
        engine = "container engine: docker, its daemon answers; builds pull the real base image"
    else:
        engine = setup_podman(rebuild)
    return [engine, setup_postgres()]


def status() -> int:
    """Print what the system tier would use and what is missing; 0 when nothing is."""
    engine = container_engine()
    missing = podman_missing() if engine == "podman" else []
    print(f"container engine: {engine}" + (f", missing: {'; '.join(missing)}" if missing else ""))
    if os.environ.get("MLSHIP_POSTGRES_URL"):
        print("PostgreSQL: the server MLSHIP_POSTGRES_URL names")
    else:
        lacking = postgres_missing()
        missing += lacking
        print(
            "PostgreSQL: "
            + (f"missing {' '.join(lacking)}" if lacking else "server programs found")
        )
    print(f"not ready: run `{MAKE_TARGET}`" if missing else "ready")
    return 1 if missing else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run `ensure` or `status`; exit 1 with one line on error."""
    parser = argparse.ArgumentParser(
        prog="system_deps.py", description=(__doc__ or "").split("\n", maxsplit=1)[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_ensure = sub.add_parser("ensure", help="install what is missing (as root)")
    p_ensure.add_argument("--rebuild", action="store_true", help="rebuild the stand-in image")
    sub.add_parser("status", help="print what exists (exit 1 when something is missing)")
    args = parser.parse_args(argv)
    try:
        if args.command == "status":
            return status()
        start = time.monotonic()
        for line in ensure(rebuild=args.rebuild):
            log(line)
        log(f"ready in {time.monotonic() - start:.1f}s")
        return 0
    except SystemDepsError as exc:
        log(f"error: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
